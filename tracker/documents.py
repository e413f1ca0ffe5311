"""Reading user-supplied files (plain text, Markdown, HTML) into ``Document`` records.

Every check happens before anything is written, so a bad file leaves the
database as it was.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from .errors import InputError
from .extraction import extract_article
from .language import detect_language
from .records import Document

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
_MARKDOWN_SUFFIXES = {".md", ".markdown"}
_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-") or "local"


def parse_date(value: str, *, what: str = "date") -> str:
    """An ISO date (YYYY-MM-DD) or datetime, normalised; anything else is an InputError."""
    value = value.strip()
    try:
        if len(value) == 10:
            return date.fromisoformat(value).isoformat()
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise InputError(f"{what} must be an ISO date like 2025-08-12, not {value!r}") from None


def decode_text(data: bytes, *, name: str) -> str:
    """Strict UTF-8 with a check for binary content."""
    if b"\x00" in data[:8192]:
        raise InputError(f"{name} looks like a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    if not text.strip():
        raise InputError(f"{name} is empty")
    return text


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta = {}
    for line in match.group(1).splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            meta[key.strip().lower()] = value.strip()
    return meta, text[match.end():]


def _markdown_to_text(text: str) -> tuple[str | None, str]:
    """Drop Markdown markup that would read as words; the first heading becomes the title."""
    title = None
    lines = []
    for line in text.splitlines():
        heading = re.match(r"^\s{0,3}#{1,6}\s+(.*)", line)
        if heading:
            title = title or heading.group(1).strip()
            line = heading.group(1)
        line = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", line)  # links and images keep their text
        line = re.sub(r"(\*\*|__|\*|`)", "", line)
        line = re.sub(r"^\s*[-*+]\s+", "", line)
        lines.append(line.rstrip())
    return title, "\n".join(lines).strip()


def read_document(
    path: str | Path,
    *,
    source_id: str | None = None,
    title: str | None = None,
    published: str | None = None,
    url: str | None = None,
) -> Document:
    """A ``Document`` from a text, Markdown or HTML file; options override what the file says."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if not path.is_file():
        raise InputError(f"not a file: {path}")
    raw = decode_text(path.read_bytes(), name=str(path))
    meta, body = _front_matter(raw)
    file_title = meta.get("title")
    suffix = path.suffix.lower()
    if suffix in _HTML_SUFFIXES or body.lstrip()[:15].lower().startswith(("<!doctype html", "<html")):
        article = extract_article(body, url=url)
        if article is None:
            raise InputError(f"{path}: no article text found in the HTML")
        body, file_title = article.text, file_title or article.title
        meta.setdefault("published", article.published or "")
    elif suffix in _MARKDOWN_SUFFIXES:
        heading, body = _markdown_to_text(body)
        file_title = file_title or heading
    body = body.strip()
    if not body:
        raise InputError(f"{path} has no text after its header")
    when = published or meta.get("published") or meta.get("date") or None
    source = source_id or (slugify(meta["source"]) if meta.get("source") else "local")
    return Document(
        text=body,
        title=title or file_title or path.stem,
        url=url or meta.get("url") or None,
        published=parse_date(when, what=f"{path}: published") if when else None,
        source_id=source,
        source_name=meta.get("source") if not source_id else None,
        language=meta.get("language") or detect_language(body),
    )

