"""Language identification for the two languages the tracker reads."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> str:
    """"zh" when Chinese characters outnumber a third of the Latin letters, else "en".

    A Chinese character carries about as much as a short English word, so a
    Chinese notice with a few English acronyms still counts as Chinese.
    """
    sample = text[:5000]
    cjk = len(_CJK.findall(sample))
    latin = len(_LATIN.findall(sample))
    return "zh" if cjk and cjk * 3 >= latin else "en"
