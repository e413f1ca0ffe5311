"""`tracker backfill`: archives in partitions, locally and on a 2-worker Dask LocalCluster,
identical results, resumption after a crash, and bad lines reported by FILE:LINE."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pytest

from tracker import backfill as bf
from tracker import store
from tracker.cli_backfill import backfill_command
from tracker.library import demo_files

#: Columns that say when, not what: they differ between any two runs.
WHEN = {"fetched_at", "analyzed_at", "stored_at", "engine", "created_at"}
TABLES = ("documents", "sentences", "mentions", "figures", "sources", "backfill_partitions", "stance_index", "alerts")
PARTITION = 4


def _records() -> list[dict]:
    records = []
    for i, path in enumerate(demo_files()[:18]):
        head, body = path.read_text(encoding="utf-8").split("\n---\n", 1)
        meta = dict(line.split(": ", 1) for line in head.splitlines()[1:] if ": " in line)
        records.append({"url": meta.get("url"), "title": meta.get("title"), "published": meta.get("published"),
                        "text": body.strip(), "source": meta.get("source")})
    return records


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> list[Path]:
    """One plain archive (with a blank line) and one gzipped, sharing one record."""
    folder = tmp_path_factory.mktemp("archives")
    records = _records()
    plain, packed = folder / "a.jsonl", folder / "b.jsonl.gz"
    lines = [json.dumps(r, ensure_ascii=False) for r in records[:10]]
    plain.write_text("\n".join(lines[:5] + [""] + lines[5:]) + "\n", encoding="utf-8")
    with gzip.open(packed, "wt", encoding="utf-8") as handle:
        for r in records[9:]:
            handle.write(json.dumps(r, ensure_ascii=False) + "\n")
    return [plain, packed]


def tables(path: Path) -> dict[str, list[dict]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    out = {}
    for table in TABLES:
        rows = conn.execute(f"select * from {table} order by 1, 2, 3").fetchall()
        out[table] = [{k: row[k] for k in row.keys() if k not in WHEN} for row in rows]
    conn.close()
    return out


@pytest.fixture(scope="module")
def local_db(archives, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("local") / "local.db"
    report = bf.backfill(path, archives, engine="local", partition_size=PARTITION)
    assert (report.stored, report.skipped, report.records) == (6, 0, 19)
    assert (report.new, report.unchanged) == (18, 1)  # the record in both archives is stored once
    return path


def test_local_backfill_stores_every_record_once_with_its_analysis(local_db):
    t = tables(local_db)
    assert len(t["documents"]) == 18
    conn = sqlite3.connect(local_db)
    assert conn.execute("select count(*) from documents where analyzed_at is null").fetchone()[0] == 0
    assert conn.execute("select count(distinct content_hash) from documents").fetchone()[0] == 18
    assert len(t["sentences"]) > 18 * 5 and t["mentions"] and t["figures"]
    assert {(p["archive"].rsplit("/", 1)[-1], p["partition"]) for p in t["backfill_partitions"]} == {
        ("a.jsonl", 0), ("a.jsonl", 1), ("a.jsonl", 2), ("b.jsonl.gz", 0), ("b.jsonl.gz", 1), ("b.jsonl.gz", 2)
    }
    assert conn.execute("select count(*) from stance_index").fetchone()[0] > 0


def test_dask_backfill_on_a_two_worker_cluster_gives_identical_tables(archives, local_db, tmp_path):
    path = tmp_path / "dask.db"
    report = bf.backfill(path, archives, engine="dask", workers=2, partition_size=PARTITION)
    assert report.stored == 6 and report.new == 18
    assert tables(path) == tables(local_db)


def test_a_crash_after_some_partitions_resumes_without_duplicates(archives, local_db, tmp_path, monkeypatch):
    path = tmp_path / "crash.db"

    class Crash(Exception):
        pass

    def crash_in_third(report, partition, counts):
        if report.stored == 2:
            raise Crash()  # killed between two partitions: two are committed

    with pytest.raises(Crash):
        bf.backfill(path, archives, partition_size=PARTITION, progress=crash_in_third)
    saves = []
    real = store.save_analyses

    def crash_inside(db, results, **kw):
        saves.append(len(results))
        if len(saves) == 2:
            raise Crash()  # killed half-way through a partition: its transaction rolls back
        return real(db, results, **kw)

    monkeypatch.setattr(store, "save_analyses", crash_inside)
    with pytest.raises(Crash):
        bf.backfill(path, archives, partition_size=PARTITION)
    monkeypatch.setattr(store, "save_analyses", real)
    report = bf.backfill(path, archives, partition_size=PARTITION)
    assert (report.skipped, report.stored) == (3, 3)
    assert tables(path) == tables(local_db)
    again = bf.backfill(path, archives, partition_size=PARTITION)
    assert (again.skipped, again.stored, again.records) == (6, 0, 0)


def test_a_bad_line_is_named_and_nothing_is_stored(tmp_path, runner):
    archive = tmp_path / "bad.jsonl"
    good = json.dumps({"text": "The PBOC cut rates.", "published": "2024-01-02"})
    archive.write_text("\n".join([good, good.replace("cut", "raised"), '{"text": "no end']) + "\n", encoding="utf-8")
    db = tmp_path / "bad.db"
    result = runner.invoke(backfill_command, [str(archive), "--db", str(db)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"Error: {archive}:3: not valid JSON (Unterminated string starting at column 10)"]
    assert not db.exists()
    for line, message in [
        ('{"title": "no text"}', ':1: "text" must be a non-empty string'),
        ('{"text": "x", "published": "last week"}', ':1: "published" must be an ISO date'),
        ("[1, 2]", ":1: expected a JSON object"),
    ]:
        archive.write_text(line + "\n", encoding="utf-8")
        with pytest.raises(bf.InputError, match=message):
            bf.backfill(db, [archive])


def test_cli_prints_a_summary_and_rejects_options_of_the_other_engine(archives, tmp_path, runner):
    db = tmp_path / "cli.db"
    result = runner.invoke(backfill_command, [str(archives[0]), "--db", str(db), "--partition-size", "4"])
    assert result.exit_code == 0, result.output
    assert f"{archives[0]}: 10 records in 11 lines" in result.stdout
    assert "backfill (local): 3 partitions stored, 0 already done; 10 records analysed: 10 new" in result.stdout
    assert "partition 2 (lines 9-11) stored" in result.stderr
    usage = runner.invoke(backfill_command, [str(archives[0]), "--db", str(db), "--scheduler", "tcp://127.0.0.1:8786"])
    assert usage.exit_code == 2 and usage.output.strip() == "Error: --scheduler and --workers need --engine dask"
    missing = runner.invoke(backfill_command, [str(tmp_path / "none.jsonl"), "--db", str(db)])
    assert missing.exit_code == 1 and "no such archive" in missing.output
