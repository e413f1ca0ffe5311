"""Canonical URLs: one spelling per document, so the store never keeps the same page twice.

Pure string logic (no network, no outside library): the fetcher, the feed parser
and the ingestion flow all call :func:`canonical_url` before comparing or storing
a URL.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: Query parameters that only say where a reader came from; they never change the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "twclid",
        "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "ref_url",
        "cmpid", "ocid", "ncid", "sr_share", "spm", "share_token", "share_source", "wt.mc_id",
        "from_rss", "rss", "s_cid", "cid_source",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_custom", "hmsr")

# Characters that need no percent-encoding in a path or query; used to re-quote consistently.
# "%" is not safe: a literal percent sign must stay encoded, or canonical forms would drift.
_PATH_SAFE = ":@!$&'()*+,;=-._~"
# "+" is not safe in a query: it would read back as a space.
_QUERY_SAFE = ":@!$'()*,;/?-._~"


class NotHttpURL(ValueError):
    """The URL has no http(s) scheme or no host."""


def is_tracking_param(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


def _clean_path(path: str) -> str:
    if not path:
        return "/"
    # Resolve "." and ".." the way a browser does, keeping a trailing slash.
    trailing = path.endswith("/") or path.endswith("/.") or path.endswith("/..")
    normal = posixpath.normpath(path)
    if normal.startswith("//"):  # normpath keeps a leading double slash
        normal = "/" + normal.lstrip("/")
    if trailing and normal != "/":
        normal += "/"
    # Re-quote after unquoting so %7E and ~ (or a raw space and %20) compare equal;
    # %2F stays encoded because it is not the same as a path separator.
    parts = [quote(unquote(p), safe=_PATH_SAFE) for p in normal.split("/")]
    return "/".join(parts)


def _clean_query(query: str) -> str:
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not is_tracking_param(k)]
    # Sorted, so ?a=1&b=2 and ?b=2&a=1 are one page (servers that care about order are rare).
    pairs.sort()
    return urlencode(pairs, safe=_QUERY_SAFE, quote_via=quote)


def canonical_url(url: str, base: str | None = None) -> str:
    """``url`` (resolved against ``base``) in canonical form.

    Lower-case scheme and host, no default port, no user info, no fragment, no
    tracking parameters, sorted query, dot segments resolved, consistent
    percent-encoding. Raises :class:`NotHttpURL` for anything but http(s).
    """
    url = (url or "").strip()
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise NotHttpURL(f"not an http(s) URL: {url[:200]!r}")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise NotHttpURL(f"URL has no host: {url[:200]!r}")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError:
        raise NotHttpURL(f"URL has an invalid host: {url[:200]!r}") from None
    try:
        port = parts.port
    except ValueError:
        raise NotHttpURL(f"URL has an invalid port: {url[:200]!r}") from None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, _clean_path(parts.path), _clean_query(parts.query), ""))


def host_of(url: str) -> str:
    """``host[:port]`` of an http(s) URL, lower-case: the unit of politeness."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    scheme = parts.scheme.lower()
    return host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"


def is_http_url(url: str) -> bool:
    parts = urlsplit((url or "").strip())
    return parts.scheme.lower() in SCHEMES and bool(parts.hostname)


_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")


def clean_link(href: str) -> str:
    """An ``href`` as a browser reads it: outer spaces trimmed, tabs and newlines dropped."""
    return _TAB_OR_NEWLINE.sub("", (href or "").strip())
