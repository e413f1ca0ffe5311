"""The feedparser adapter, and article links out of HTML listing pages (lxml + cssselect).

Nothing here touches the network: callers hand in bytes or text that the
fetcher already downloaded, and get plain records back. Broken input is
expected; feedparser never raises, so we decide what a broken feed means: a
feed that still yields entries keeps them and reports the problem, a document
that is not a feed at all is a :class:`FetchError`.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urljoin

import feedparser
import lxml.html
from lxml.cssselect import CSSSelector, SelectorError
from lxml.etree import ParserError

from .canonical import clean_link, is_http_url
from .charsets import header_charset, trusted_header_charset
from .errors import FetchError

# Problems feedparser reports that do not make a feed any less usable.
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


@dataclass
class FeedEntry:
    url: str | None  # absolute link to the article, or None
    title: str | None
    published: str | None  # UTC ISO 8601
    summary: str | None  # plain text of the entry's content or summary (the fallback body)
    guid: str | None = None


@dataclass
class ParsedFeed:
    title: str | None
    version: str  # rss20, rss10, atom10...
    entries: list[FeedEntry]
    problem: str | None = None  # why the feed is not clean, when it is not


@dataclass
class ListingLink:
    url: str  # absolute
    text: str | None


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def utc_iso(parsed) -> str | None:
    """feedparser's UTC ``struct_time`` as an ISO string (timegm, not mktime: no local shift)."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc).isoformat()
    except (OverflowError, ValueError, TypeError):
        return None


_BLOCK = re.compile(r"(?i)<\s*(br|/p|/div|/li|/h[1-6]|/tr|/blockquote)\b[^>]*>")


def html_to_text(html: str | None) -> str | None:
    """Readable text of an HTML fragment, paragraphs on their own lines."""
    if not html or not html.strip():
        return None
    if "<" not in html:
        text = html
    else:
        try:
            root = lxml.html.fragment_fromstring(_BLOCK.sub(lambda m: m.group(0) + "\n", html), create_parent="div")
            text = root.text_content()
        except (ParserError, ValueError):
            text = re.sub(r"<[^>]+>", " ", html)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    text = "\n".join(line for line in lines if line)
    return text or None


def _entry_link(entry, base: str | None) -> str | None:
    candidates = [entry.get("link")]
    candidates += [l.get("href") for l in entry.get("links", []) if l.get("rel", "alternate") == "alternate"]
    if entry.get("guidislink") or is_http_url(entry.get("id") or ""):
        candidates.append(entry.get("id"))
    for href in candidates:
        if not href:
            continue
        absolute = urljoin(base, clean_link(href)) if base else clean_link(href)
        if is_http_url(absolute):
            return absolute
    return None


def _entry_text(entry) -> str | None:
    """The longest of the entry's content blocks and summary, as plain text."""
    texts = [html_to_text(c.get("value")) for c in entry.get("content", [])]
    texts.append(html_to_text(entry.get("summary")))
    texts = [t for t in texts if t]
    return max(texts, key=len) if texts else None


def _looks_like_html(content: bytes) -> bool:
    head = content[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head or b"<body" in head


def parse_feed(content: bytes, *, url: str | None = None, content_type: str | None = None) -> ParsedFeed:
    """Entries of an RSS 0.9x/1.0/2.0 or Atom document given as bytes.

    Raises :class:`FetchError` when the bytes are not a feed (an HTML page, an
    empty body, XML too broken to yield any entry).
    """
    if not content or not content.strip():
        raise FetchError("empty response where a feed was expected")
    content_type = content_type or "application/xml"
    if header_charset(content_type) and not trusted_header_charset(content_type, content):
        # A default "charset=ISO-8859-1" would make feedparser misread a GBK or UTF-8 feed.
        content_type = content_type.split(";")[0]
    headers = {"content-location": url or "", "content-type": content_type}
    # Bytes, never a str: given a str that looks like a URL, feedparser would fetch it itself.
    parsed = feedparser.parse(bytes(content), response_headers=headers, sanitize_html=True)
    problem = None
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if exc is not None and not isinstance(exc, _HARMLESS):
        problem = _one_line(exc) or type(exc).__name__
    version = parsed.get("version") or ""
    entries = [
        FeedEntry(
            url=_entry_link(e, url),
            title=_one_line(html_to_text(e.get("title")) or "", 500) or None,
            published=utc_iso(e.get("published_parsed") or e.get("updated_parsed") or e.get("created_parsed")),
            summary=_entry_text(e),
            guid=e.get("id"),
        )
        for e in parsed.get("entries", [])
    ]
    if not entries:
        if not version:
            if _looks_like_html(content):
                raise FetchError("expected a feed but got an HTML page")
            raise FetchError(f"not an RSS or Atom feed{': ' + problem if problem else ''}")
        if problem:
            raise FetchError(f"malformed feed with no usable entries: {problem}")
        return ParsedFeed(title=parsed.feed.get("title"), version=version, entries=[], problem="the feed has no entries")
    if problem:
        problem = f"malformed feed, kept {len(entries)} entries: {problem}"
    return ParsedFeed(title=parsed.feed.get("title"), version=version or "unknown", entries=entries, problem=problem)


# --- listings ---------------------------------------------------------------


def check_selector(selector: str) -> str | None:
    """None when ``selector`` is a CSS selector we can run, else the reason it is not."""
    try:
        CSSSelector(selector)
    except SelectorError as exc:
        return _one_line(exc)
    return None


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)


def _document(html: str):
    # lxml refuses a str that still carries an XML encoding declaration.
    html = _XML_DECLARATION.sub("", html)
    if not html.strip():
        raise FetchError("empty page where a listing was expected")
    try:
        return lxml.html.document_fromstring(html)
    except (ParserError, ValueError) as exc:
        raise FetchError(f"cannot parse the listing page: {_one_line(exc)}") from None


def _base_url(doc, page_url: str) -> str:
    base = doc.find(".//base[@href]")
    return urljoin(page_url, clean_link(base.get("href"))) if base is not None else page_url


def _href_of(element) -> str | None:
    if element.tag == "a" and element.get("href"):
        return element.get("href")
    # A selector that picks a list item or a heading: use the first link inside it.
    inner = element.find(".//a[@href]")
    return inner.get("href") if inner is not None else None


def listing_links(html: str, *, url: str, selector: str) -> list[ListingLink]:
    """Absolute http(s) links matched by ``selector``, in page order, each once."""
    doc = _document(html)
    base = _base_url(doc, url)
    found: dict[str, ListingLink] = {}
    for element in CSSSelector(selector)(doc):
        href = _href_of(element)
        if not href or href.lstrip().startswith("#"):
            continue
        absolute = urljoin(base, clean_link(href))
        if not is_http_url(absolute) or absolute.split("#")[0] == url.split("#")[0]:
            continue
        text = _one_line(element.get("title") or element.text_content() or "", 500) or None
        found.setdefault(absolute.split("#")[0], ListingLink(url=absolute, text=text))
    return list(found.values())


_NEXT_WORDS = {"next", "next page", "older", "older posts", "下一页", "下页", "后一页", "下一頁"}
_ARROWS = " >›»→"


def next_page(html: str, *, url: str, selector: str | None = None) -> str | None:
    """The listing's "next page" URL: from ``selector``, rel="next", or the link's words."""
    doc = _document(html)
    base = _base_url(doc, url)
    candidates = []
    if selector:
        candidates += [_href_of(e) for e in CSSSelector(selector)(doc)]
    candidates += [e.get("href") for e in doc.iterfind(".//link[@href]") if "next" in (e.get("rel") or "").lower().split()]
    for a in doc.iterfind(".//a[@href]"):
        rel = (a.get("rel") or "").lower().split()
        words = " ".join((a.text_content() or a.get("title") or "").split()).lower()
        if "next" in rel or words.strip(_ARROWS) in _NEXT_WORDS or words in ("›", "»", "→"):
            candidates.append(a.get("href"))
    for href in candidates:
        if not href:
            continue
        absolute = urljoin(base, clean_link(href))
        if is_http_url(absolute) and absolute.split("#")[0] != url.split("#")[0]:
            return absolute
    return None
