"""The jieba adapter: Chinese word segmentation for full-text search.

SQLite's FTS tokenizers see a run of Chinese characters as one token, so a
search for 花呗 finds nothing inside 蚂蚁集团旗下花呗. We index a second column
holding jieba's search-mode segmentation (every word and its sub-words,
separated by spaces), with our gazetteer's Chinese names kept whole.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import jieba

from . import gazetteer
from .settings import GAZETTEER_PATH

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

jieba.setLogLevel(logging.WARNING)


@lru_cache(maxsize=1)
def _segmenter() -> jieba.Tokenizer:
    tokenizer = jieba.Tokenizer()
    for entry in gazetteer.load_entities(GAZETTEER_PATH):
        for field in ("name_zh", "aliases_zh", "products_zh"):
            values = entry.get(field) or []
            for name in [values] if isinstance(values, str) else values:
                if name:
                    tokenizer.add_word(name, freq=100000)
    return tokenizer


def search_text(text: str | None) -> str | None:
    """Space-separated search tokens for text with Chinese in it; None for other text."""
    if not text or not _CJK.search(text):
        return None
    words = (w.strip() for w in _segmenter().cut_for_search(text))
    return " ".join(w for w in words if w)


_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def search_query(query: str) -> str:
    """A search typed without spaces, split into words: 蚂蚁集团花呗 -> 蚂蚁集团 花呗.

    Chinese is written without spaces, but full-text search matches whole tokens; the
    indexed column holds jieba's words, so the query is cut into jieba's words too (each
    must then occur). Text outside Chinese runs is left as it is.
    """
    spaced = _CJK_RUN.sub(lambda run: f" {' '.join(_segmenter().lcut(run.group()))} ", query)
    return " ".join(spaced.split())
