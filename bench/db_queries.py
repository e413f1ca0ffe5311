"""The site's canned queries and `tracker export series` on a database of 1,000,000 sentences.

`python -m bench db_queries`. Generates 20,000 analysed documents of about 50 sentences
(ten years of dates, about 530,000 mentions, 165,000 figures; see ``bench/synthetic.py``)
through the store, builds the stance index, then times every canned query of
``tracker/metadata.yml`` through Datasette's in-process client (JSON, the worst of its
parameter sets, median of 5) and `tracker export series` (in-process CLI). The baseline
is a copy of the same database without the indexes added for these queries and without
planner statistics. Also: a full rebuild of the stance index against an incremental
update after 20 new documents, on this database.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from bench import synthetic
from tracker import index, site, store
from tracker.cli_site import export_group

N_DOCUMENTS = 20_000
SENTENCES = 50
TARGET_MS = 200
QUERY_INDEXES = ("idx_stance_index_series", "idx_documents_published_or_fetched", "idx_sentences_strong")

CASES = {
    "source_freshness": [""],
    "stance_series": ["freq=month&by=all", "freq=day&by=regulator", "freq=day&by=lender&since=2020-01-01&until=2021-12-31",
                      "freq=week&by=lender&group_id=ant-group"],
    "entity_timeline": ["entity=pboc&freq=month", "entity=pboc&freq=day", "entity=ant-group&freq=week"],
    "figures_by_metric": ["metric=", "metric=npl"],
    "latest_signals": ["label=", "label=tightening"],
    "recent_alerts": [""],
}
EXPORTS = [("month", "all"), ("week", "regulator"), ("day", "lender")]


def _time_queries(db_path: Path) -> dict[str, tuple[float, str, int]]:
    """Query name -> (worst median ms, its parameters, rows)."""
    ds = site.make_datasette(db_path)

    async def run() -> dict[str, tuple[float, str, int]]:
        await ds.invoke_startup()
        worst: dict[str, tuple[float, str, int]] = {}
        for name, param_sets in CASES.items():
            assert name in site.load_metadata()["databases"]["tracker"]["queries"], name
            for params in param_sets:
                url = f"/tracker/{name}.json?_shape=array&{params}"
                times = []
                for _ in range(5):
                    started = time.perf_counter()
                    response = await ds.client.get(url)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (url, response.text[:300])
                ms = statistics.median(times)
                if ms >= worst.get(name, (-1.0, "", 0))[0]:
                    worst[name] = (ms, params, len(response.json()))
        return worst

    return asyncio.run(run())


def _time_exports(db_path: Path) -> dict[tuple[str, str], tuple[float, int]]:
    runner = CliRunner()
    out = {}
    for freq, by in EXPORTS:
        started = time.perf_counter()
        result = runner.invoke(export_group, ["series", "--db", str(db_path), "--freq", freq, "--by", by])
        seconds = time.perf_counter() - started
        assert result.exit_code == 0, result.output
        out[(freq, by)] = (seconds * 1000, result.stdout_bytes.count(b"\r\n") - 1)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as tmp:
        folder = Path(tmp)
        db_path, bare_path = folder / "big.db", folder / "bare.db"
        started = time.perf_counter()
        counts = synthetic.build_database(db_path, N_DOCUMENTS, SENTENCES)
        built = time.perf_counter() - started
        db = store.open_db(db_path)
        db.execute("UPDATE sources SET kind = 'feed', last_fetched_at = ?, last_success_at = ?, last_status = 'ok'",
                   [store.utc_now(), store.utc_now()])
        started = time.perf_counter()
        full = index.refresh_index(db)
        full_seconds = time.perf_counter() - started
        pairs = list(synthetic.analysed_documents(20, SENTENCES, seed=99))
        with db.atomic():
            ids = [store.save_document(db, document)[0] for document, _ in pairs]
        store.save_analyses(db, [(i, analysis) for i, (_, analysis) in zip(ids, pairs)])
        started = time.perf_counter()
        update = index.update_index(db)
        update_seconds = time.perf_counter() - started
        store.checkpoint(db)
        db.execute(f"VACUUM INTO '{bare_path}'")
        db.close()
        bare = store.open_db(bare_path)
        for name in QUERY_INDEXES:
            bare.execute(f"DROP INDEX {name}")
        bare.execute("DROP TABLE IF EXISTS sqlite_stat1")
        store.checkpoint(bare)
        bare.close()

        queries, base_queries = _time_queries(db_path), _time_queries(bare_path)
        exports, base_exports = _time_exports(db_path), _time_exports(bare_path)
        size_mb = db_path.stat().st_size / 1e6

    print(f"{counts['documents']} documents, {counts['sentences']} sentences, {counts['mentions']} mentions, "
          f"{counts['figures']} figures; {size_mb:.0f} MB; generated and indexed in {built:.0f} s")
    print(f"{'canned query (worst parameters)':<58}{'ms':>8}{'baseline':>10}{'speed-up':>10}")
    for name, (ms, params, rows) in queries.items():
        base_ms = base_queries[name][0]
        verdict = "PASS" if ms < TARGET_MS else "FAIL"
        print(f"  {name + ' ' + (params or '-'):<56}{ms:>8.1f}{base_ms:>10.1f}{base_ms / ms:>9.1f}x  {rows:>5} rows  "
              f"(< {TARGET_MS} ms: {verdict})")
    print(f"{'tracker export series':<58}{'ms':>8}{'baseline':>10}{'speed-up':>10}")
    for (freq, by), (ms, rows) in exports.items():
        base_ms = base_exports[(freq, by)][0]
        print(f"  {f'--freq {freq} --by {by}':<56}{ms:>8.1f}{base_ms:>10.1f}{base_ms / ms:>9.1f}x  {rows:>6} rows")
    print(f"stance index: full rebuild {full_seconds:.1f} s ({full.n_rows} rows); incremental update after 20 new "
          f"documents ({update.mode}) {update_seconds:.2f} s: {full_seconds / update_seconds:.0f}x faster")


if __name__ == "__main__":
    main()
