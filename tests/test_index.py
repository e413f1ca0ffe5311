"""The stance index: periods, intervals, zero rows, shift alerts, and `tracker export series`."""

from __future__ import annotations

import csv
import io
import json
import random
import statistics
from datetime import date, timedelta
from itertools import count

import pytest

from tracker import index, library, store
from tracker.aggregate import label_for
from tracker.cli_site import export_group, index_command
from tracker.index import ScoredDocument, WeekPoint
from tracker.records import Analysis, Document, Mention, Sentence, Stance

HEADER = "period,group_type,group_id,n_documents,n_sentences,stance_mean,stance_low,stance_high"


# --- periods and intervals -----------------------------------------------------


def test_period_starts():
    sunday, monday = date(2024, 3, 10), date(2024, 3, 11)
    assert index.period_start(sunday, "week") == date(2024, 3, 4)
    assert index.period_start(monday, "week") == monday
    assert index.period_start(sunday, "month") == date(2024, 3, 1)
    assert index.period_start(sunday, "day") == sunday
    assert index.periods_between(date(2023, 11, 30), date(2024, 2, 1), "month") == [
        date(2023, 11, 1), date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1)
    ]
    assert len(index.periods_between(date(2024, 2, 27), date(2024, 3, 2), "day")) == 5


def test_dates_are_read_as_utc_days():
    assert index.parse_day("2024-03-10") == date(2024, 3, 10)
    assert index.parse_day("2024-03-10T01:30:00+08:00") == date(2024, 3, 9)
    assert index.parse_day("2024-03-10T23:30:00Z") == date(2024, 3, 10)
    assert index.parse_day("March 2024") is None and index.parse_day(None) is None


def test_t_interval_matches_the_textbook_value():
    mean, low, high = index.mean_interval([0.1, 0.3, 0.5])
    # mean 0.3, sd 0.2, t(0.975, 2) = 4.302653: half-width 0.496827
    assert mean == pytest.approx(0.3)
    assert low == pytest.approx(0.3 - 0.496827, abs=1e-6)
    assert high == pytest.approx(0.3 + 0.496827, abs=1e-6)


def test_one_document_gives_the_whole_range_and_intervals_stay_in_range():
    assert index.mean_interval([0.42]) == (0.42, -1.0, 1.0)
    mean, low, high = index.mean_interval([0.95, 1.0, -0.9])
    assert -1.0 <= low <= mean <= high <= 1.0


def test_t_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = random.Random(7)
    hits = 0
    for _ in range(2000):
        sample = [rng.gauss(-0.2, 0.25) for _ in range(5)]
        _, low, high = index.mean_interval(sample)
        hits += low <= -0.2 <= high
    assert 0.93 <= hits / 2000 <= 0.97


# --- index rows ------------------------------------------------------------------


def _doc(i, day, score, source="wire", regulators=(), lenders=(), n_sentences=3):
    return ScoredDocument(
        id=i, day=date.fromisoformat(day), source_id=source, score=score, n_sentences=n_sentences,
        regulators=tuple(regulators), lenders=tuple(lenders),
    )


def test_empty_periods_are_rows_with_zero_counts_for_every_group():
    docs = [
        _doc(1, "2024-01-03", -0.5, regulators=["pboc"]),
        _doc(2, "2024-01-20", -0.3, source="daily"),
        _doc(3, "2024-03-20", 0.4, lenders=["webank"]),
    ]
    rows = index.index_rows(docs)
    monthly = [r for r in rows if r["freq"] == "month"]
    groups = {(r["group_type"], r["group_id"]) for r in monthly}
    assert groups == {("all", "all"), ("source", "wire"), ("source", "daily"), ("regulator", "pboc"), ("lender", "webank")}
    for group in groups:
        periods = [r["period"] for r in monthly if (r["group_type"], r["group_id"]) == group]
        assert periods == ["2024-01-01", "2024-02-01", "2024-03-01"], group
    february = next(r for r in monthly if r["group_type"] == "all" and r["period"] == "2024-02-01")
    assert february == {
        "period": "2024-02-01", "freq": "month", "group_type": "all", "group_id": "all",
        "n_documents": 0, "n_sentences": 0, "stance_mean": None, "stance_low": None, "stance_high": None,
    }
    january = next(r for r in monthly if r["group_type"] == "all" and r["period"] == "2024-01-01")
    assert (january["n_documents"], january["n_sentences"], january["stance_mean"]) == (2, 6, -0.4)
    assert january["stance_low"] < -0.4 < january["stance_high"]
    days = [r for r in rows if r["freq"] == "day" and r["group_type"] == "all"]
    assert len(days) == 78 and sum(r["n_documents"] for r in days) == 3
    weeks = [r["period"] for r in rows if r["freq"] == "week" and r["group_type"] == "all"]
    assert weeks[0] == "2024-01-01" and all(date.fromisoformat(p).weekday() == 0 for p in weeks)


# --- shift alerts -------------------------------------------------------------------


def _weeks(values, start=date(2020, 1, 6)):
    return [WeekPoint(start + timedelta(weeks=i), v, (i,)) for i, v in enumerate(values)]


def test_a_step_change_fires_one_alert_in_its_direction():
    rng = random.Random(3)
    values = [rng.gauss(-0.4, 0.1) for _ in range(30)] + [rng.gauss(0.4, 0.1) for _ in range(30)]
    shifts = index.detect_shifts(_weeks(values))
    assert len(shifts) == 1
    shift = shifts[0]
    step = date(2020, 1, 6) + timedelta(weeks=30)
    assert shift.direction == "accommodative"
    assert step <= shift.since <= shift.period <= step + timedelta(weeks=3)
    assert shift.magnitude == pytest.approx(0.8, abs=0.2)
    assert set(shift.document_ids) <= set(range(30, 60)) and 30 in shift.document_ids

    down = index.detect_shifts(_weeks([-v for v in values]))
    assert [s.direction for s in down] == ["tightening"]


def test_noise_fires_no_alert():
    rng = random.Random(11)
    for sigma in (0.1, 0.15):
        values = [rng.gauss(0.1, sigma) for _ in range(300)]
        assert index.detect_shifts(_weeks(values)) == [], sigma


def test_alerts_skip_empty_weeks_and_list_the_documents_behind_them():
    docs = [_doc(i, f"2021-{m:02d}-15", -0.6) for i, m in enumerate(range(1, 7), start=1)]
    docs += [_doc(10 + i, f"2022-{m:02d}-15", 0.5) for i, m in enumerate(range(1, 4))]
    alerts = [a for a in index.alert_rows(docs) if a["group_type"] == "all"]
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["direction"] == "accommodative" and alert["freq"] == "week"
    assert json.loads(alert["document_ids"]) == [10, 11] and alert["n_documents"] == 2
    assert alert["date"] == "2022-02-14" and alert["since"] == "2022-01-10"
    assert alert["statistic"] >= index.CUSUM_THRESHOLD


# --- through the store -------------------------------------------------------------------

_texts = count()


def add_scored(db, day, score, *, source="wire", entities=(), n_sentences=2, title=None, url=None):
    """Store one analysed document with known scores (no model involved)."""
    text = f"Document {next(_texts)} about consumer credit."
    doc_id, _ = store.save_document(db, Document(text=text, title=title, url=url, published=day, source_id=source))
    mentions = [Mention(text=e, label=t, id=e, start=0, end=1) for e, t in entities]
    sentences = [
        Sentence(text=f"Sentence {k}.", start=0, end=1, score=score, label=label_for(score), relevance=0.9,
                 mentions=mentions if k == 0 else [])
        for k in range(n_sentences)
    ]
    store.save_analysis(
        db, doc_id,
        Analysis(language="en", sentences=sentences, stance=Stance(score=score, label=label_for(score)), model_version="test"),
    )
    return doc_id


@pytest.fixture
def small_db(tmp_path):
    path = tmp_path / "small.db"
    db = library.init_db(path)
    add_scored(db, "2024-01-03", -0.5, entities=[("pboc", "REGULATOR"), ("webank", "LENDER")], n_sentences=3)
    add_scored(db, "2024-01-10", -0.3, source="daily", entities=[("state-council", "GOVERNMENT")])
    add_scored(db, "2024-03-20", 0.4, entities=[("pboc", "REGULATOR")])
    store.save_document(db, Document(text="Undated and unanalysed.", source_id="wire"))
    index.refresh_index(db)
    store.checkpoint(db)
    db.close()
    return path


def test_refresh_index_groups_documents_by_source_regulator_and_lender(small_db):
    db = store.open_db(small_db)
    groups = {
        (r["group_type"], r["group_id"]): r["n"]
        for r in db.query(
            "select group_type, group_id, sum(n_documents) as n from stance_index where freq = 'month' group by 1, 2"
        )
    }
    assert groups == {
        ("all", "all"): 3, ("source", "wire"): 2, ("source", "daily"): 1,
        ("regulator", "pboc"): 2, ("regulator", "state-council"): 1, ("lender", "webank"): 1,
    }
    jan = next(db.query("select * from stance_index where freq = 'month' and group_id = 'all' and period = '2024-01-01'"))
    assert (jan["n_documents"], jan["n_sentences"]) == (2, 5)
    build = store.last_index_build(db)
    assert build["n_documents"] == 3 and build["mode"] == "full" and build["stale"] is False


def test_rebuilding_gives_the_same_rows_and_the_key_is_unique(small_db):
    db = store.open_db(small_db)
    before = list(db.query("select * from stance_index order by freq, group_type, group_id, period"))
    index.refresh_index(db)
    assert list(db.query("select * from stance_index order by freq, group_type, group_id, period")) == before
    unique = [i for i in db["stance_index"].indexes if i.unique]
    assert [i.columns for i in unique] == [["freq", "group_type", "group_id", "period"]]


# --- tracker index / tracker export series ---------------------------------------------------


def export(runner, db_path, *args):
    return runner.invoke(export_group, ["series", "--db", str(db_path), *args])


def test_index_command_rebuilds_and_reports(runner, small_db):
    result = runner.invoke(index_command, ["--db", str(small_db)])
    assert result.exit_code == 0, result.output
    assert "stance index rebuilt from 3 documents" in result.output


def test_export_series_csv_has_the_documented_columns_in_a_stable_order(runner, small_db):
    result = export(runner, small_db, "--by", "regulator", "--freq", "month")
    assert result.exit_code == 0, result.output
    text = result.stdout_bytes.decode("utf-8")
    assert text.split("\r\n")[:7] == [
        HEADER,
        "2024-01-01,regulator,pboc,1,3,-0.5,-1.0,1.0",
        "2024-01-01,regulator,state-council,1,2,-0.3,-1.0,1.0",
        "2024-02-01,regulator,pboc,0,0,,,",
        "2024-02-01,regulator,state-council,0,0,,,",
        "2024-03-01,regulator,pboc,1,2,0.4,-1.0,1.0",
        "2024-03-01,regulator,state-council,0,0,,,",
    ]
    assert text.endswith("\r\n") and text.count("\r\n") == 7
    assert export(runner, small_db, "--by", "regulator", "--freq", "month").stdout_bytes == result.stdout_bytes


def test_export_series_json(runner, small_db):
    result = export(runner, small_db, "--format", "json", "--freq", "month")
    rows = json.loads(result.stdout_bytes)
    assert [list(r) for r in rows] == [HEADER.split(",")] * 3
    assert [(r["period"], r["n_documents"], r["stance_mean"]) for r in rows] == [
        ("2024-01-01", 2, -0.4), ("2024-02-01", 0, None), ("2024-03-01", 1, 0.4)
    ]


def test_export_series_since_until_include_the_periods_containing_them(runner, small_db):
    result = export(runner, small_db, "--freq", "week", "--since", "2024-01-07", "--until", "2024-01-10")
    lines = result.stdout_bytes.decode().splitlines()
    assert lines == [HEADER, "2024-01-01,all,all,1,3,-0.5,-1.0,1.0", "2024-01-08,all,all,1,2,-0.3,-1.0,1.0"]


def test_export_series_to_a_file(runner, small_db, tmp_path):
    out = tmp_path / "series.csv"
    result = export(runner, small_db, "--by", "source", "-o", str(out))
    assert result.exit_code == 0
    assert result.stdout == "" and "6 rows" in result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["period"], r["group_id"]) for r in rows][:2] == [("2024-01-01", "daily"), ("2024-01-01", "wire")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--freq", "year"], "Invalid value for '--freq'"),
        (["--by", "entity"], "Invalid value for '--by'"),
        (["--format", "xml"], "Invalid value for '--format'"),
        (["--since", "2024-13-01"], "--since must be an ISO date"),
        (["--since", "2024-05-01", "--until", "2024-01-01"], "is after --until"),
        (["--nonsense"], "No such option"),
    ],
)
def test_export_series_bad_arguments_give_one_line(runner, small_db, args, message):
    result = export(runner, small_db, *args)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]


def test_export_series_before_the_index_is_built_says_what_to_do(runner, tmp_path):
    path = tmp_path / "fresh.db"
    library.init_db(path).close()
    result = export(runner, path)
    assert result.exit_code == 1
    assert result.output.strip() == "Error: the stance index has not been built yet: run 'tracker index' first"
    missing = export(runner, tmp_path / "none.db")
    assert missing.exit_code == 1 and "no database" in missing.output


def test_export_series_warns_when_the_index_is_stale(runner, small_db):
    db = store.open_db(small_db)
    add_scored(db, "2024-04-02", 0.2)
    db.close()
    result = export(runner, small_db)
    assert result.exit_code == 0 and "run 'tracker index'" in result.stderr


# --- acceptance on the demo corpus ---------------------------------------------------------


def test_demo_export_by_regulator_month(runner, demo_db):
    result = export(runner, demo_db, "--by", "regulator", "--freq", "month")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8"), newline="")))
    assert list(rows[0]) == HEADER.split(",")
    scored = [r for r in rows if int(r["n_documents"]) > 0]
    assert len(scored) >= 40 and {r["group_id"] for r in scored} >= {"pboc", "nfra", "state-council"}
    for r in scored:
        low, mean, high = float(r["stance_low"]), float(r["stance_mean"]), float(r["stance_high"])
        assert -1 <= low <= mean <= high <= 1, r
    empty = [r for r in rows if r["n_documents"] == "0"]
    assert empty and all(r["stance_mean"] == r["stance_low"] == r["stance_high"] == "" for r in empty)
    keys = [(r["period"], r["group_type"], r["group_id"]) for r in rows]
    assert keys == sorted(keys) and len(keys) == len(set(keys))


def test_demo_monthly_series_moves_with_the_episodes(demo_db):
    """Tightening 2016-2021, accommodative 2022-2024 (the corpus says so; nothing tuned)."""
    db = store.open_db(demo_db)
    rows = index.series(db, freq="month", by="all")
    def mean_of(first, last):
        return statistics.mean(
            r["stance_mean"] for r in rows if r["n_documents"] and first <= r["period"][:4] <= last
        )
    assert mean_of("2017", "2021") < 0 < mean_of("2022", "2024")
    pboc = index.series(db, freq="month", by="regulator")
    pboc_means = lambda a, b: statistics.mean(
        r["stance_mean"] for r in pboc if r["group_id"] == "pboc" and r["n_documents"] and a <= r["period"][:4] <= b
    )
    assert pboc_means("2016", "2021") < pboc_means("2022", "2024")


def test_demo_alerts_see_the_turn_to_accommodation(demo_db):
    db = store.open_db(demo_db)
    alerts = list(db.query("select * from alerts where group_type = 'all' order by date"))
    # The change is dated by `since` (where the run of deviations began); `date` is when it was sure.
    assert any(
        a["direction"] == "accommodative" and "2021-01-01" <= a["since"] <= "2022-06-30" and a["date"] <= "2022-12-31"
        for a in alerts
    ), alerts
    assert any(a["direction"] == "tightening" and "2015-10-01" <= a["since"] <= "2017-12-31" for a in alerts), alerts


def test_readme_documents_the_index_and_its_commands():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "`tracker index`" in readme and "`tracker export series" in readme
    section = readme.split("## The stance index", 1)[1].split("\n## ", 1)[0]
    for column in index.INDEX_COLUMNS:
        assert f"`{column}`" in section, column
    for constant in (index.CUSUM_ALLOWANCE, index.CUSUM_THRESHOLD, index.CUSUM_WARMUP):
        assert str(constant) in section
