"""The gazetteer of lenders, regulators and government bodies (``seeds/gazetteer.jsonl``).

Pure data handling: reading, validating and turning entries into match
patterns. The spaCy component that uses the patterns lives in ``nlp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import ConfigError
from .jsonl import iter_jsonl
from .settings import GAZETTEER_PATH

ENTITY_TYPES = ("LENDER", "REGULATOR", "GOVERNMENT")
_NAME_FIELDS_EN = ("name", "aliases", "abbreviations", "former_names", "products")
_NAME_FIELDS_ZH = ("name_zh", "aliases_zh", "products_zh")


@dataclass(frozen=True)
class Pattern:
    """One surface form of an entity; ``exact`` forms match case-sensitively."""

    text: str
    label: str
    id: str
    language: str  # "en" or "zh"
    exact: bool


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [v for v in value if v]


@lru_cache(maxsize=4)
def load_entities(path: str | Path = GAZETTEER_PATH) -> tuple[dict, ...]:
    """Read and validate the gazetteer; raise ConfigError naming the bad line."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"gazetteer not found: {path}")
    entries: list[dict] = []
    seen: set[str] = set()
    for lineno, entry in iter_jsonl(path, error=ConfigError):
        for key in ("id", "type", "name"):
            if not entry.get(key):
                raise ConfigError(f"{path}:{lineno}: entry has no '{key}'")
        if entry["type"] not in ENTITY_TYPES:
            raise ConfigError(f"{path}:{lineno}: type must be one of {', '.join(ENTITY_TYPES)}, not {entry['type']!r}")
        if entry["id"] in seen:
            raise ConfigError(f"{path}:{lineno}: duplicate id {entry['id']!r}")
        seen.add(entry["id"])
        entries.append(entry)
    return tuple(entries)


def _is_exact(form: str, entry: dict) -> bool:
    # Acronyms, short names and listed ambiguous words only match as written,
    # so "ant" in prose or "Cac" in a name never fire.
    return form in _as_list(entry.get("ambiguous")) or len(form) <= 4 or form.isupper()


def patterns(entries: tuple[dict, ...]) -> list[Pattern]:
    """Every surface form of every entry, longest first; ids and labels attached."""
    out: dict[tuple[str, str], Pattern] = {}
    for entry in entries:
        for field in _NAME_FIELDS_EN:
            for form in _as_list(entry.get(field)):
                form = form.strip()
                out.setdefault((form, "en"), Pattern(form, entry["type"], entry["id"], "en", _is_exact(form, entry)))
        for field in _NAME_FIELDS_ZH:
            for form in _as_list(entry.get(field)):
                form = form.strip()
                out.setdefault((form, "zh"), Pattern(form, entry["type"], entry["id"], "zh", True))
    return sorted(out.values(), key=lambda p: -len(p.text))
