"""The stance index and its shift alerts, computed from plain rows the store reads and writes.

The index answers "what was the mean document stance of this group in this
period, and how sure are we?" for every period between the first and the last
published document, at three frequencies and for four kinds of group:

* ``all``: every analysed document with a publication date;
* ``source``: the documents of one source (``documents.source_id``);
* ``regulator``: the documents that mention one REGULATOR or GOVERNMENT entity;
* ``lender``: the documents that mention one LENDER entity.

Each document counts once per group, with its own score (``documents.stance_score``,
itself the relevance-weighted mean of its sentences). ``stance_low``/``stance_high``
are a two-sided 95% Student t-interval for the mean over the documents of the
period, clipped to the score range [-1, 1]; with a single document there is no
spread to estimate, so the interval is the whole range. An empty period is a
row with zero counts and no stance, never a gap.

Shift alerts come from a two-sided CUSUM over each group's weekly series (see
:func:`detect_shifts` and the constants below). :func:`refresh_index` reads the
inputs through the store, rebuilds everything and writes it back in one
transaction: the build is full, not incremental. Most of the work is writing the
zero rows (the demo's 68 documents make some 240,000 rows, mostly empty days,
in one to two seconds); rows are generated as they are written, never held in memory.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from . import store
from .errors import InputError

FREQS = ("day", "week", "month")
GROUP_TYPES = ("all", "source", "regulator", "lender")

#: The columns of ``stance_index`` and of ``tracker export series`` (export leaves out ``freq``).
INDEX_COLUMNS = (
    "period", "freq", "group_type", "group_id",
    "n_documents", "n_sentences", "stance_mean", "stance_low", "stance_high",
)
SERIES_COLUMNS = tuple(c for c in INDEX_COLUMNS if c != "freq")

#: Entity types that make a ``regulator`` or a ``lender`` group.
REGULATOR_TYPES = frozenset({"REGULATOR", "GOVERNMENT"})
LENDER_TYPES = frozenset({"LENDER"})

#: Coverage of the interval around each period's mean.
CONFIDENCE = 0.95
#: Decimal places kept for stance values (well below the interval widths).
DIGITS = 6

# CUSUM over the weekly series, in stance units (the score runs from -1 to +1).
#: k: weekly deviations from the reference smaller than this are ignored as noise.
CUSUM_ALLOWANCE = 0.25
#: h: an alert fires when the summed excess deviations reach this.
CUSUM_THRESHOLD = 1.0
#: Non-empty weeks averaged into a reference before the detector watches a group.
CUSUM_WARMUP = 4


@dataclass(frozen=True)
class ScoredDocument:
    """One analysed document, as the index sees it."""

    id: int
    day: date
    source_id: str | None
    score: float
    n_sentences: int
    regulators: tuple[str, ...] = ()
    lenders: tuple[str, ...] = ()


@dataclass(frozen=True)
class WeekPoint:
    """A non-empty period of one group's series: its mean and the documents behind it."""

    period: date
    mean: float
    document_ids: tuple[int, ...]


@dataclass
class Shift:
    """A change in level found by :func:`detect_shifts`."""

    period: date  # the week the detector fired
    since: date  # the first week of the run of deviations that crossed the threshold
    direction: str  # tightening or accommodative
    reference: float  # mean of the weeks before the change
    level: float  # mean of the weeks since the change began
    statistic: float  # the CUSUM value when it fired
    document_ids: tuple[int, ...] = field(default_factory=tuple)

    @property
    def magnitude(self) -> float:
        return self.level - self.reference


# --- periods ----------------------------------------------------------------


def parse_day(value: str | None) -> date | None:
    """The UTC calendar day of an ISO date or datetime; None when missing or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.date()


def check_freq(freq: str) -> str:
    if freq not in FREQS:
        raise InputError(f"freq must be one of {', '.join(FREQS)}, not {freq!r}")
    return freq


def period_start(day: date, freq: str) -> date:
    """The first day of the period containing ``day``: itself, its week's Monday, or the 1st."""
    if freq == "day":
        return day
    if freq == "week":
        return day - timedelta(days=day.weekday())
    if freq == "month":
        return day.replace(day=1)
    raise InputError(f"freq must be one of {', '.join(FREQS)}, not {freq!r}")


def next_period(start: date, freq: str) -> date:
    if freq == "day":
        return start + timedelta(days=1)
    if freq == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def periods_between(first: date, last: date, freq: str) -> list[date]:
    """Every period start from the period of ``first`` to the period of ``last``."""
    current, end = period_start(first, freq), period_start(last, freq)
    periods = []
    while current <= end:
        periods.append(current)
        current = next_period(current, freq)
    return periods


# --- statistics --------------------------------------------------------------


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.special import stdtrit  # scipy comes with scikit-learn; imported late, it is slow

    return float(stdtrit(df, p))


def mean_interval(scores: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``scores`` and its Student t-interval, within [-1, 1].

    One score gives the whole range [-1, 1]: a single document says nothing about
    how much documents of that period disagree.
    """
    n = len(scores)
    if n == 0:
        raise ValueError("no scores")
    mean = math.fsum(scores) / n
    if n == 1:
        return mean, -1.0, 1.0
    variance = math.fsum((s - mean) ** 2 for s in scores) / (n - 1)
    half = t_quantile(0.5 + confidence / 2, n - 1) * math.sqrt(variance / n)
    return mean, max(-1.0, mean - half), min(1.0, mean + half)


# --- the index ---------------------------------------------------------------


def memberships(doc: ScoredDocument) -> list[tuple[str, str]]:
    """The ``(group_type, group_id)`` pairs a document counts in."""
    groups = [("all", "all")]
    if doc.source_id:
        groups.append(("source", doc.source_id))
    groups += [("regulator", e) for e in doc.regulators]
    groups += [("lender", e) for e in doc.lenders]
    return groups


def bucket_documents(
    documents: Sequence[ScoredDocument], freq: str
) -> dict[tuple[str, str], dict[date, list[ScoredDocument]]]:
    """Documents by group, then by period start."""
    buckets: dict[tuple[str, str], dict[date, list[ScoredDocument]]] = defaultdict(lambda: defaultdict(list))
    for doc in documents:
        start = period_start(doc.day, freq)
        for group in memberships(doc):
            buckets[group][start].append(doc)
    return buckets


def _row(period: date, freq: str, group: tuple[str, str], docs: Sequence[ScoredDocument]) -> dict[str, Any]:
    return _cell_row(period, freq, group, [d.score for d in docs], sum(d.n_sentences for d in docs))


def _cell_row(period: date, freq: str, group: tuple[str, str], scores: list[float], n_sentences: int) -> dict[str, Any]:
    """One ``stance_index`` row from the scores of its documents (the order does not matter:
    sums are exact, ``math.fsum``, so an incremental update writes what a rebuild writes)."""
    row = {
        "period": period.isoformat(),
        "freq": freq,
        "group_type": group[0],
        "group_id": group[1],
        "n_documents": len(scores),
        "n_sentences": n_sentences,
        "stance_mean": None,
        "stance_low": None,
        "stance_high": None,
    }
    if scores:
        mean, low, high = mean_interval(scores)
        row.update(
            stance_mean=round(mean, DIGITS), stance_low=round(low, DIGITS), stance_high=round(high, DIGITS)
        )
    return row


def group_order(group: tuple[str, str]) -> tuple[int, str]:
    return GROUP_TYPES.index(group[0]), group[1]


def iter_index_rows(documents: Sequence[ScoredDocument], freqs: Iterable[str] = FREQS) -> Iterator[dict[str, Any]]:
    """The ``stance_index`` rows, one at a time: every group with at least one document gets
    a row for every period between the first and the last document (zero counts when empty).
    Most rows are empty days, so they are generated as the store writes them, not held."""
    if not documents:
        return
    first = min(d.day for d in documents)
    last = max(d.day for d in documents)
    for freq in freqs:
        buckets = bucket_documents(documents, check_freq(freq))
        periods = periods_between(first, last, freq)
        for group in sorted(buckets, key=group_order):
            by_period = buckets[group]
            for period in periods:
                yield _row(period, freq, group, by_period.get(period, ()))


def index_rows(documents: Sequence[ScoredDocument], freqs: Iterable[str] = FREQS) -> list[dict[str, Any]]:
    """All of :func:`iter_index_rows` as a list."""
    return list(iter_index_rows(documents, freqs))


# --- shifts ------------------------------------------------------------------


def detect_shifts(
    points: Sequence[WeekPoint],
    *,
    allowance: float = CUSUM_ALLOWANCE,
    threshold: float = CUSUM_THRESHOLD,
    warmup: int = CUSUM_WARMUP,
) -> list[Shift]:
    """Two-sided CUSUM over the non-empty weeks of one series, in time order.

    The reference is the mean of the first ``warmup`` weeks. For each later week
    with mean x, ``up = max(0, up + x - reference - allowance)`` and
    ``down = max(0, down + reference - x - allowance)``; when either reaches
    ``threshold`` a shift fires (accommodative for ``up``, tightening for
    ``down``). The weeks since that sum last left zero are the change: their
    documents are the evidence, and they become the baseline of the new
    reference, so a lasting change fires once, not every week. Empty weeks
    carry no information and are skipped.
    """
    shifts: list[Shift] = []
    baseline: list[WeekPoint] = []
    reference: float | None = None
    up = down = 0.0
    up_start = down_start = 0
    for i, point in enumerate(points):
        if reference is None:
            baseline.append(point)
            if len(baseline) >= warmup:
                reference = math.fsum(p.mean for p in baseline) / len(baseline)
                up = down = 0.0
            continue
        if up == 0.0:
            up_start = i
        if down == 0.0:
            down_start = i
        up = max(0.0, up + point.mean - reference - allowance)
        down = max(0.0, down + reference - point.mean - allowance)
        if up < threshold and down < threshold:
            continue
        rising = up >= down
        start = up_start if rising else down_start
        run = list(points[start : i + 1])
        level = math.fsum(p.mean for p in run) / len(run)
        shifts.append(
            Shift(
                period=point.period,
                since=run[0].period,
                direction="accommodative" if rising else "tightening",
                reference=reference,
                level=level,
                statistic=up if rising else down,
                document_ids=tuple(sorted({d for p in run for d in p.document_ids})),
            )
        )
        baseline = run
        reference = level if len(run) >= warmup else None
        up = down = 0.0
    return shifts


def weekly_points(by_period: dict[date, list[ScoredDocument]]) -> list[WeekPoint]:
    return [
        WeekPoint(
            period=p,
            mean=math.fsum(d.score for d in docs) / len(docs),
            document_ids=tuple(sorted(d.id for d in docs)),
        )
        for p, docs in sorted(by_period.items())
        if docs
    ]


def alert_rows(documents: Sequence[ScoredDocument]) -> list[dict[str, Any]]:
    """The ``alerts`` rows: shifts in every group's weekly series, oldest first."""
    rows = []
    buckets = bucket_documents(documents, "week")
    for group in sorted(buckets, key=group_order):
        rows += group_alert_rows(group, buckets[group])
    return sort_alerts(rows)


def sort_alerts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows.sort(key=lambda r: (r["date"], GROUP_TYPES.index(r["group_type"]), r["group_id"]))
    return rows


def group_alert_rows(group: tuple[str, str], by_week: dict[date, list[Any]]) -> list[dict[str, Any]]:
    """The ``alerts`` rows of one group from its documents by week (anything with ``id`` and ``score``)."""
    rows = []
    for shift in detect_shifts(weekly_points(by_week)):
        rows.append(
            {
                "date": shift.period.isoformat(),
                "freq": "week",
                "group_type": group[0],
                "group_id": group[1],
                "direction": shift.direction,
                "magnitude": round(shift.magnitude, 4),
                "reference": round(shift.reference, 4),
                "level": round(shift.level, 4),
                "statistic": round(shift.statistic, 4),
                "threshold": CUSUM_THRESHOLD,
                "since": shift.since.isoformat(),
                "n_documents": len(shift.document_ids),
                "document_ids": json.dumps(list(shift.document_ids)),
            }
        )
    return rows


# --- reading, building, writing ---------------------------------------------


def scored_documents(rows: Iterable[dict[str, Any]]) -> list[ScoredDocument]:
    """Index inputs from the store's plain rows; undated or unscored documents are left out."""
    documents = []
    for row in rows:
        day = parse_day(row.get("published"))
        if day is None or row.get("stance_score") is None:
            continue
        types = row.get("entities") or []
        documents.append(
            ScoredDocument(
                id=row["id"],
                day=day,
                source_id=row.get("source_id"),
                score=float(row["stance_score"]),
                n_sentences=int(row.get("n_sentences") or 0),
                regulators=tuple(sorted({e for e, t in types if t in REGULATOR_TYPES})),
                lenders=tuple(sorted({e for e, t in types if t in LENDER_TYPES})),
            )
        )
    return documents


@dataclass
class IndexBuild:
    n_documents: int
    n_rows: int  # rows written
    n_alerts: int
    seconds: float
    mode: str = "full"  # full, incremental, or unchanged (nothing to do)


def snapshot_rows(documents: Sequence[ScoredDocument]) -> tuple[Iterator[tuple], Iterator[tuple]]:
    """What the store keeps of the documents an index was built from (see ``update_index``),
    generated as it is written."""
    docs = ((d.id, d.day.isoformat(), d.source_id, d.score, d.n_sentences) for d in documents)
    groups = ((g[0], g[1], d.day.isoformat(), d.id) for d in documents for g in memberships(d))
    return docs, groups


def refresh_index(db) -> IndexBuild:
    """Rebuild ``stance_index`` and ``alerts`` from the analysed documents (a full
    rebuild, written in one transaction). ``tracker index`` runs this; the nightly run
    calls :func:`update_index`, which falls back to this when it must."""
    started = time.perf_counter()
    with store.write_transaction(db):
        documents = scored_documents(store.index_inputs(db))
        alerts = alert_rows(documents)
        n_rows = store.replace_stance_index(
            db, iter_index_rows(documents), alerts, n_documents=len(documents), snapshot=snapshot_rows(documents)
        )
        store.refresh_statistics(db)  # the query planner's statistics, for the site's queries
    seconds = time.perf_counter() - started
    return IndexBuild(n_documents=len(documents), n_rows=n_rows, n_alerts=len(alerts), seconds=seconds)


#: ``update_index`` rebuilds in full when more documents than this share of the indexed
#: ones (and at least ``FULL_REBUILD_MIN`` documents) changed: a rebuild is cheaper then.
FULL_REBUILD_SHARE = 0.2
FULL_REBUILD_MIN = 500


class _Doc:
    """A snapshot document as ``weekly_points`` reads it."""

    __slots__ = ("id", "score")

    def __init__(self, id: int, score: float):
        self.id, self.score = id, score


def update_index(db) -> IndexBuild:
    """Bring ``stance_index`` and ``alerts`` up to date with the documents changed since the
    last build (the store's triggers list them), recomputing only what they touch.

    Each changed document's old and new contributions (from the snapshot the last build
    left, and from the documents now) name the cells to recompute: for each frequency,
    the periods of its old and new day in each group it counted or counts in. Groups that
    appear get a full calendar of rows; groups left without documents lose theirs; when
    the first or last day moves, every group gains or loses the periods at the ends.
    Alerts are recomputed for the groups touched. The result is the same as a full rebuild
    (a test checks it), in one transaction. Nothing changed: nothing is done ("unchanged").
    No usable snapshot (the first build, or a build by an older version) or many changes:
    a full rebuild."""
    started = time.perf_counter()
    with store.write_transaction(db):
        state = store.index_state(db)
        dirty = state["dirty"]
        if state["ready"] and not dirty:
            build = store.last_index_build(db) or {}
            return IndexBuild(state["n_documents"], 0, build.get("n_alerts") or 0, time.perf_counter() - started, "unchanged")
        if not state["ready"] or len(dirty) > max(FULL_REBUILD_MIN, FULL_REBUILD_SHARE * state["n_documents"]):
            return refresh_index(db)
        old_first, old_last = store.index_calendar(db)
        had_groups = store.indexed_groups(db)
        old = store.index_snapshot(db, dirty)
        new = scored_documents(store.index_inputs(db, ids=dirty))
        store.replace_index_snapshot(db, *snapshot_rows(new), ids=dirty)
        first, last = store.index_calendar(db)

        touched: set[tuple[str, str]] = set()
        cells: set[tuple[str, tuple[str, str], date]] = set()
        for day, groups in [(date.fromisoformat(o["day"]), o["groups"]) for o in old] + [
            (d.day, memberships(d)) for d in new
        ]:
            for group in groups:
                group = (group[0], group[1])
                touched.add(group)
                for freq in FREQS:
                    cells.add((freq, group, period_start(day, freq)))
        gone = {g for g in touched & had_groups if not store.group_has_documents(db, g)}
        added = {g for g in touched - had_groups if store.group_has_documents(db, g)}
        groups_after = (had_groups - gone) | added

        delete_periods: list[tuple[str, str, str, str]] = []
        rows: list[dict[str, Any]] = []
        calendars: dict[str, list[date]] = {}
        for freq in FREQS:
            before = periods_between(date.fromisoformat(old_first), date.fromisoformat(old_last), freq) if old_first else []
            after = periods_between(date.fromisoformat(first), date.fromisoformat(last), freq) if first else []
            calendars[freq] = after
            dropped, extra = sorted(set(before) - set(after)), sorted(set(after) - set(before))
            for group in sorted(had_groups - gone, key=group_order):
                delete_periods += [(freq, group[0], group[1], p.isoformat()) for p in dropped]
                rows += [_cell_row(p, freq, group, [], 0) for p in extra]
            for group in sorted(added, key=group_order):
                rows += [_cell_row(p, freq, group, [], 0) for p in after]
        for freq, group, period in sorted(cells, key=lambda c: (c[0], group_order(c[1]), c[2])):
            if group not in groups_after or not calendars[freq] or not calendars[freq][0] <= period <= calendars[freq][-1]:
                continue
            found = store.cell_documents(db, group, period.isoformat(), next_period(period, freq).isoformat())
            rows.append(_cell_row(period, freq, group, [score for score, _ in found], sum(n for _, n in found)))
        n_rows = store.update_stance_index(db, delete_groups=sorted(gone), delete_periods=delete_periods, rows=rows)

        alerts = store.alerts_except(db, touched)
        for group in sorted(touched & groups_after, key=group_order):
            by_week: dict[date, list[_Doc]] = defaultdict(list)
            for day, document_id, score in store.group_documents(db, group):
                by_week[period_start(date.fromisoformat(day), "week")].append(_Doc(document_id, score))
            alerts += group_alert_rows(group, by_week)
        n_alerts = store.replace_alerts(db, sort_alerts(alerts))
        n_documents = store.index_state(db)["n_documents"]
        store.refresh_statistics(db, always=False)
        seconds = time.perf_counter() - started
        store.record_index_build(
            db, mode="incremental", n_documents=n_documents, n_rows=n_rows, n_alerts=n_alerts, seconds=seconds
        )
    return IndexBuild(n_documents, n_rows, n_alerts, seconds, "incremental")


def series(
    db,
    *,
    freq: str = "month",
    by: str = "all",
    since: str | None = None,
    until: str | None = None,
) -> list[dict[str, Any]]:
    """One frequency and group type of the index as rows of :data:`SERIES_COLUMNS`, ordered
    by period, group type and group id. ``since``/``until`` are ISO dates: the series runs
    from the period containing ``since`` to the period containing ``until``."""
    check_freq(freq)
    if by not in GROUP_TYPES:
        raise InputError(f"by must be one of {', '.join(GROUP_TYPES)}, not {by!r}")
    low = _bound(since, "since", freq)
    high = _bound(until, "until", freq)
    if low and high and low > high:
        raise InputError(f"--since {since} is after --until {until}")
    if not store.index_built(db):
        raise InputError("the stance index has not been built yet: run 'tracker index' first")
    return store.stance_series(
        db, freq=freq, group_type=by, since=low and low.isoformat(), until=high and high.isoformat()
    )


def _bound(value: str | None, name: str, freq: str) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"--{name} must be an ISO date like 2024-01-31, not {value!r}") from None
    return period_start(day, freq)
