"""The nightly job with nothing new: a second `tracker run` against the first.

`python -m bench nightly_rerun`. A database that already holds 2,000 analysed documents
(ten years of them, stance index built) meets a local server on 10 loopback hosts, one
feed each with 30 articles. The first `tracker run` fetches, extracts, stores and
analyses the 300 articles and updates the index; the second, straight after, finds every
feed unchanged (304) and so has nothing to fetch, analyse or re-index. Both run in this
process with the default politeness settings (1 s between requests to a host). The
second run is also timed as a fresh `tracker run` process, start-up included, for context.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import synthetic
from bench.local_server import LoopbackServers, Site
from tracker import store
from tracker.nightly import nightly_run
from tracker.sources import load_sources

N_HOSTS = 10
ARTICLES = 30
EXISTING = 2000
TARGET = 0.05


def _site() -> Site:
    docs = iter(synthetic.documents(N_HOSTS * ARTICLES, seed=21))
    feeds = {}
    for k in range(N_HOSTS):
        entries = []
        for _ in range(ARTICLES):
            doc = next(docs)
            entries.append({"title": doc["title"], "summary": doc["text"].split("\n\n")[0][:300], "article": doc["text"]})
        feeds[k] = entries
    return Site(feeds)


def _sources_file(path: Path, hosts: list[str]) -> Path:
    lines = ['[fetch]\nuser_agent = "tracker-bench/0.1 (local benchmark)"\n']
    for k, host in enumerate(hosts):
        lines.append(
            f'[[source]]\nid = "bench-{k}"\nname = "Bench feed {k}"\nkind = "feed"\n'
            f'url = "http://{host}/feed-{k}.xml"\nlanguage = "en"\n'
        )
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _timed_run(db_path: Path, sources_path: Path):
    started = time.perf_counter()
    report = nightly_run(db_path, load_sources(sources_path))
    return time.perf_counter() - started, report


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as tmp:
        folder = Path(tmp)
        db_path = folder / "nightly.db"
        started = time.perf_counter()
        synthetic.build_database(db_path, EXISTING)
        print(f"database with {EXISTING} analysed documents built in {time.perf_counter() - started:.1f} s")
        site = _site()
        with LoopbackServers(site, N_HOSTS) as hosts:
            sources_path = _sources_file(folder / "sources.toml", hosts)
            first, report1 = _timed_run(db_path, sources_path)
            second, report2 = _timed_run(db_path, sources_path)
            started = time.perf_counter()
            cli = subprocess.run(
                [sys.executable, "-m", "tracker.cli", "run", "--db", str(db_path), "--sources", str(sources_path)],
                capture_output=True, text=True,
            )
            process = time.perf_counter() - started
        db = store.open_db(db_path)
        last = next(db.query("select * from runs order by id desc limit 1"))
        db.close()
    ratio = second / first
    for name, seconds, report in (("first run", first, report1), ("second run, nothing new", second, report2)):
        index = report.refreshed.get("stance_index", {})
        print(
            f"{name:<26}{seconds:>8.2f} s  {report.ingest.n_new:>4} new, {report.n_analyzed:>4} analysed, "
            f"{report.ingest.requests:>4} requests, index {index.get('mode')} ({index.get('seconds', 0):.2f} s), "
            f"exit {report.exit_code}"
        )
    print(f"second / first: {ratio:.1%} (target < {TARGET:.0%}: {'PASS' if ratio < TARGET else 'FAIL'})")
    refreshed = json.loads(last["details"] or "{}").get("refreshed", {}).get("stance_index", {})
    print(
        f"context: the second run as a fresh `tracker run` process took {process:.2f} s wall clock "
        f"(exit {cli.returncode}, index {refreshed.get('mode')}); with nothing new to analyse, spaCy and "
        f"scikit-learn are never imported"
    )


if __name__ == "__main__":
    main()
