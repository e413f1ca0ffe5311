"""Which encoding a fetched page or feed is in, and its text (pure, standard library only).

The order is the browsers' (WHATWG): a byte-order mark, then the charset in the
Content-Type header, then the document's own declaration (``<meta charset>``,
``<meta http-equiv>``, the XML declaration), then a guess: UTF-8, else GB18030.
Two corrections for the real web: a header charset of ISO-8859-1 or ASCII is
usually a server default and yields to the document's declaration, and GB2312
and GBK are read as their superset GB18030 (pages labelled GB2312 routinely use
GBK characters).
"""

from __future__ import annotations

import codecs
import re

# Labels that servers send by default without meaning it.
_LATIN_DEFAULTS = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii", "l1", "cp819"}
# WHATWG's readings of labels, where they differ from Python's codec of the same name.
_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030", "cp936": "gb18030",
    "csgb2312": "gb18030", "chinese": "gb18030", "euc-cn": "gb18030", "x-euc-cn": "gb18030", "ms936": "gb18030",
    "big5": "big5hkscs", "x-x-big5": "big5hkscs",
    "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8",
    # An ASCII-compatible page cannot really be UTF-16; browsers read the declaration as UTF-8.
    "utf-16": "utf-8", "utf-16le": "utf-8", "utf-16be": "utf-8",
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)


def codec_for(label: str | None) -> str | None:
    """The Python codec to decode a charset label with, or None for an unknown label."""
    if not label:
        return None
    label = label.strip().lower()
    name = _ALIASES.get(label)
    if name is None:
        name = "cp1252" if label in _LATIN_DEFAULTS else label
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_charset(content: bytes) -> str | None:
    """The encoding a page or XML document declares in its first 4 KB, if any."""
    head = content[:4096]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii", "replace") if match else None


def header_charset(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def trusted_header_charset(content_type: str | None, content: bytes) -> str | None:
    """The header's charset, unless it is a Latin-1/ASCII default and the document says otherwise."""
    label = header_charset(content_type)
    if label and label.strip().lower() in _LATIN_DEFAULTS and codec_for(declared_charset(content)):
        return None
    return label


def decode_body(content: bytes, content_type: str | None = None) -> tuple[str, str]:
    """``(text, codec)`` of a fetched body."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if content.startswith(bom):
            return content[len(bom):].decode(name, errors="replace"), name
    tried: list[str] = []
    candidates = (codec_for(trusted_header_charset(content_type, content)), codec_for(declared_charset(content)), "utf-8", "gb18030")
    for name in candidates:
        if not name or name in tried:
            continue
        tried.append(name)
        try:
            return content.decode(name), name
        except UnicodeDecodeError:
            continue
    name = tried[0]  # the best-informed guess, with the undecodable bytes replaced
    return content.decode(name, errors="replace"), name
