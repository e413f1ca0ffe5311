"""The trafilatura adapter: article body, title and date out of an HTML page.

Fetched HTML is only parsed, never executed.
"""

from __future__ import annotations

from dataclasses import dataclass

import trafilatura


@dataclass
class ExtractedArticle:
    text: str
    title: str | None
    published: str | None  # ISO date


def extract_article(html: str, *, url: str | None = None) -> ExtractedArticle | None:
    """Main text, title and date of an HTML page, or None when no body is found."""
    result = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_precision=False,
    )
    result = result.as_dict() if result is not None else None
    if not result or not (result.get("text") or "").strip():
        return None
    return ExtractedArticle(
        text=result["text"].strip(),
        title=(result.get("title") or None),
        published=(result.get("date") or None),
    )
