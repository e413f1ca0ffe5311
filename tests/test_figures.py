"""Behaviour of the rule-based figure extractor, through ``find_figures`` only."""

from __future__ import annotations

import pytest

from tracker.figures import find_figures
from tracker.records import Figure


def one(text: str, **kwargs) -> Figure:
    figures = find_figures(text, **kwargs)
    assert len(figures) == 1, [f.text for f in figures]
    return figures[0]


def pick(text: str, span: str, **kwargs) -> Figure:
    """The figure whose text is ``span``."""
    figures = find_figures(text, **kwargs)
    matches = [f for f in figures if f.text == span]
    assert matches, f"{span!r} not in {[f.text for f in figures]}"
    return matches[0]


# ---------------------------------------------------------------------------
# Values and units
# ---------------------------------------------------------------------------
VALUES = [
    # English money: prefixes, suffixes, scale words, glued scales, separators
    ("Huabei's book shrank to RMB 1,200 billion last year.", "RMB 1,200 billion", 1.2e12, "CNY"),
    ("The platform lent CNY 3.8 trillion in total.", "CNY 3.8 trillion", 3.8e12, "CNY"),
    ("It booked 45 billion yuan of new credit.", "45 billion yuan", 4.5e10, "CNY"),
    ("Investors put in $2.5bn.", "$2.5bn", 2.5e9, "USD"),
    ("The start-up raised US$750m from banks.", "US$750m", 7.5e8, "USD"),
    ("A fee of ¥300 applies.", "¥300", 300.0, "CNY"),
    ("The offer valued it at HK$12bn.", "HK$12bn", 1.2e10, "HKD"),
    ("Fines reached 3 million renminbi.", "3 million renminbi", 3e6, "CNY"),
    ("Sales were 40 million US dollars.", "40 million US dollars", 4e7, "USD"),
    ("It paid 900 million Hong Kong dollars.", "900 million Hong Kong dollars", 9e8, "HKD"),
    ("The fund holds €4.2 billion.", "€4.2 billion", 4.2e9, "EUR"),
    ("The bond raised 600 million euros.", "600 million euros", 6e8, "EUR"),
    ("Each borrower may take $50k.", "$50k", 5e4, "USD"),
    ("Capital of USD 300 mn was injected.", "USD 300 mn", 3e8, "USD"),
    ("Loans totalled 2.5 trillion RMB.", "2.5 trillion RMB", 2.5e12, "CNY"),
    ("A S$5 million grant went to Singapore.", "S$5 million", 5e6, "SGD"),
    # Chinese money
    ("消费贷款余额为3.6万亿元。", "3.6万亿元", 3.6e12, "CNY"),
    ("平台去年放款2300亿元。", "2300亿元", 2.3e11, "CNY"),
    ("公司获得人民币800亿元授信。", "人民币800亿元", 8e10, "CNY"),
    ("募资规模为30亿美元。", "30亿美元", 3e9, "USD"),
    ("配售筹得15亿港元。", "15亿港元", 1.5e9, "HKD"),
    ("单户授信不超过20万元。", "20万元", 2e5, "CNY"),
    ("总规模达到三千亿元。", "三千亿元", 3e11, "CNY"),
    ("资金余额约为五点四万亿元。", "约为五点四万亿元", 5.4e12, "CNY"),
    ("罚款共计4千万元人民币。", "4千万元人民币", 4e7, "CNY"),
    # rates
    ("The APR dropped to 18.5%.", "18.5%", 18.5, "percent"),
    ("Margins are 7 percent.", "7 percent", 7.0, "percent"),
    ("Margins are 7 per cent.", "7 per cent", 7.0, "percent"),
    ("Margins widened 3 pct.", "3 pct", 3.0, "percent"),
    ("The NPL ratio fell 0.4 percentage points.", "0.4 percentage points", 0.4, "percentage_point"),
    ("The NPL ratio fell 0.4pp.", "0.4pp", 0.4, "percentage_point"),
    ("The NPL ratio fell 0.4 ppt.", "0.4 ppt", 0.4, "percentage_point"),
    ("The bank raised the rate 15 basis points.", "15 basis points", 15.0, "basis_point"),
    ("Spreads narrowed 20bps.", "20bps", 20.0, "basis_point"),
    ("Spreads narrowed 20 bp.", "20 bp", 20.0, "basis_point"),
    ("A 0.25-percentage-point cut followed.", "0.25-percentage-point", 0.25, "percentage_point"),
    ("不良率下降0.3个百分点。", "0.3个百分点", 0.3, "percentage_point"),
    ("一年期LPR下调10个基点。", "10个基点", 10.0, "basis_point"),
    ("利率上限为百分之二十四。", "百分之二十四", 24.0, "percent"),
    ("降幅为两个百分点。", "两个百分点", 2.0, "percentage_point"),
    # full-width digits and percent sign are read without moving offsets
    ("增速为１２．５％，较上月回升。", "１２．５％", 12.5, "percent"),
    ("同比-3.2%", "-3.2%", -3.2, "percent"),
]


@pytest.mark.parametrize(("text", "span", "value", "unit"), VALUES)
def test_value_and_unit(text: str, span: str, value: float, unit: str) -> None:
    fig = pick(text, span)
    assert fig.value == value
    assert fig.unit == unit
    assert fig.low is None and fig.high is None


def test_decimal_arithmetic_leaves_no_float_noise() -> None:
    # In floats 8.2 * 1e9 is 8199999999.999999 and 2.3 * 1e8 is 229999999.99999997.
    assert one("It earned RMB 8.2 billion.").value == 8_200_000_000.0
    assert one("It earned $2.01bn.").value == 2_010_000_000.0
    assert one("余额为2.3亿元").value == 230_000_000.0
    assert one("规模为4.35万亿元").value == 4_350_000_000_000.0


# ---------------------------------------------------------------------------
# Ranges
# ---------------------------------------------------------------------------
RANGES = [
    ("Default rates of 3-5% are common.", "3-5%", 3.0, 5.0, "percent"),
    ("Default rates of 3–5% are common.", "3–5%", 3.0, 5.0, "percent"),
    ("Default rates of 3%-5% are common.", "3%-5%", 3.0, 5.0, "percent"),
    ("Default rates of 3 to 5 percent are common.", "3 to 5 percent", 3.0, 5.0, "percent"),
    ("Yields sit between 8% and 12% today.", "between 8% and 12%", 8.0, 12.0, "percent"),
    ("The deal is worth RMB 4-6 billion.", "RMB 4-6 billion", 4e9, 6e9, "CNY"),
    ("The deal is worth RMB 4 billion to 6 billion.", "RMB 4 billion to 6 billion", 4e9, 6e9, "CNY"),
    ("The deal is worth $200-300m.", "$200-300m", 2e8, 3e8, "USD"),
    ("年化利率在8%至12%之间。", "8%至12%", 8.0, 12.0, "percent"),
    ("年化利率为8到12%。", "8到12%", 8.0, 12.0, "percent"),
    ("单笔额度3-5万元。", "3-5万元", 3e4, 5e4, "CNY"),
    ("Fines range between RMB 10,000 and RMB 50,000.", "between RMB 10,000 and RMB 50,000", 1e4, 5e4, "CNY"),
]


@pytest.mark.parametrize(("text", "span", "low", "high", "unit"), RANGES)
def test_ranges_share_unit_and_scale(text: str, span: str, low: float, high: float, unit: str) -> None:
    fig = pick(text, span)
    assert (fig.low, fig.high, fig.unit) == (low, high, unit)
    assert fig.value == (low + high) / 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a start and an end point, not a range
        ("The cap was cut from 36% to 24%.", [("36%", 36.0), ("24%", 24.0)]),
        ("The cap was cut from 36 to 24 percent.", [("36", 36.0), ("24 percent", 24.0)]),
        ("从36%降至24%", [("36%", 36.0), ("24%", 24.0)]),
        # a change and the level it reached
        ("Capital rose by CNY 2 billion to CNY 9 billion.", [("CNY 2 billion", 2e9), ("CNY 9 billion", 9e9)]),
        ("Revenue rose 8% to RMB 30 billion.", [("8%", 8.0), ("RMB 30 billion", 3e10)]),
    ],
)
def test_not_ranges(text: str, expected: list[tuple[str, float]]) -> None:
    figures = find_figures(text)
    assert [(f.text, f.value) for f in figures] == expected
    assert all(f.low is None and f.high is None for f in figures)
    assert figures[0].unit == figures[1].unit or "RMB" in text


# ---------------------------------------------------------------------------
# What is not a figure
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "Under Article 12 and Notice No. 3, lenders must register.",
        "The 14th Five-Year Plan backs 5G, COVID-19 recovery and the G20 agenda.",
        "The rules took effect on 2 November 2020 and were revised in 2021.",
        "Results for Q2 and H1 come out in 1Q25.",
        "Call 010-6619 4114 or +86 21 1234 5678 for details.",
        "The company had 3,000 employees and 120 branches in 2019.",
        "2025年3月，该公司发布了第12号公告。",
        "他是第3位提出十四五规划建议的人。",
        "The 2021-2025 plan names 30 cities.",
        "Its 5m users and 20k merchants were served.",
        "这家公司推动业务多元化和一元化管理。",
        "",
    ],
)
def test_traps_yield_nothing(text: str) -> None:
    assert find_figures(text) == []


# ---------------------------------------------------------------------------
# Approximation words
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "span", "approx"),
    [
        ("Loans reached about RMB 90 billion.", "about RMB 90 billion", True),
        ("Loans reached around 6%.", "around 6%", True),
        ("Loans reached nearly $3bn.", "nearly $3bn", True),
        ("Loans reached roughly 40 billion yuan.", "roughly 40 billion yuan", True),
        ("Loans reached more than 40 billion yuan.", "more than 40 billion yuan", True),
        ("Loans of up to ¥200,000 are allowed.", "up to ¥200,000", True),
        ("It holds some 15% of the market.", "some 15%", True),
        ("It holds close to 15% of the market.", "close to 15%", True),
        ("It holds just under 15% of the market.", "just under 15%", True),
        ("It holds an estimated 15% of the market.", "an estimated 15%", True),
        ("It holds at least 15% of the market.", "at least 15%", True),
        ("贷款规模约3000亿元。", "约3000亿元", True),
        ("贷款规模超过3000亿元。", "超过3000亿元", True),
        ("贷款规模逾3000亿元。", "逾3000亿元", True),
        ("贷款规模将近3000亿元。", "将近3000亿元", True),
        ("贷款规模3000亿元左右。", "3000亿元左右", True),
        ("贷款规模3000亿元以上。", "3000亿元以上", True),
        ("贷款规模100多亿元。", "100多亿元", True),
        ("Loans reached RMB 90 billion.", "RMB 90 billion", False),
        ("Rates may be no more than 24%.", "24%", False),
        ("年化利率不超过24%。", "24%", False),
    ],
)
def test_approx_words_are_in_the_span(text: str, span: str, approx: bool) -> None:
    fig = one(text)
    assert fig.text == span
    assert fig.approx is approx


# ---------------------------------------------------------------------------
# Kind
# ---------------------------------------------------------------------------
KINDS = [
    # caps
    ("Lenders' APRs are capped at 24%.", "24%", "cap"),
    ("Regulators set a ceiling of 36% on private lending.", "36%", "cap"),
    ("Annual rates must not exceed 24%.", "24%", "cap"),
    ("Single loans are limited to RMB 200,000.", "RMB 200,000", "cap"),
    ("Rates can be at most 24%.", "24%", "cap"),
    ("Most loans sit within a 24% APR cap.", "24%", "cap"),
    ("Lenders shall not charge borrowers a total cost exceeding 24%.", "24%", "cap"),
    ("综合融资成本不得超过24%。", "24%", "cap"),
    ("单户余额上限为20万元。", "20万元", "cap"),
    ("利率最高不超过15.4%。", "15.4%", "cap"),
    # growth markers
    ("Income jumped 35% year-on-year.", "35%", "yoy"),
    ("Income jumped 35% y/y.", "35%", "yoy"),
    ("Income was up 35% from a year earlier.", "35%", "yoy"),
    ("Income grew 35% compared with a year earlier.", "35%", "yoy"),
    ("Income grew 4% quarter-on-quarter.", "4%", "qoq"),
    ("Income grew 4% sequentially.", "4%", "qoq"),
    ("Income grew 4% from the previous quarter.", "4%", "qoq"),
    ("The market will expand at a CAGR of 11% over five years.", "11%", "cagr"),
    ("The market will expand at a compound annual growth rate of 11%.", "11%", "cagr"),
    ("行业规模年复合增长率约为11%。", "约为11%", "cagr"),
    ("净利润同比增长35%。", "35%", "yoy"),
    ("营收环比下降4%。", "4%", "qoq"),
    # a percentage change over a stated year is a yoy change; one "since 2018" is not
    ("Loans grew 9% in 2024.", "9%", "yoy"),
    ("Profit rose 20% from 2023.", "20%", "yoy"),
    ("Shares have fallen 80% since 2018.", "80%", "change"),
    # change
    ("The PBOC lowered the one-year LPR by 10 basis points.", "10 basis points", "change"),
    ("Banks trimmed card rates by another 15 bps.", "15 bps", "change"),
    ("Its shares fell 12% on Tuesday.", "12%", "change"),
    ("It reported a 40% jump in users.", "40%", "change"),
    ("The central bank announced a 25bp cut.", "25bp", "change"),
    ("中国人民银行下调存款准备金率0.25个百分点。", "0.25个百分点", "change"),
    ("贷款利率下降0.5个百分点。", "0.5个百分点", "change"),
    # level
    ("Outstanding loans stood at RMB 4 trillion.", "RMB 4 trillion", "level"),
    ("The bank charges 18% a year.", "18%", "level"),
    ("The raise of $1.2bn closed on Monday.", "$1.2bn", "level"),
    ("The company raised $1.2bn in its listing.", "$1.2bn", "level"),
]


@pytest.mark.parametrize(("text", "span", "kind"), KINDS)
def test_kind(text: str, span: str, kind: str) -> None:
    assert pick(text, span).kind == kind


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        # the level after "to" stays a level although the sentence has a yoy marker
        ("Net income rose 18% year on year to RMB 7 billion.", ["yoy", "level"]),
        ("Revenue climbed 30% to $2bn from a year earlier.", ["yoy", "level"]),
        ("余额达5.1万亿元，同比增长9.5%。", ["level", "yoy"]),
        ("营收同比增长15%至320亿元。", ["yoy", "level"]),
        # a marker describes the figures coordinated with it
        ("营收和净利润同比分别增长12%和15%。", ["yoy", "yoy"]),
        # the base "from 1.8% a year earlier" is a level
        ("The NPL ratio rose to 2.1% from 1.8% a year earlier.", ["level", "level"]),
        # markers are local: a cut in the other clause is not yoy
        ("Loans rose 12% year on year, while the LPR was cut by 10 bps.", ["yoy", "change"]),
        ("It cut rates by 25 basis points to 3.1%.", ["change", "level"]),
        ("The two lenders added capital by 1 billion yuan and 500 million yuan respectively.", ["change", "change"]),
    ],
)
def test_kind_in_context(text: str, kinds: list[str]) -> None:
    assert [f.kind for f in find_figures(text)] == kinds


# ---------------------------------------------------------------------------
# Period
# ---------------------------------------------------------------------------
PERIODS = [
    ("Lending should hit RMB 6 trillion in 2026.", "RMB 6 trillion", "2026", None),
    ("Defaults rose 8% for 2023.", "8%", "2023", None),
    ("Loans will triple to $9bn by 2030.", "$9bn", "2030", None),
    ("Volumes will grow 6% a year through 2028.", "6%", "2028", None),
    ("Revenue rose 11% in the third quarter of 2024.", "11%", "2024Q3", None),
    ("Revenue rose 11% in Q3 2024.", "11%", "2024Q3", None),
    ("Revenue rose 11% in 2024 Q3.", "11%", "2024Q3", None),
    ("Revenue rose 11% in 3Q24.", "11%", "2024Q3", None),
    ("Revenue rose 11% in the first half of 2024.", "11%", "2024H1", None),
    ("Revenue rose 11% in H2 2024.", "11%", "2024H2", None),
    ("Its NPL ratio was 1.9% as of 30 June 2025.", "1.9%", "2025Q2", None),
    ("2024年净利润为12亿元。", "12亿元", "2024", None),
    ("2025年第二季度，净利润为12亿元。", "12亿元", "2025Q2", None),
    ("2025年二季度净利润为12亿元。", "12亿元", "2025Q2", None),
    ("2025年上半年净利润为12亿元。", "12亿元", "2025H1", None),
    ("2024年末贷款余额为3万亿元。", "3万亿元", "2024", None),
    # relative years need a reference year
    ("Profit reached RMB 2 billion this year.", "RMB 2 billion", "2025", 2025),
    ("Profit reached RMB 2 billion last year.", "RMB 2 billion", "2024", 2025),
    ("Profit may reach RMB 2 billion next year.", "RMB 2 billion", "2026", 2025),
    ("Profit reached RMB 2 billion last year.", "RMB 2 billion", None, None),
    ("今年一季度净利润为12亿元。", "12亿元", "2025Q1", 2025),
    ("去年净利润为12亿元。", "12亿元", "2024", 2025),
    # nearest expression wins
    ("Loans rose 9% in 2023 and 12% in 2024.", "12%", "2024", None),
    ("The ratio fell to 2.0% at the end of 2024 from 2.4% at the end of 2023.", "2.4%", "2023", None),
    # no period / comparison bases are not periods
    ("Loans rose 9% on strong demand.", "9%", None, None),
    ("Loans rose 9% from the same period last year.", "9%", None, 2025),
    ("Shares have fallen 80% since 2018.", "80%", None, None),
    # a year dating someone else's relative clause
    ("The lender, which listed in 2019, holds 30% of the market.", "30%", None, None),
]


@pytest.mark.parametrize(("text", "span", "period", "reference_year"), PERIODS)
def test_period(text: str, span: str, period: str | None, reference_year: int | None) -> None:
    assert pick(text, span, reference_year=reference_year).period == period


def test_years_are_not_figures_but_periods() -> None:
    figures = find_figures("In 2022, the regulator fined the lender RMB 50 million.")
    assert [f.text for f in figures] == ["RMB 50 million"]
    assert figures[0].period == "2022"


# ---------------------------------------------------------------------------
# Metric
# ---------------------------------------------------------------------------
METRICS = [
    ("Outstanding consumer credit reached RMB 19 trillion.", "RMB 19 trillion", "loan_balance"),
    ("The loan book grew 7%.", "7%", "loan_balance"),
    ("Loans facilitated totalled RMB 400 billion.", "RMB 400 billion", "loan_volume"),
    ("New loans reached RMB 400 billion.", "RMB 400 billion", "loan_volume"),
    ("Net profit could reach $600m.", "$600m", "profit"),
    ("Revenue slipped 3%.", "3%", "revenue"),
    ("Operating income was CNY 15 billion.", "CNY 15 billion", "revenue"),
    ("Consumer loan defaults surged 60%.", "60%", "npl"),
    ("Consumer credit delinquencies rose 1.2 percentage points.", "1.2 percentage points", "npl"),
    ("Consumer loan rates fell 30 bps.", "30 bps", "interest_rate"),
    ("Default rates rose 30 bps.", "30 bps", "npl"),
    ("The bank cut the loan prime rate by 10 basis points.", "10 basis points", "interest_rate"),
    ("Borrowing costs should stay below 18%.", "18%", "interest_rate"),
    ("The regulator imposed a fine of RMB 5 million.", "RMB 5 million", "fine"),
    ("The firm was fined RMB 5 million.", "RMB 5 million", "fine"),
    ("Households get a subsidy of 1 percentage point.", "1 percentage point", "subsidy"),
    ("The PBOC cut the RRR by 25 bps.", "25 bps", "reserve_ratio"),
    ("The lender's registered capital rose to RMB 8 billion.", "RMB 8 billion", "capital"),
    ("The IPO could raise $3bn.", "$3bn", "capital"),
    ("Its market share rose to 21%.", "21%", "market_share"),
    ("The two apps hold over 90% of the mobile payment market.", "over 90%", "market_share"),
    ("About 8% of users borrowed twice.", "About 8%", "borrowers"),
    ("Outstanding loans to a single borrower are capped at RMB 200,000.", "RMB 200,000", "loan_balance"),
    # "% of X": the denominator does not beat the subject
    ("NPLs equal 2% of total loans.", "2%", "npl"),
    # a vague head keeps its modifier
    ("不良贷款余额为500亿元。", "500亿元", "npl"),
    ("消费贷款余额为5万亿元。", "5万亿元", "loan_balance"),
    ("年化利率不得超过24%。", "24%", "interest_rate"),
    ("公司净利润为12亿元。", "12亿元", "profit"),
    ("逾期率上升0.5个百分点。", "0.5个百分点", "npl"),
    ("存款准备金率下调0.5个百分点。", "0.5个百分点", "reserve_ratio"),
    ("平台放款1200亿元。", "1200亿元", "loan_volume"),
    ("借款人平均借款8000元。", "8000元", "borrowers"),
    # the clause without a subject continues the previous one
    ("消费贷款余额为5万亿元，同比增长12%。", "12%", "loan_balance"),
    ("Net profit was RMB 3 billion, up 20% year on year.", "20%", "profit"),
    # measured quantities outside the categories
    ("Its shares fell 12% on Tuesday.", "12%", "other"),
    ("It held cash of about RMB 8 billion.", "about RMB 8 billion", "other"),
    ("Provision coverage on card loans fell 20 percentage points.", "20 percentage points", "other"),
    # a participle clause shares the subject of the main clause
    ("Card APRs stay capped at 24%, rejecting calls for a cap of 20%.", "20%", "interest_rate"),
    # no keyword at all
    ("Analysts see the sector reaching CNY 7 trillion.", "CNY 7 trillion", None),
    # another clause with its own subject does not lend its keyword
    ("Revenue rose 10%, and the group hired 20% more staff.", "20%", None),
]


@pytest.mark.parametrize(("text", "span", "metric"), METRICS)
def test_metric(text: str, span: str, metric: str | None) -> None:
    assert pick(text, span).metric == metric


# ---------------------------------------------------------------------------
# Whole sentences and invariants
# ---------------------------------------------------------------------------
def test_full_english_sentence() -> None:
    text = ("In the second quarter of 2024, online consumer loan defaults climbed 75% year on year, "
            "while outstanding loans reached about RMB 2.2 trillion.")
    first, second = find_figures(text)
    assert (first.text, first.value, first.unit, first.kind, first.period, first.metric) == (
        "75%", 75.0, "percent", "yoy", "2024Q2", "npl")
    assert (second.text, second.value, second.unit, second.kind, second.approx, second.metric) == (
        "about RMB 2.2 trillion", 2.2e12, "CNY", "level", True, "loan_balance")


def test_full_chinese_sentence() -> None:
    text = "2025年一季度末，全国个人消费贷款余额约为6.2万亿元，同比增长8.3%，不良率下降0.2个百分点。"
    a, b, c = find_figures(text)
    assert (a.value, a.unit, a.kind, a.approx, a.period, a.metric) == (6.2e12, "CNY", "level", True, "2025Q1",
                                                                       "loan_balance")
    assert (b.value, b.kind, b.period, b.metric) == (8.3, "yoy", "2025Q1", "loan_balance")
    assert (c.value, c.unit, c.kind, c.metric) == (0.2, "percentage_point", "change", "npl")


INVARIANT_TEXTS = [t for t, *_ in VALUES + RANGES + KINDS + PERIODS + METRICS] + [
    "Rates between 10% and 15%, RMB 2-3 billion, 5%至7%, ５％ and about $1bn, 逾3000亿元。",
    "  Padding   before: approximately CNY 5 trillion\u3000and ５０亿元 after.",
]


@pytest.mark.parametrize("text", INVARIANT_TEXTS)
def test_offsets_order_and_no_overlap(text: str) -> None:
    figures = find_figures(text)
    for f in figures:
        assert text[f.start:f.end] == f.text
        assert f.kind in {"level", "yoy", "qoq", "cagr", "cap", "change"}
        assert (f.low is None) == (f.high is None)
    starts = [f.start for f in figures]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in zip(figures, figures[1:]))
