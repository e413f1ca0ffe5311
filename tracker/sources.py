"""The sources file (``seeds/sources.toml``): what to fetch and how politely.

Loaded with the standard library's ``tomllib`` and validated completely before
anything is fetched; the first problem becomes a one-line :class:`ConfigError`
that names the file and the entry, e.g.
``seeds/sources.toml: source #3 (id "x"): kind must be "feed" or "listing"``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import __version__
from .canonical import is_http_url
from .errors import ConfigError
from .feeds import check_selector

KINDS = ("feed", "listing")
LANGUAGES = ("en", "zh")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class FetchSettings:
    """Every download limit in one place; the ``[fetch]`` table overrides any of them."""

    # Operators add a contact (URL or e-mail) in sources.toml so site owners can reach them.
    user_agent: str = f"tracker/{__version__} (policy research crawler)"
    timeout: float = 20.0  # seconds for one request, from connect to the last body byte
    connect_timeout: float = 10.0  # seconds to open the connection
    read_timeout: float = 20.0  # seconds of silence while waiting for bytes
    max_bytes: int = 10_000_000  # larger bodies are cut off and recorded as errors
    max_redirects: int = 5
    per_host_delay: float = 1.0  # seconds between the end of one request and the next to that host
    concurrency: int = 8  # requests in flight across hosts
    retries: int = 3  # further attempts after a connection error, 408, 429 or 5xx (a timeout: one)
    backoff: float = 1.0  # first retry wait in seconds; doubles each attempt
    max_retry_wait: float = 60.0  # cap on any wait, including a server's Retry-After
    robots: bool = True  # honour robots.txt


@dataclass(frozen=True)
class Source:
    id: str
    name: str
    kind: str  # feed or listing
    url: str
    language: str  # en or zh
    links: str | None = None  # listing only: CSS selector for article links
    next: str | None = None  # listing only: CSS selector for the "next page" link
    enabled: bool = True

    def as_row(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "url": self.url, "language": self.language}


@dataclass(frozen=True)
class SourcesFile:
    path: str
    fetch: FetchSettings
    sources: list[Source] = field(default_factory=list)

    def select(self, ids: list[str] | tuple[str, ...] = ()) -> list[Source]:
        """The enabled sources, or exactly those named (even disabled ones); unknown ids are errors."""
        if not ids:
            return [s for s in self.sources if s.enabled]
        known = {s.id: s for s in self.sources}
        missing = [i for i in ids if i not in known]
        if missing:
            raise ConfigError(f"{self.path}: no source with id {', '.join(repr(m) for m in missing)}")
        return [known[i] for i in dict.fromkeys(ids)]


_NUMBERS = {
    "timeout": (float, 0.001),
    "connect_timeout": (float, 0.001),
    "read_timeout": (float, 0.001),
    "max_bytes": (int, 1),
    "max_redirects": (int, 0),
    "per_host_delay": (float, 0.0),
    "concurrency": (int, 1),
    "retries": (int, 0),
    "backoff": (float, 0.0),
    "max_retry_wait": (float, 0.0),
}


def _fetch_settings(table: Any, where: str) -> FetchSettings:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [fetch] must be a table")
    allowed = {f.name for f in fields(FetchSettings)}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: [fetch]: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key == "user_agent":
            if not isinstance(value, str) or not value.strip() or "\n" in value:
                raise ConfigError(f"{where}: [fetch]: user_agent must be a one-line string")
            values[key] = value.strip()
        elif key == "robots":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: [fetch]: robots must be true or false")
            values[key] = value
        else:
            kind, low = _NUMBERS[key]
            ok = isinstance(value, int) if kind is int else isinstance(value, (int, float))
            if not ok or isinstance(value, bool) or value < low:
                what = "a whole number" if kind is int else "a number"
                raise ConfigError(f"{where}: [fetch]: {key} must be {what} >= {low:g}, not {value!r}")
            values[key] = kind(value)
    # A read timeout longer than the whole request's budget would never fire.
    if "read_timeout" not in values and "timeout" in values:
        values["read_timeout"] = values["timeout"]
    return FetchSettings(**values)


def _source(entry: Any, number: int, where: str) -> Source:
    label = f"{where}: source #{number}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{label}: must be a table ([[source]])")
    if isinstance(entry.get("id"), str):
        label += f' (id "{entry["id"]}")'
    allowed = {f.name for f in fields(Source)}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ConfigError(f"{label}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
    for key in ("id", "name", "kind", "url", "language"):
        if key not in entry:
            raise ConfigError(f"{label}: {key} is missing")
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise ConfigError(f"{label}: {key} must be a non-empty string")
    if not _SLUG.match(entry["id"]):
        raise ConfigError(f"{label}: id must be a slug of lower-case letters, digits and hyphens")
    if entry["kind"] not in KINDS:
        raise ConfigError(f'{label}: kind must be "feed" or "listing"')
    if entry["language"] not in LANGUAGES:
        raise ConfigError(f'{label}: language must be "en" or "zh"')
    if not is_http_url(entry["url"]):
        raise ConfigError(f"{label}: url must be an http or https URL")
    for key in ("links", "next"):
        value = entry.get(key)
        if value is None:
            continue
        if entry["kind"] != "listing":
            raise ConfigError(f"{label}: {key} is only for listing sources")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{label}: {key} must be a CSS selector string")
        problem = check_selector(value)
        if problem:
            raise ConfigError(f"{label}: {key} is not a valid CSS selector ({problem})")
    if entry["kind"] == "listing" and not entry.get("links"):
        raise ConfigError(f"{label}: links (a CSS selector for article links) is required for a listing")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{label}: enabled must be true or false")
    return Source(
        id=entry["id"],
        name=entry["name"].strip(),
        kind=entry["kind"],
        url=entry["url"].strip(),
        language=entry["language"],
        links=entry.get("links"),
        next=entry.get("next"),
        enabled=enabled,
    )


def parse_sources(text: str, *, where: str = "sources.toml") -> SourcesFile:
    """Validate the text of a sources file; ``where`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"fetch", "source"})
    if unknown:
        raise ConfigError(f"{where}: unknown table {unknown[0]!r} (expected [fetch] and [[source]])")
    settings = _fetch_settings(data.get("fetch", {}), where)
    entries = data.get("source", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: sources must be written as [[source]] tables")
    if not entries:
        raise ConfigError(f"{where}: no [[source]] entries")
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        source = _source(entry, number, where)
        if source.id in seen:
            raise ConfigError(f'{where}: source #{number} (id "{source.id}"): id already used by source #{seen[source.id]}')
        seen[source.id] = number
        sources.append(source)
    return SourcesFile(path=where, fetch=settings, sources=sources)


def load_sources(path: str | Path) -> SourcesFile:
    """Read and validate a sources file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no sources file at {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return parse_sources(text, where=str(path))
