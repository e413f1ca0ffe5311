"""Find money amounts, percentages, percentage points and basis points in one sentence.

Pure Python (``re`` + ``decimal``): the rules are easier to audit than a model and
the figures in lending news follow a small number of patterns.  The work is done in
passes over the sentence:

1. scan numbers (Arabic, and Chinese numerals before a unit) with their currency
   prefix, scale word and unit suffix;
2. merge ranges ("5-7%", "RMB 2-3 billion", "5%至7%") so a unit written once
   applies to both ends;
3. keep only numbers that carry a unit, then widen each to an approximation word
   ("about", "约") and decide its kind, period and metric from nearby words.

Offsets always refer to the caller's string: full-width characters are mapped 1:1
with ``str.translate``, so positions never move.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal

from .records import Figure

__all__ = ["find_figures"]

# ---------------------------------------------------------------------------
# Normalisation: full-width digits and symbols to ASCII, one character for one.
# The Chinese comma "，" is left alone: it separates clauses, never thousands.
# ---------------------------------------------------------------------------
_FULLWIDTH = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "％": "%",
        "￥": "¥",
        "＄": "$",
        "．": ".",
        "－": "-",
        "\u2212": "-",  # minus sign
        "\u00a0": " ",
        "\u3000": " ",
    }
)

PERCENT, POINT, BASIS = "percent", "percentage_point", "basis_point"
_RATE_UNITS = {PERCENT, POINT, BASIS}

# Letters that glue a number into a code ("G20", "Q2", "COVID19"), so the number is not a figure.
_ASCII_LETTER = re.compile(r"[A-Za-z]")


def _en(words: str) -> str:
    """Wrap an English alternation so it only matches whole words.

    ``\\b`` is useless next to Chinese (CJK characters count as word characters),
    so ASCII-letter look-arounds are used instead.
    """
    return rf"(?<![A-Za-z])(?:{words})(?![A-Za-z])"


# ---------------------------------------------------------------------------
# 1. Numbers, currency prefixes, scales and units
# ---------------------------------------------------------------------------
# "1,200" groups by three; "2024, 5" is two numbers.  Not preceded by a digit, "." or ","
# so we never start in the middle of another number.
_NUMBER = re.compile(r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?!\d)")

# Currency written before the number ("RMB 5bn", "US$1.2bn", "人民币500亿元").  Foreign
# dollar prefixes are listed so that "S$5" is not read as five US dollars.
_CURRENCY_PREFIX = re.compile(
    r"(?:(?<![A-Za-z])(?P<code>RMB|CNY|USD|HKD|EUR|GBP|JPY|SGD)"
    r"|(?P<sym>US\$|HK\$|NT\$|S\$|A\$|C\$|\$|¥|€|£)"
    r"|(?P<zh>人民币))\s*$"
)
_PREFIX_UNITS = {
    "RMB": "CNY", "CNY": "CNY", "USD": "USD", "HKD": "HKD", "EUR": "EUR", "GBP": "GBP",
    "JPY": "JPY", "SGD": "SGD", "US$": "USD", "HK$": "HKD", "NT$": "TWD", "S$": "SGD",
    "A$": "AUD", "C$": "CAD", "$": "USD", "¥": "CNY", "€": "EUR", "£": "GBP", "人民币": "CNY",
}

_SCALE_WORDS = {
    "thousand": 10**3, "k": 10**3,
    "million": 10**6, "mn": 10**6, "mln": 10**6, "m": 10**6,
    "billion": 10**9, "bn": 10**9, "bln": 10**9, "b": 10**9,
    "trillion": 10**12, "tn": 10**12, "trn": 10**12,
}
_CN_SCALES = {"十": 10, "百": 100, "千": 1000, "万": 10**4, "亿": 10**8}

# Single letters only when glued to the number ("$5m", "$1.2bn"); words may follow a space.
# "百" is not a scale in "百分点".
_SCALE = re.compile(
    r"(?P<glued>(?:bn|mn|mln|bln|tn|trn|[kmb])(?![A-Za-z]))"
    r"|[\s-]?(?P<word>thousand|million|billion|trillion|bn|mn|mln|bln|tn|trn)(?![A-Za-z])"
    r"|(?P<zh>(?:[千万亿]|百(?!分))+)",
    re.I,
)
# "100多亿元", "50余万元": an approximate count before the Chinese scale.
_CN_APPROX_MID = re.compile(r"[多余](?=[千百万亿]|元|美元|港元|港币|欧元)")

# Unit suffixes, tried in order (longer and more specific first: "percentage points"
# before "percent", "Hong Kong dollars" before "dollars").
_UNIT_SUFFIXES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[\s-]{0,2}(?:percentage[\s-]points?|pct\.?[\s-]*(?:points?|pts?)|ppts?|pp|p\.p\.)(?![A-Za-z])", re.I), POINT),
    (re.compile(r"\s*(?:个百分点|百分点)"), POINT),
    (re.compile(r"[\s-]{0,2}(?:basis[\s-]points?|bps?)(?![A-Za-z])", re.I), BASIS),
    (re.compile(r"\s*(?:个基点|基点)"), BASIS),
    (re.compile(r"\s?%|[\s-]{0,2}(?:percent(?!age)|per[\s-]cent|pct)(?![A-Za-z])", re.I), PERCENT),
    (re.compile(r"[\s-]{0,2}(?:Hong\s+Kong|HK)\s+dollars?(?![A-Za-z])", re.I), "HKD"),
    (re.compile(r"[\s-]{0,2}Singapore\s+dollars?(?![A-Za-z])", re.I), "SGD"),
    (re.compile(r"[\s-]{0,2}Australian\s+dollars?(?![A-Za-z])", re.I), "AUD"),
    (re.compile(r"[\s-]{0,2}Canadian\s+dollars?(?![A-Za-z])", re.I), "CAD"),
    (re.compile(r"[\s-]{0,2}(?:New\s+)?Taiwan\s+dollars?(?![A-Za-z])", re.I), "TWD"),
    (re.compile(r"[\s-]{0,2}(?:(?:US|U\.S\.)\s+)?dollars?(?![A-Za-z])", re.I), "USD"),
    (re.compile(r"[\s-]{0,2}(?:yuan|renminbi)(?![A-Za-z])", re.I), "CNY"),
    (re.compile(r"[\s-]{0,2}euros?(?![A-Za-z])", re.I), "EUR"),
    (re.compile(r"\s?(?:RMB|CNY)(?![A-Za-z])"), "CNY"),
    (re.compile(r"\s?USD(?![A-Za-z])"), "USD"),
    (re.compile(r"\s?HKD(?![A-Za-z])"), "HKD"),
    (re.compile(r"\s?EUR(?![A-Za-z])"), "EUR"),
    (re.compile(r"\s*(?:美元)"), "USD"),
    (re.compile(r"\s*(?:港元|港币)"), "HKD"),
    (re.compile(r"\s*(?:欧元)"), "EUR"),
    (re.compile(r"\s*(?:日元)"), "JPY"),
    (re.compile(r"\s*(?:英镑)"), "GBP"),
    (re.compile(r"\s*(?:元人民币|元|人民币)"), "CNY"),
]

# Words after a figure that make it approximate ("30%左右", "1000亿元以上", "5% or so").
_APPROX_AFTER = re.compile(r"\s*(?:左右|以上|上下|以下|(?<![A-Za-z])or\s+(?:so|more)(?![A-Za-z]))", re.I)

# Words right before a figure that make it approximate; the span includes them.
# "no more than" / "不超过" are caps, not approximations.
_APPROX_BEFORE = re.compile(
    r"(?:(?<![A-Za-z])(?:just\s+(?:over|under)|about|around|approximately|approx\.|nearly|almost|roughly"
    r"|some|close\s+to|(?<!no\s)(?<!not\s)more\s+than|(?<!no\s)(?<!not\s)over|up\s+to|at\s+least"
    r"|(?<!no\s)less\s+than|under|an\s+estimated|as\s+(?:much|many|high)\s+as)"
    r"|大约|约为|约合|约|将近|接近|(?<![不得能])超过|逾|(?<![最附])近)\s*$",
    re.I,
)

# Chinese numerals before a unit: "五点四万亿元", "两个百分点", "百分之二十四".
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUM_CHARS = "零〇一二两三四五六七八九十百千万亿点"
_CN_MONEY = re.compile(
    rf"(?<![{_CN_NUM_CHARS}数几上成第])(?P<num>[零〇一二两三四五六七八九十][{_CN_NUM_CHARS}]*?)(?P<approx>[多余])?"
    r"(?P<big>[万亿]*)(?P<unit>元人民币|元|美元|港元|港币|欧元|个百分点|个基点)"
)
_CN_PERCENT = re.compile(rf"百分之(?P<num>[{_CN_NUM_CHARS}]+|\d+(?:\.\d+)?)")
_CN_UNIT_NAMES = {
    "元人民币": "CNY", "元": "CNY", "美元": "USD", "港元": "HKD", "港币": "HKD", "欧元": "EUR",
    "个百分点": POINT, "个基点": BASIS,
}


@dataclass
class _Amount:
    """A number with whatever currency, scale and unit was written next to it."""

    start: int
    end: int
    number: Decimal  # as written, sign applied, before scale
    scale: Decimal | None
    unit: str | None
    approx: bool = False
    low: Decimal | None = None
    high: Decimal | None = None

    @property
    def value(self) -> Decimal:
        return self.number * (self.scale or 1)


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"


def _is_minus(text: str, i: int) -> bool:
    """A "-" at ``i`` is a minus sign when it does not join two numbers ("5-7%" is a range)."""
    if i < 0 or text[i] != "-":
        return False
    if i == 0:
        return True
    prev = text[i - 1]
    return prev in " \t(（:：" or _is_cjk(prev)


def _match_scale(text: str, pos: int) -> tuple[Decimal | None, int]:
    m = _SCALE.match(text, pos)
    if not m:
        return None, pos
    if m.group("zh"):
        factor = Decimal(1)
        for ch in m.group("zh"):
            factor *= _CN_SCALES[ch]
        return factor, m.end()
    word = (m.group("glued") or m.group("word")).lower()
    return Decimal(_SCALE_WORDS[word]), m.end()


def _match_unit(text: str, pos: int) -> tuple[str | None, int]:
    for pattern, unit in _UNIT_SUFFIXES:
        m = pattern.match(text, pos)
        if m:
            return unit, m.end()
    return None, pos


def _scan_arabic(text: str) -> list[_Amount]:
    found: list[_Amount] = []
    for m in _NUMBER.finditer(text):
        s, e = m.span()
        number = Decimal(m.group().replace(",", ""))
        start, prefix_unit = s, None
        prefix = _CURRENCY_PREFIX.search(text, max(0, s - 12), s)
        if prefix:
            prefix_unit = _PREFIX_UNITS[prefix.group().strip()]
            start = prefix.start()
        elif s > 0 and _ASCII_LETTER.match(text[s - 1]):
            continue  # "G20", "Q2", "H1", "COVID19": a code, not a quantity
        elif _is_minus(text, s - 1):
            number, start = -number, s - 1

        pos, approx = e, False
        mid = _CN_APPROX_MID.match(text, pos)
        if mid:
            pos, approx = mid.end(), True
        scale, pos = _match_scale(text, pos)
        unit, pos_after_unit = _match_unit(text, pos)
        if unit is None:
            unit, end = prefix_unit, pos
        elif unit in _RATE_UNITS:
            # "美元 3%" style accidents: a rate suffix wins and the currency stays out of the span
            if prefix_unit:
                start = s
            end = pos_after_unit
        else:
            unit, end = (prefix_unit or unit), pos_after_unit
        if mid and unit is None and scale is None:
            approx = False
        tail = _APPROX_AFTER.match(text, end)
        if tail and unit is not None:
            end, approx = tail.end(), True
        found.append(_Amount(start, end, number, scale, unit, approx))
    return found


def _parse_cn_integer(s: str) -> int | None:
    """Chinese integer numerals: "一千一百" -> 1100, "十二" -> 12, "一亿二千万" -> 120000000."""
    total = section = num = 0
    for ch in s:
        if ch in _CN_DIGIT:
            num = _CN_DIGIT[ch]
        elif ch in "十百千":
            section += (num or 1) * _CN_SCALES[ch]
            num = 0
        elif ch == "万":
            section = (section + num) * 10**4
            num = 0
        elif ch == "亿":
            total = (total + section + num) * 10**8
            section = num = 0
        else:
            return None
    return total + section + num


def _parse_cn_number(s: str) -> Decimal | None:
    """Chinese numerals with an optional decimal part: "五点四万亿" -> 5.4e12."""
    if not s:
        return None
    if "点" not in s:
        value = _parse_cn_integer(s)
        return None if value is None else Decimal(value)
    whole, _, rest = s.partition("点")
    digits = ""
    i = 0
    while i < len(rest) and rest[i] in _CN_DIGIT:
        digits += str(_CN_DIGIT[rest[i]])
        i += 1
    whole_value = _parse_cn_integer(whole) if whole else 0
    if not digits or whole_value is None:
        return None
    value = Decimal(f"{whole_value}.{digits}")
    for ch in rest[i:]:
        if ch not in _CN_SCALES:
            return None
        value *= _CN_SCALES[ch]
    return value


def _scan_chinese_numerals(text: str) -> list[_Amount]:
    found: list[_Amount] = []
    for m in _CN_MONEY.finditer(text):
        unit = _CN_UNIT_NAMES[m.group("unit")]
        written = m.group("num") + m.group("big")
        # Money in Chinese numerals is only trusted at 万/亿 scale: "一元化", "二元" are words.
        if unit not in _RATE_UNITS and not re.search("[万亿]", written):
            continue
        value = _parse_cn_number(written)
        if value is None:
            continue
        end, approx = m.end(), bool(m.group("approx"))
        tail = _APPROX_AFTER.match(text, end)
        if tail:
            end, approx = tail.end(), True
        found.append(_Amount(m.start(), end, value, None, unit, approx))
    for m in _CN_PERCENT.finditer(text):
        num = m.group("num")
        value = Decimal(num) if num[0].isdigit() else _parse_cn_number(num)
        if value is None:
            continue
        end, approx = m.end(), False
        tail = _APPROX_AFTER.match(text, end)
        if tail:
            end, approx = tail.end(), True
        found.append(_Amount(m.start(), end, value, None, PERCENT, approx))
    return found


def _drop_overlaps(amounts: list[_Amount]) -> list[_Amount]:
    """Keep the earliest, then longest, of overlapping amounts."""
    kept: list[_Amount] = []
    for a in sorted(amounts, key=lambda a: (a.start, -(a.end - a.start))):
        if kept and a.start < kept[-1].end:
            continue
        kept.append(a)
    return kept


# ---------------------------------------------------------------------------
# 2. Ranges
# ---------------------------------------------------------------------------
_DASH_GAP = re.compile(r"\s*[-–—~～〜]\s*$")
_TO_GAP = re.compile(r"\s*(?:(?<![A-Za-z])to(?![A-Za-z])|至|到)\s*$", re.I)
_AND_GAP = re.compile(r"\s*(?:(?<![A-Za-z])and(?![A-Za-z])|和|与)\s*$", re.I)
_BETWEEN_BEFORE = re.compile(r"(?:(?<![A-Za-z])between|介于)\s*$", re.I)
_FROM_BEFORE = re.compile(r"(?:(?<![A-Za-z])from|从|由)\s*$", re.I)

# Verbs of change; a "rose 5% to 7%" with both units written is two figures, not a range.
_EN_CHANGE_VERBS = (
    r"rose|rise|rises|rising|risen|fell|fall|falls|falling|fallen|drop|drops|dropped|dropping"
    r"|decline|declines|declined|declining|increase|increases|increased|increasing"
    r"|decrease|decreases|decreased|grew|grow|grows|growing|grown|gain|gains|gained"
    r"|jump|jumps|jumped|surge|surges|surged|soar|soared|slump|slumped|plunge|plunged|plummeted"
    r"|climb|climbs|climbed|cut|cuts|cutting|lower|lowers|lowered|lowering|reduce|reduces|reduced"
    r"|reducing|raise|raises|raised|raising|hike|hikes|hiked|trim|trims|trimmed|slash|slashed"
    r"|lift|lifts|lifted|shrank|shrink|shrunk|contracted|expanded|widened|narrowed|eased|advanced"
    r"|tumbled|sank|up|down|added|accelerated|slowed|inject|injects|injected|injecting"
)
_ZH_CHANGE_VERBS = (
    r"增长|下降|上升|上涨|提高|降低|下调|上调|调降|调升|调低|调高|下行|上行|减少|增加|回落|下滑|下跌"
    r"|多增|少增|扩大|收窄|缩减|缩小|增|降|涨|跌|升|减"
)
_BY = r"by(?:\s+(?:another|a\s+further|an?\s+(?:additional|extra)|a\s+(?:total|combined)\s+of))?"
_CHANGE_BY = re.compile(_en(_BY) + r"\s*$", re.I)
_CHANGE_VERB_JUST_BEFORE = re.compile(rf"(?:{_en(_EN_CHANGE_VERBS)}|(?:{_ZH_CHANGE_VERBS})了?)\s*$", re.I)


def _try_range(text: str, a: _Amount, b: _Amount) -> _Amount | None:
    gap = text[a.end:b.start]
    before = text[max(0, a.start - 30):a.start]
    between = _BETWEEN_BEFORE.search(text, max(0, a.start - 30), a.start)
    if _DASH_GAP.match(gap):
        pass
    elif _TO_GAP.match(gap):
        if _FROM_BEFORE.search(before):
            return None  # "from 10% to 15%": a start and an end, two figures
        if a.unit and b.unit and (_CHANGE_VERB_JUST_BEFORE.search(before) or _CHANGE_BY.search(before)):
            return None  # "rose (by) 5% to 7%": a change and the level it reached
    elif _AND_GAP.match(gap) and between:
        pass
    else:
        return None
    if a.unit is None and b.unit is None:
        return None  # "2021-2025", "010-6619": no unit, no figure
    if a.unit and b.unit and a.unit != b.unit:
        return None
    if a.low is not None or b.low is not None:
        return None
    # A unit or scale written once applies to both ends: "RMB 2-3 billion", "5-7亿元".
    scale_a, scale_b = a.scale, b.scale
    if scale_a is None and (a.unit is None or b.unit is None):
        scale_a = scale_b
    if scale_b is None and b.unit is None:
        scale_b = scale_a
    low, high = a.number * (scale_a or 1), b.number * (scale_b or 1)
    if low > high:
        return None  # "in 2024 to 5%" and friends
    start = between.start() if between else a.start
    return _Amount(
        start, b.end, (low + high) / 2, None, a.unit or b.unit, a.approx or b.approx, low, high
    )


def _share_from_to(text: str, a: _Amount, b: _Amount) -> None:
    """"from 24 to 36 percent": two figures, but the start borrows the end's unit."""
    if a.unit is None and b.unit is not None and _TO_GAP.match(text[a.end:b.start]):
        if _FROM_BEFORE.search(text[max(0, a.start - 10):a.start]):
            a.unit = b.unit
            if a.scale is None:
                a.scale = b.scale


def _merge_ranges(text: str, amounts: list[_Amount]) -> list[_Amount]:
    out: list[_Amount] = []
    i = 0
    while i < len(amounts):
        a = amounts[i]
        if i + 1 < len(amounts):
            b = amounts[i + 1]
            merged = _try_range(text, a, b)
            if merged:
                out.append(merged)
                i += 2
                continue
            _share_from_to(text, a, b)
        out.append(a)
        i += 1
    return out


def _widen_for_approx(text: str, a: _Amount) -> _Amount:
    m = _APPROX_BEFORE.search(text, max(0, a.start - 25), a.start)
    if m:
        return replace(a, start=m.start(), approx=True)
    return a


# ---------------------------------------------------------------------------
# Clauses: markers, metrics and kinds are read inside the figure's clause
# ---------------------------------------------------------------------------
_CLAUSE_BREAK = re.compile(r"[;；。！？!?，]|,\s|\s(?:while|whereas|but)\s", re.I)


def _clauses(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in _CLAUSE_BREAK.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def _clause_index(clauses: list[tuple[int, int]], pos: int) -> int:
    for i, (s, e) in enumerate(clauses):
        if pos < e or i == len(clauses) - 1:
            return i
    return len(clauses) - 1


# ---------------------------------------------------------------------------
# 3a. Kind: cap, cagr, yoy, qoq, change or level
# ---------------------------------------------------------------------------
_CAP_BEFORE = re.compile(
    r"(?:" + _en(
        r"cap(?:ped|s|ping)?(?:\s+[\w'’\-]+){0,8}?\s+(?:at|to|of)"
        r"|ceilings?(?:\s+[\w'’\-]+){0,4}?\s+(?:at|to|of)"
        r"|no\s+(?:more|higher|greater)\s+than|not\s+(?:more|higher|greater)\s+than"
        r"|(?:must|shall|may|should|will|can|could)\s*not\s+(?:be\s+allowed\s+to\s+)?exceed"
        r"|not\s+(?:to\s+)?exceed(?:ing)?|cannot\s+exceed|limit(?:ed|s|ing)?(?:\s+[\w'’\-]+){0,4}?\s+to"
        r"|limits?\s+of|at\s+(?:the\s+)?most|(?:a\s+)?maximum\s+(?:of|at)|upper\s+limit\s+(?:of|at)"
    )
    + r"|不得超过|不得高于|不能超过|不超过|不高于|不应超过|上限(?:为|是|设定为|设为|定为)?|封顶"
    + r"|最高(?!人民法院|法)(?:不超过|为|可达|达)?"  # not the Supreme People's Court
    + r")\s*$",
    re.I,
)
# "a 24 percent APR ceiling", "24%的上限", "24%以内"
_CAP_AFTER = re.compile(
    r"\s*(?:(?:[A-Za-z][\w\-]*\s+){0,2}" + _en(r"cap|caps|ceiling|limit|upper\s+limit")
    + r"|为上限|的上限|封顶|以内)",
    re.I,
)
# "shall not charge borrowers a cost exceeding 24%": the negation may sit a few words back
_CAP_NEGATED_EXCEED = re.compile(
    _en(r"(?:shall|must|may|should|will|can|could|do|does)\s*(?:not|n['’]t)")
    + r"[^,;，；。]{0,80}?"
    + _en(r"exceed(?:ing|s)?|above|over|higher\s+than|more\s+than")
    + r"\s*$",
    re.I,
)

# A figure introduced by these is the level reached, whatever the sentence's other markers say.
_LEVEL_INTRO = re.compile(
    r"(?:" + _en(
        r"to|at|reach|reaches|reached|reaching|hit|hits|stood\s+at|stands\s+at|standing\s+at"
        r"|total(?:l?ed|l?ing|s)?|total\s+of|amount(?:ed|ing|s)?\s+to|from"
    ) + r"|达到|达|增至|降至|升至|减至|至|到|从|由|报)\s*$",
    re.I,
)

_YOY = (
    _en(
        r"year[-\s]on[-\s]year|year[-\s]over[-\s]year|y-o-y|yoy|y/y"
        r"|(?:from|than|compared\s+(?:with|to)|versus|vs\.?)\s+(?:a|one|the\s+previous|the\s+prior)\s+year"
        r"\s+(?:earlier|ago|before)"
        r"|(?:a|one)\s+year\s+(?:earlier|ago)"
        r"|(?:from|over|than|compared\s+(?:with|to))\s+the\s+same\s+(?:period|quarter|month|time)\s+"
        r"(?:of\s+|in\s+)?(?:last|the\s+previous|the\s+prior|a)\s+year"
    )
    # bare "去年同期" names the base period ("去年同期为3.2%"); only "比/较…同期" compares
    + r"|同比|(?:比|较|与)(?:上年|去年)同期(?:相比)?"
)
_QOQ = (
    _en(
        r"quarter[-\s]on[-\s]quarter|quarter[-\s]over[-\s]quarter|q-o-q|qoq|q/q|sequential(?:ly)?"
        r"|(?:from|than|compared\s+(?:with|to))\s+the\s+(?:previous|prior|preceding|last)\s+quarter"
        r"|(?:a|one)\s+quarter\s+(?:earlier|ago)"
    )
    + r"|环比|较上季度|比上季度|较上季末|比上季末"
)
_CAGR = (
    _en(r"CAGRs?|compound(?:ed)?\s+annual(?:\s+growth)?(?:\s+rates?)?|compound\s+growth\s+rates?")
    + r"|年复合增长率|复合年增长率|年均复合增长率|复合增长率|年均复合增速"
)
_MARKERS = [("cagr", re.compile(_CAGR, re.I)), ("yoy", re.compile(_YOY, re.I)), ("qoq", re.compile(_QOQ, re.I))]
_MARKER_ADJACENT_AFTER = [(k, re.compile(rf"\s*,?\s*(?:{p})", re.I)) for k, p in
                          (("cagr", _CAGR), ("yoy", _YOY), ("qoq", _QOQ))]
# Marker, then at most a short verb or "of" before the figure: "同比增长12%", "CAGR of 7.4%".
_MARKER_ADJACENT_BEFORE = [(k, re.compile(rf"(?:{p})[^\d,;，；。]{{0,16}}$", re.I)) for k, p in
                           (("cagr", _CAGR), ("yoy", _YOY), ("qoq", _QOQ))]
_MARKER_WINDOW = 80
# Markers that are adverbs of the figure itself rather than a "from ..." comparison.
_ADVERB_MARKER = re.compile(
    r"year[-\s]on[-\s]year|year[-\s]over[-\s]year|y-o-y|yoy|y/y|quarter[-\s]on[-\s]quarter"
    r"|quarter[-\s]over[-\s]quarter|q-o-q|qoq|q/q|sequential(?:ly)?|同比|环比|" + _CAGR,
    re.I,
)

_CHANGE_BEFORE = re.compile(
    r"(?:" + _en(rf"(?:{_EN_CHANGE_VERBS})(?:\s+[\w'’\-]+){{0,4}}?\s+{_BY}|{_BY}") + r"\s*$"
    r"|" + _en(_EN_CHANGE_VERBS) + r"(?:\s+(?!to\b|at\b)[\w'’\-]+){0,4}?\s*$"
    r"|" + _en(
        r"(?:increase|rise|growth|decline|drop|fall|cut|reduction|hike|jump|gain|surge|slump|decrease"
        r"|contraction)s?\s+(?:of|in)"
    ) + r"\s*$"
    r"|(?:" + _ZH_CHANGE_VERBS + r"|增幅|降幅|增速|涨幅|跌幅)(?:了|为|是)?\s*$"
    r")",
    re.I,
)
_CHANGE_AFTER = re.compile(
    r"\s*-?\s*(?:" + _en(
        r"rise|rises|increase|increases|jump|jumps|surge|surges|gain|gains|growth|drop|drops|decline"
        r"|declines|fall|falls|cut|cuts|hike|hikes|reduction|reductions|slump|plunge|contraction|climb"
        r"|higher|lower|decrease|decreases|uptick|rally|slide"
    ) + r")",
    re.I,
)
# A Chinese verb of change, its object, then the rate: "下调金融机构存款准备金率0.5个百分点".
_ZH_CHANGE_WITH_OBJECT = re.compile(r"(?:下调|上调|调降|调升|调低|调高|降低|提高|下降|上升|增长|减少|增加)[^\d，。；,;]{1,14}$")
_COORDINATION = re.compile(r"\s*(?:,|，|、|and|和|与|及|以及|,\s*and)?\s*$", re.I)


def _is_money(unit: str) -> bool:
    return unit not in _RATE_UNITS


def _looks_like_change(text: str, a: _Amount, clause_start: int) -> bool:
    before = text[clause_start:a.start]
    after = text[a.end:a.end + 30]
    if _CHANGE_AFTER.match(after):
        return True
    if _CHANGE_BY.search(text, max(0, a.start - 30), a.start):
        return True
    if _is_money(a.unit or ""):
        # "raised $1.2bn" is a capital raise; only plain verbs glued to the amount count
        m = _CHANGE_VERB_JUST_BEFORE.search(before)
        return bool(m) and not re.match(r"rais", m.group(), re.I)
    return bool(_CHANGE_BEFORE.search(before) or _ZH_CHANGE_WITH_OBJECT.search(before))


def _can_carry(kind: str, f: _Amount, text: str, clause_start: int) -> bool:
    """CAGR is always a rate; a money amount only carries yoy/qoq when it is a change."""
    if kind == "cagr":
        return f.unit == PERCENT
    return not _is_money(f.unit or "") or _looks_like_change(text, f, clause_start)


def _spread(text: str, figs: list[_Amount], kinds: list[str | None], clause_of: list[int],
            i: int, step: int) -> list[int]:
    """Figures coordinated with ``figs[i]`` on one side: "分别增长12%和15%", "12% and 15%"."""
    out, j = [], i
    while 0 <= j + step < len(figs):
        k = j + step
        left, right = (figs[k], figs[j]) if step == -1 else (figs[j], figs[k])
        if kinds[k] or clause_of[k] != clause_of[i] or figs[k].unit != figs[i].unit:
            break
        if not _COORDINATION.match(text[left.end:right.start]):
            break
        out.append(k)
        j = k
    return out


def _assign_kinds(text: str, figs: list[_Amount], clauses: list[tuple[int, int]]) -> list[str]:
    kinds: list[str | None] = [None] * len(figs)
    clause_of = [_clause_index(clauses, f.start) for f in figs]
    consumed: list[tuple[int, int]] = []  # markers already claimed by a figure they touch

    # Pass 1: what touches the figure decides first -- a cap, a marker right after it,
    # an introducing "to/at/达", a marker right before it.
    for i, f in enumerate(figs):
        if kinds[i]:
            continue
        cs, ce = clauses[clause_of[i]]
        before = text[cs:f.start]
        capped = _CAP_BEFORE.search(before) or _CAP_NEGATED_EXCEED.search(before)
        if capped or _CAP_AFTER.match(text, f.end, ce):
            kinds[i] = "cap"
            continue
        if _FROM_BEFORE.search(before):
            kinds[i] = "level"  # "from 1.8% a year earlier": the base, whatever follows
            continue
        introduced = bool(_LEVEL_INTRO.search(before))
        for kind, pattern in _MARKER_ADJACENT_AFTER:
            m = pattern.match(text, f.end, ce)
            if not m or not _can_carry(kind, f, text, cs):
                continue
            # "to 3.1% y/y" is still a yoy rate; "to RMB 5bn from a year earlier" is a level
            if not introduced or _ADVERB_MARKER.fullmatch(m.group().strip(" ,")):
                kinds[i] = kind
                consumed.append(m.span())
                for k in _spread(text, figs, kinds, clause_of, i, -1):
                    kinds[k] = kind
                break
        if kinds[i]:
            continue
        if introduced:
            kinds[i] = "level"
            continue
        for kind, pattern in _MARKER_ADJACENT_BEFORE:
            m = pattern.search(text, cs, f.start)
            if m and (kind != "cagr" or f.unit == PERCENT):
                kinds[i] = kind
                consumed.append(m.span())
                for k in _spread(text, figs, kinds, clause_of, i, 1):
                    kinds[k] = kind
                break

    # Pass 2: markers further away (same clause, within a window) attach to the nearest
    # figure that can carry them, and to figures coordinated with it.
    best: dict[int, tuple[int, str]] = {}
    for kind, pattern in _MARKERS:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in consumed):
                continue
            ci = _clause_index(clauses, m.start())
            cands = []
            for i, f in enumerate(figs):
                if kinds[i] or clause_of[i] != ci or not _can_carry(kind, f, text, clauses[ci][0]):
                    continue
                dist = m.start() - f.end if f.end <= m.start() else f.start - m.end()
                if 0 <= dist <= _MARKER_WINDOW:
                    cands.append((dist, i))
            if not cands:
                continue
            dist, first = min(cands)
            step = -1 if figs[first].end <= m.start() else 1
            for i in [first, *_spread(text, figs, kinds, clause_of, first, step)]:
                if i not in best or best[i][0] > dist:
                    best[i] = (dist, kind)
    for i, (_, kind) in best.items():
        kinds[i] = kind

    # Pass 3: what is left is a change ("rose 12%", "by 25bp", "a 40% jump") or a level.
    for i, f in enumerate(figs):
        if kinds[i] is not None:
            continue
        if _looks_like_change(text, f, clauses[clause_of[i]][0]):
            kinds[i] = "change"
        elif (i > 0 and kinds[i - 1] == "change" and figs[i - 1].unit == f.unit
              and clause_of[i - 1] == clause_of[i] and _COORDINATION.match(text[figs[i - 1].end:f.start])):
            kinds[i] = "change"  # "by 1 billion yuan and 500 million yuan respectively"
        else:
            kinds[i] = "level"
    return [k or "level" for k in kinds]


# ---------------------------------------------------------------------------
# 3b. Period: the nearest year, quarter or half stated in the sentence
# ---------------------------------------------------------------------------
_YEAR = r"(?:19[5-9]\d|20\d\d)"
_REL_YEAR = r"this\s+year|last\s+year|next\s+year|the\s+current\s+year|今年|去年|明年|上年|本年|前年"
_REL_OFFSETS = {
    "this year": 0, "the current year": 0, "last year": -1, "next year": 1,
    "今年": 0, "本年": 0, "去年": -1, "上年": -1, "明年": 1, "前年": -2,
}
_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4,
            "一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4, "上": 1, "下": 2}
# Quarter-end months: a figure "as of 30 June 2025" describes the second quarter.
_QUARTER_END = {"march": 1, "june": 2, "september": 3, "december": 4, "3": 1, "6": 2, "9": 3, "12": 4}
_YEAR_OR_REL = rf"(?P<y>{_YEAR})|(?P<rel>{_REL_YEAR})"
_QE_MONTH = r"(?P<m>March|June|September|December)"
# The year after "Q1"/"H1": "Q1 2025", "Q1-2025", "Q1 of 2025", "Q1'25" (two digits only with an apostrophe).
_YEAR_AFTER_CODE = rf"\s*(?:of\s+|[-/]\s*)?(?P<y>{_YEAR})(?!\d)|\s*['’](?P<yy>\d\d)(?!\d)"

# Tried in order; a later pattern never claims text an earlier one took.
# Kinds: "range" (end year), "Q" quarter, "H" half, "Y" year.
_PERIOD_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # "2025-2029", "from 2024 to 2029", "between 2015 and 2019", "2025年至2029年": the end year
    ("range", re.compile(
        rf"(?<!\d)(?P<y0>{_YEAR})年?\s*(?:-|–|—|~|(?<![A-Za-z])(?:to|and)(?![A-Za-z])|至|到)\s*"
        rf"(?P<y>{_YEAR})(?!\d)年?", re.I)),
    ("Q", re.compile(
        rf"(?<![A-Za-z])(?P<q>first|second|third|fourth|1st|2nd|3rd|4th)[-\s]quarter(?![A-Za-z])"
        rf"(?:\s+(?:of|in)\s+(?:the\s+)?(?:fiscal\s+(?:year\s+)?)?(?:{_YEAR_OR_REL}))?", re.I)),
    ("Q", re.compile(rf"(?<!\d)(?P<y>{_YEAR})\s*[-/]?\s*Q(?P<q>[1-4])(?!\d)", re.I)),
    ("Q", re.compile(rf"(?<![A-Za-z])Q(?P<q>[1-4])(?!\d)(?:{_YEAR_AFTER_CODE})?", re.I)),
    ("Q", re.compile(rf"(?<![\dA-Za-z])(?P<q>[1-4])Q\s*(?:(?P<y>{_YEAR})|['’]?(?P<yy>\d\d))(?!\d)", re.I)),
    ("Q", re.compile(rf"(?:(?P<y>{_YEAR})年?|(?P<rel>今年|去年|明年|上年|本年))?\s*(?:第(?P<q>[一二三四1-4])|(?<!前)(?P<q2>[一二三四1-4]))季度")),
    ("Q", re.compile(rf"(?P<y>{_YEAR})年\s*Q(?P<q>[1-4])")),
    # quarter-end dates: "quarter ended December 31, 2024", "as of 30 June 2025", "2025年6月末"
    ("QE", re.compile(
        rf"(?<![A-Za-z])(?:quarter\s+ended|as\s+(?:of|at)|(?:at\s+)?the\s+end\s+of|end[-\s]of|end-)\s+(?:(?:30|31)\s+)?{_QE_MONTH}"
        rf"(?:\s+(?:30|31))?,?\s+(?P<y>{_YEAR})(?!\d)", re.I)),
    ("QE", re.compile(rf"(?<!\d)(?:30|31)\s+{_QE_MONTH},?\s+(?P<y>{_YEAR})(?!\d)", re.I)),
    ("QE", re.compile(rf"(?<![A-Za-z]){_QE_MONTH}\s+(?:30|31),?\s+(?P<y>{_YEAR})(?!\d)", re.I)),
    ("QE", re.compile(rf"(?P<y>{_YEAR})年(?P<m>3|6|9|12)月(?:末|底|(?:30|31)日)")),
    ("H", re.compile(
        rf"(?<![A-Za-z])(?P<h>first|second|1st|2nd)[-\s]half(?![A-Za-z])"
        rf"(?:\s+(?:of|in)\s+(?:the\s+)?(?:fiscal\s+(?:year\s+)?)?(?:{_YEAR_OR_REL}))?", re.I)),
    ("H", re.compile(rf"(?<![A-Za-z])(?P<h>first)\s+six\s+months(?:\s+of\s+(?:the\s+)?(?:{_YEAR_OR_REL}))?", re.I)),
    ("H", re.compile(rf"(?<!\d)(?P<y>{_YEAR})\s*[-/]?\s*H(?P<h>[12])(?!\d)", re.I)),
    ("H", re.compile(rf"(?<![A-Za-z])H(?P<h>[12])(?!\d)(?:{_YEAR_AFTER_CODE})?", re.I)),
    ("H", re.compile(rf"(?<![\dA-Za-z])(?P<h>[12])H\s*(?:(?P<y>{_YEAR})|['’]?(?P<yy>\d\d))(?!\d)", re.I)),
    ("H", re.compile(rf"(?:(?P<y>{_YEAR})年?|(?P<rel>今年|去年|明年|上年|本年))?\s*(?P<h>上|下)半年")),
    ("Y", re.compile(rf"(?<![A-Za-z])FY\s?(?:(?P<y>{_YEAR})|(?P<yy>\d\d))(?!\d)", re.I)),
    ("Y", re.compile(
        rf"(?<![\d.,$¥€£:/])(?<!\d-)(?P<y>{_YEAR})"
        r"(?![\d%]|\s*(?:个百分点|个基点|元|亿|万|percent|per cent|bps?|basis)|-\d{3,})(?:年度?)?", re.I)),
    ("Y", re.compile(rf"(?<![A-Za-z])(?P<rel>{_REL_YEAR})(?![A-Za-z])", re.I)),
]
# A year after these words is the comparison base, not the figure's period.
_COMPARISON_BEFORE = re.compile(
    r"(?:" + _en(
        r"from|than|since|compared\s+(?:with|to)|versus|vs\.?|over|against"
        r"|same\s+(?:period|quarter|time|month)\s+(?:of\s+|in\s+)?"
    ) + r"|比|较|相比|同比)\s*(?:(?:the|its|their|a)\s+)?(?:end\s+of\s+)?$",
    re.I,
)
# "since 2017" is a base, but a change since then spans several years, so it is not yoy
_SINCE_BEFORE = re.compile(_en("since") + r"\s*(?:(?:the|its|their|a)\s+)?$", re.I)
_COMPARISON_AFTER = re.compile(r"\s*(?:同期|'s\s+level|相比)", re.I)
# "in 2025", "at the end of 2024", "截至2024年末": the lead-in belongs to the period when
# measuring how far it sits from a figure.
_PERIOD_LEAD = re.compile(
    r"(?:" + _en(
        r"(?:in|for|by|through|during|until|till|as\s+of|as\s+at|at|of|on)\s+(?:the\s+)?"
        r"(?:(?:end|start|beginning|close|middle)\s+of\s+(?:the\s+)?)?"
    ) + r"|end-|截至|截止)$",
    re.I,
)
# A year inside someone else's relative clause ("which traded as X until 2019", "that
# began in 2016") dates that clause, not the figure.
_DETACHED = re.compile(_en(r"which|who|whose|that|known\s+as|until|till|since"), re.I)


@dataclass
class _Period:
    start: int  # including its lead-in ("in", "at the end of")
    end: int
    label: str | None  # "2025", "2025Q1", "2025H1"; "?Q1" until a year is found
    kind: str
    base: bool = False  # a comparison base ("from 2023", "去年同期"), never a figure's period


def _year_of(m: re.Match[str], reference_year: int | None) -> int | None:
    groups = m.groupdict()
    if groups.get("y"):
        return int(groups["y"])
    if groups.get("yy"):
        return 2000 + int(groups["yy"])
    if groups.get("rel") and reference_year is not None:
        return reference_year + _REL_OFFSETS[re.sub(r"\s+", " ", groups["rel"].lower())]
    return None


def _period_label(kind: str, m: re.Match[str], year: int | None) -> str | None:
    groups = m.groupdict()
    prefix = str(year) if year else "?"
    if kind == "Q":
        return f"{prefix}Q{_ORDINAL[(groups.get('q') or groups.get('q2')).lower()]}"
    if kind == "QE":
        return f"{prefix}Q{_QUARTER_END[groups['m'].lower()]}"
    if kind == "H":
        return f"{prefix}H{_ORDINAL[groups['h'].lower()]}"
    return str(year) if year else None


def _find_periods(
    text: str, taken: list[tuple[int, int]], reference_year: int | None, clauses: list[tuple[int, int]]
) -> list[_Period]:
    claimed = list(taken)
    found: list[_Period] = []
    for kind, pattern in _PERIOD_PATTERNS:
        for m in pattern.finditer(text):
            s, e = m.span()
            if s == e or any(s < ce and cs < e for cs, ce in claimed):
                continue
            claimed.append((s, e))
            label = _period_label(kind, m, _year_of(m, reference_year))
            if label is None:
                continue
            base = kind == "Y" and bool(
                _COMPARISON_BEFORE.search(text, max(0, s - 25), s) or _COMPARISON_AFTER.match(text, e)
            )
            lead = _PERIOD_LEAD.search(text, max(0, s - 30), s)
            found.append(_Period(lead.start() if lead else s, e, label, kind, base))
    # A quarter or half without its own year borrows the nearest year in the sentence.
    years = [p for p in found if p.kind == "Y" and not p.base]
    resolved: list[_Period] = []
    for p in found:
        if p.label.startswith("?"):
            ci = _clause_index(clauses, p.start)
            years = [
                y for y in years
                if _clause_index(clauses, y.start) == ci
                or not _DETACHED.search(text, clauses[_clause_index(clauses, y.start)][0], y.start)
            ]
            if not years:
                continue
            near = min(years, key=lambda y: _gap(p.start, p.end, y.start, y.end))
            p = replace(p, label=near.label + p.label[1:])
        resolved.append(p)
    return resolved


def _gap(s1: int, e1: int, s2: int, e2: int) -> int:
    if e2 <= s1:
        return s1 - e2
    if s2 >= e1:
        return s2 - e1
    return 0


def _nearest_period(
    text: str, periods: list[_Period], f: _Amount, clauses: list[tuple[int, int]]
) -> _Period | None:
    ci = _clause_index(clauses, f.start)
    usable = []
    for p in periods:
        if p.base:
            continue
        pi = _clause_index(clauses, p.start)
        # Outside its own clause, skip a year that dates a relative clause ("which ... until 2019").
        if pi != ci and _DETACHED.search(text, clauses[pi][0], p.start):
            continue
        usable.append((pi != ci, p))
    if not usable:
        return None
    # the figure's own clause first, then distance; ties go to the expression before it
    def rank(item: tuple[bool, _Period]) -> tuple[bool, int, bool]:
        elsewhere, p = item
        return elsewhere, _gap(f.start, f.end, p.start, p.end), p.start > f.start

    return min(usable, key=rank)[1]


def _annual_change(text: str, f: _Amount, periods: list[_Period], clauses: list[tuple[int, int]]) -> bool:
    """A percentage change over a stated year ("grew 6% in 2024", "up 20% from 2023") is yoy."""
    if f.unit != PERCENT:
        return False
    ci = _clause_index(clauses, f.start)
    return any(
        p.kind == "Y"
        and _clause_index(clauses, p.start) == ci
        and not (p.base and _SINCE_BEFORE.search(text, max(0, p.start - 25), p.start))
        for p in periods
    )


# ---------------------------------------------------------------------------
# 3c. Metric: the nearest keyword in the clause (noun compounds resolve to their head)
# ---------------------------------------------------------------------------
_METRICS: list[tuple[str, str, str]] = [
    # (metric, English words, Chinese words)
    ("loan_balance",
     r"outstanding\s+(?:consumer\s+)?(?:loans?|credit|balances?)|loans?\s+outstanding|loan\s+balances?"
     r"|credit\s+balances?|consumer\s+credit|consumer\s+loans?|consumer\s+lending|loan\s+book"
     r"|loan\s+portfolio|outstanding|balances?|loans",
     r"贷款余额|信贷余额|余额|消费贷款|消费贷|消费信贷|贷款"),
    ("loan_volume",
     r"loans?\s+(?:issued|originated|facilitated|disbursed|granted|extended)|originat(?:ion|ions|ed)"
     r"|facilitat(?:ed|ion)|disburse(?:d|ments?)|(?:loan|lending|transaction)\s+volumes?"
     r"|new\s+(?:loans|lending|credit)",
     r"放款|发放|放贷|新增贷款|助贷规模|交易额|促成"),
    ("profit", r"(?:net\s+)?profits?|net\s+income|earnings", r"净利润|利润|净利|盈利"),
    ("revenue", r"revenues?|sales|turnover|(?:operating|total|interest)\s+income", r"营业收入|营收|收入"),
    ("npl",
     r"non[-\s]?performing(?:\s+loans?)?|NPLs?|bad\s+(?:loans?|debts?)|defaults?|defaulted"
     r"|delinquen(?:cy|cies|t)|overdue|arrears|behind\s+on\s+(?:(?:their|loan|debt|the)\s+)*repayments?",
     r"不良贷款|不良|逾期|坏账"),
    ("interest_rate",
     r"interest\s+rates?|APRs?|annuali[sz]ed\s+(?:interest\s+)?(?:rates?|costs?|yields?)|borrowing\s+costs?"
     r"|lending\s+rates?|loan\s+prime\s+rates?|LPR|pricing|(?:financing|funding)\s+costs?"
     r"|(?<!growth\s)(?<!exchange\s)(?<!tax\s)(?<!annual\s)(?<!take\s)rates?",
     r"利率|年化|融资成本|借款成本|LPR"),
    ("fine", r"fine[sd]?|fining|penalt(?:y|ies)", r"罚款|罚没|罚金|处罚"),
    ("subsidy", r"subsid(?:y|ies|i[sz]e|i[sz]es|i[sz]ed|i[sz]ing)|trade[-\s]ins?", r"贴息|补贴|以旧换新"),
    ("reserve_ratio", r"reserve\s+requirements?(?:\s+ratios?)?|RRR", r"存款准备金率?|准备金率"),
    ("capital",
     r"(?:registered\s+)?(?-i:capital)|IPOs?|listings?|valuation|valued|raised|raising|funding\s+round"
     r"|buybacks?|repurchas(?:e|es|ed|ing)|inject(?:s|ed|ing|ion)?|raise|raises",
     r"注册资本|融资|募资|估值|上市|增资|注资|回购"),
    ("market_share", r"market\s+shares?", r"市场份额|市占率"),
    ("borrowers", r"adult\s+population|adults|borrowers?|users?|customers?|clients?", r"借款人|用户|客户"),
    # Clearly measured quantities outside the categories above.
    ("other",
     r"liquidity|shares|stock|share\s+price|market\s+(?:capitali[sz]ation|value)|dividends?|per\s+(?:share|ADS)"
     r"|stake|(?<!state-)(?<!state\s)owned|bonds?|relending|net\s+interest\s+margin|NIM|margins?|take\s+rate"
     r"|provision(?:\s+coverage)?|coverage\s+ratio|cash|investments|loan\s+size|credit\s+(?:lines?|limits?)"
     r"|assets|deposits|purchases?|costs?|GDP|CPI|inflation",
     r"流动性|股价|市值|股息|分红|持股|股份|股权|债券|再贷款|净息差|拨备覆盖率|现金|资产|存款|额度|成本|GDP|CPI"),
]
_METRIC_PATTERNS = [
    (name, re.compile(rf"{_en(en)}|{zh}", re.I)) for name, en, zh in _METRICS
]
# Heads too vague to override the word before them ("不良贷款余额" stays npl,
# "repurchased shares" stays capital); "rates" only gives way to a default word.
_YIELDS_TO_ANY = {"余额", "贷款余额", "信贷余额", "贷款", "outstanding", "balance", "balances", "loans",
                  "shares", "cost", "costs", "成本"}
_YIELDS_TO_NPL = {"rate", "rates"}
# Keywords that only describe money ("raised $1bn"), not a rate ("raised rates by 25bp").
_MONEY_ONLY = re.compile(r"raise|raises|raised|raising|inject(?:s|ed|ing)?|融资|募资", re.I)
# Words that glue two keywords into one noun compound.
_COMPOUND_GAP = re.compile(r"[\s'’\-]*(?:s['’]\s*)?$")
# "loans to a single borrower", "provision coverage on consumer loans": the second
# keyword sits in a prepositional phrase, the first is the head.
_PP_GAP = re.compile(r"\s+(?:to|on|for|per|of)\s+(?:[\w'’\-]+\s+){0,2}$", re.I)
# "hold over 90% of China's mobile payment market"
_SHARE_OF_MARKET = re.compile(r"\s+of\s+(?:[\w'’\-]+\s+){0,4}?market(?![A-Za-z])", re.I)
# A clause that starts like this continues the previous clause's subject.
_PREDICATE_START = re.compile(
    r"\s*(?:(?:and|which|that|both|of\s+whom|of\s+which)\s+)?(?:"
    # a participle ("releasing ...", "rejecting ...") or "with ..." shares the main subject
    + _en(rf"{_EN_CHANGE_VERBS}|an?|by|with|representing|accounting|equivalent|compared|versus|or|against|from|than"
          r"|year[-\s]on[-\s]year|[a-z]+ing")
    + rf"|{_ZH_CHANGE_VERBS}|同比|环比|较|比|分别|达|为|占|约|其中|合计|共计|累计|[+\-\d]|$)",
    re.I,
)
_OF_AFTER = re.compile(r"\s+of(?![A-Za-z])", re.I)
# Keywords after the figure are a little further away than the same distance before it.
_AFTER_PENALTY = 1.5


@dataclass
class _Keyword:
    start: int
    end: int
    metric: str
    money_only: bool
    yields: str  # "" (a head), "any" or "npl": which modifiers this word gives way to


def _find_keywords(text: str, taken: list[tuple[int, int]]) -> list[_Keyword]:
    raw: list[_Keyword] = []
    for metric, pattern in _METRIC_PATTERNS:
        for m in pattern.finditer(text):
            s, e = m.span()
            if any(s < te and ts < e for ts, te in taken):
                continue
            word = m.group().lower()
            yields = "any" if word in _YIELDS_TO_ANY else "npl" if word in _YIELDS_TO_NPL else ""
            raw.append(_Keyword(s, e, metric, bool(_MONEY_ONLY.fullmatch(word)), yields))
    raw.sort(key=lambda k: (k.start, -k.end))
    # Overlapping or adjacent keywords form one compound whose metric is its head,
    # the later word ("consumer loan defaults" -> npl), unless that head is vague.
    merged: list[_Keyword] = []
    for k in raw:
        if merged:
            last = merged[-1]
            if k.start < last.end or _COMPOUND_GAP.match(text[last.end:k.start]) and k.start - last.end <= 3:
                if k.end <= last.end:
                    continue  # contained in the previous keyword
                if last.money_only or k.money_only:
                    merged.append(k)  # "raised" is a verb, never part of a noun compound
                    continue
                keep_modifier = k.yields == "any" or k.yields == "npl" and last.metric == "npl"
                head = last if keep_modifier else k
                merged[-1] = _Keyword(last.start, k.end, head.metric, head.money_only, last.yields and k.yields)
                continue
        merged.append(k)
    return merged


def _nearest_metric(
    text: str, keywords: list[_Keyword], f: _Amount, clauses: list[tuple[int, int]]
) -> str | None:
    if f.unit == PERCENT and _SHARE_OF_MARKET.match(text, f.end):
        return "market_share"
    usable = [k for k in keywords if not (k.money_only and f.unit in _RATE_UNITS)]
    ci = _clause_index(clauses, f.start)
    cs, ce = clauses[ci]
    in_clause = [k for k in usable if cs <= k.start and k.end <= ce]
    if in_clause:
        def score(k: _Keyword) -> float:
            if k.end <= f.start:
                return f.start - k.end
            if f.unit == PERCENT and _OF_AFTER.match(text, f.end) and any(b.end <= f.start for b in in_clause):
                return float("inf")  # "NPLs were 2% of total loans": "loans" is the denominator
            return (k.start - f.end) * _AFTER_PENALTY
        best = min(in_clause, key=score)
        if best.end <= f.start:
            return _climb_pp(text, in_clause, in_clause.index(best)).metric
        return best.metric
    # No keyword in the clause.  When the clause has no subject of its own and opens with
    # a predicate ("余额达5.4万亿元，同比增长12.5%", "..., up 9.5%"), the subject is the
    # one of the clause before, so take the closest keyword before it.
    earlier = [k for k in usable if k.end <= cs]
    if earlier and _PREDICATE_START.match(text, cs, f.start):
        return _climb_pp(text, earlier, len(earlier) - 1).metric
    return None


def _climb_pp(text: str, keywords: list[_Keyword], i: int) -> _Keyword:
    """Climb out of prepositional phrases: "loans to a single borrower" -> loans."""
    while i > 0 and _PP_GAP.match(text[keywords[i - 1].end:keywords[i].start]):
        i -= 1
    return keywords[i]


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------
def _to_float(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


def find_figures(text: str, *, reference_year: int | None = None) -> list[Figure]:
    """Money amounts, percentages, percentage points and basis points in ``text``.

    ``text`` is normally one sentence.  Figures come back ordered by ``start``, never
    overlapping, with ``text == input[start:end]``.  ``reference_year`` resolves
    "this year", "last year", "今年" and the like into a period.
    """
    if not text:
        return []
    norm = text.translate(_FULLWIDTH)
    amounts = _drop_overlaps(_scan_arabic(norm) + _scan_chinese_numerals(norm))
    amounts = _merge_ranges(norm, amounts)
    amounts = [_widen_for_approx(norm, a) for a in amounts if a.unit]
    amounts = _drop_overlaps(amounts)
    if not amounts:
        return []

    clauses = _clauses(norm)
    spans = [(a.start, a.end) for a in amounts]
    kinds = _assign_kinds(norm, amounts, clauses)
    periods = _find_periods(norm, spans, reference_year, clauses)
    keywords = _find_keywords(norm, spans)

    figures = []
    for a, kind in zip(amounts, kinds):
        period = _nearest_period(norm, periods, a, clauses)
        if kind == "change" and _annual_change(norm, a, periods, clauses):
            kind = "yoy"
        figures.append(
            Figure(
                text=text[a.start:a.end],
                start=a.start,
                end=a.end,
                value=_to_float(a.value),
                unit=a.unit,
                low=_to_float(a.low),
                high=_to_float(a.high),
                kind=kind,
                approx=a.approx,
                period=period.label if period else None,
                metric=_nearest_metric(norm, keywords, a, clauses),
            )
        )
    return figures
