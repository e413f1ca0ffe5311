"""Ingestion end to end against a real local server: storage, faults, reruns, crashes, commands."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from ingest_server import ALL, BAD, GOOD, FixtureServer, sources_toml

from tracker import library, site, store
from tracker.cli_ingest import ingest as ingest_command
from tracker.cli_ingest import run as run_command
from tracker.cli_ingest import sources as sources_command
from tracker.ingest import ingest
from tracker.nightly import ingest_sources, run_lock
from tracker.sources import parse_sources


def _articles(base: str, *numbers: int) -> set[str]:
    return {f"{base}/articles/en-{n}.html" for n in numbers}


@pytest.fixture
def server():
    srv = FixtureServer().start()
    yield srv
    srv.stop()


def _write(tmp_path: Path, srv: FixtureServer, entries: list[dict], **fetch) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(sources_toml(srv.base, entries, **fetch), encoding="utf-8")
    return path


def _urls(db) -> list[str]:
    return [r["url"] for r in db.query("select url from documents order by id")]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """Every fixture source ingested once into a fresh database (shared: it takes a few seconds)."""
    srv = FixtureServer().start()
    tmp = tmp_path_factory.mktemp("ingest")
    loaded = parse_sources(sources_toml(srv.base, ALL))
    db_path = tmp / "tracker.db"
    db = library.init_db(db_path)
    report = ingest(db, loaded.sources, loaded.fetch)
    yield srv, db_path, loaded, report
    srv.stop()


def test_good_sources_are_stored_and_each_bad_one_is_recorded_with_its_reason(first_run):
    srv, db_path, _, report = first_run
    db = store.open_db(db_path)
    by_id = {r.source_id: r for r in report.sources}
    assert report.exit_code == 1
    for entry in GOOD:
        assert by_id[entry["id"]].worked, by_id[entry["id"]].summary()
    assert by_id["rss2"].status == "ok" and by_id["rss2"].new == 3
    assert by_id["malformed"].status == "warning" and "malformed feed, kept 2 entries" in by_id["malformed"].error
    assert by_id["page-gone"].status == "partial" and "gone.html: HTTP 404" in by_id["page-gone"].error
    sources = {r["id"]: r for r in db["sources"].rows}
    for source_id, (_, reason) in BAD.items():
        assert by_id[source_id].status == "error", source_id
        assert reason in by_id[source_id].error, (source_id, by_id[source_id].error)
        assert sources[source_id]["last_status"] == "error" and reason in sources[source_id]["last_error"]
        assert sources[source_id]["last_success_at"] is None
    assert sources["rss2"]["last_success_at"] and sources["rss2"]["last_error"] is None


def test_every_document_is_stored_exactly_once(first_run):
    srv, db_path, _, _ = first_run
    db = store.open_db(db_path)
    urls = _urls(db)
    expected = _articles(srv.base, *range(1, 11)) | {
        f"{srv.base}/zh/notice-1.html",
        f"{srv.base}/zh/notice-2.html",
        f"{srv.base}/articles/gone.html",  # the feed's summary, kept when the page was gone
        None,  # the feed entry with text but no link
    }
    assert set(urls) == expected and len(urls) == len(expected)
    # en-1 is also in the second outlet's feed (with tracking parameters and a fragment)
    # and en-2 under a mirror URL: neither is stored twice.
    second = {r.source_id: r for r in first_run[3].sources}["second-outlet"]
    assert (second.new, second.unchanged) == (1, 2)


def test_documents_carry_titles_utc_dates_language_and_decoded_chinese(first_run):
    srv, db_path, _, _ = first_run
    db = store.open_db(db_path)
    docs = {r["url"]: r for r in db["documents"].rows}
    en1 = docs[f"{srv.base}/articles/en-1.html"]
    assert en1["title"] == "Regulator caps online consumer loan rates at 24%"
    assert en1["published"] == "2025-03-04T01:30:00+00:00" and en1["source_id"] == "rss2"
    assert "Analysts at a Shanghai brokerage" in en1["text"] and "All rights reserved" not in en1["text"]
    assert docs[f"{srv.base}/articles/en-3.html"]["published"] == "2025-03-18"  # no feed date: the page's
    zh = docs[f"{srv.base}/zh/notice-1.html"]
    assert zh["language"] == "zh" and "综合融资成本不得超过百分之二十四" in zh["text"]
    assert zh["title"] == "关于规范互联网平台消费信贷业务的通知" and zh["published"] == "2025-02-14"
    gone = docs[f"{srv.base}/articles/gone.html"]
    assert gone["text"].startswith("Regulators summoned three platform lenders")


def test_fetch_state_and_source_status_record_freshness(first_run):
    srv, db_path, _, _ = first_run
    db = store.open_db(db_path)
    state = store.get_fetch_state(db, f"{srv.base}/feeds/rss2.xml")
    assert state["kind"] == "feed" and state["etag"] and state["status"] == "ok"
    article = store.get_fetch_state(db, f"{srv.base}/articles/en-1.html")
    assert article["document_id"] and article["http_status"] == 200
    # The partial feed keeps no validators, so its failed article is retried next time.
    assert store.get_fetch_state(db, f"{srv.base}/feeds/partial.xml")["etag"] is None
    status = store.source_statuses(db)
    assert status["rss2"]["n_documents"] == 3 and status["rss2"]["last_status"] == "ok"
    assert status["too-big"]["n_documents"] == 0 and "byte cap" in status["too-big"]["last_error"]


def test_second_run_fetches_nothing_new_and_adds_no_rows(first_run):
    srv, db_path, loaded, _ = first_run
    db = store.open_db(db_path)
    before = store.table_counts(db)
    srv.reset()
    report = ingest(db, loaded.sources, loaded.fetch)
    assert store.table_counts(db) == before
    assert report.n_new == 0 and report.n_updated == 0
    for path in ("/feeds/rss2.xml", "/feeds/rss1.rdf", "/feeds/atom.xml", "/zh/list.html", "/feeds/dup.xml"):
        assert srv.statuses(path) == [304], path
    # Nothing behind a 304 feed is fetched again; of the articles, only those of feeds that
    # had a problem are asked for, conditionally.
    articles = [(p, s) for p, s, _ in srv.log if p.startswith("/articles/")]
    assert articles and all(s in (304, 404) for _, s in articles)
    assert {r.source_id for r in report.sources if r.status == "error"} == set(BAD)


def test_a_changed_article_updates_its_row_and_counts_a_revision(tmp_path, server):
    db = library.init_db(tmp_path / "t.db")
    loaded = parse_sources(sources_toml(server.base, [{"id": "rss2", "url": "/feeds/rss2.xml"}]))
    ingest(db, loaded.sources, loaded.fetch)
    page = server.body("/articles/en-2.html").replace(b"unchanged this quarter", b"higher this quarter")
    server.overrides["/articles/en-2.html"] = page
    server.overrides["/feeds/rss2.xml"] = server.body("/feeds/rss2.xml").replace(b"</channel>", b"<ttl>60</ttl></channel>")
    report = ingest(db, loaded.sources, loaded.fetch)
    assert (report.n_new, report.n_updated) == (0, 1)
    row = next(db["documents"].rows_where("url = ?", [f"{server.base}/articles/en-2.html"]))
    assert row["revision"] == 2 and "higher this quarter" in row["text"] and row["analyzed_at"] is None
    assert db["documents"].count == 3


def test_pages_follows_next_links_for_backfill(tmp_path, server):
    db = library.init_db(tmp_path / "t.db")
    loaded = parse_sources(sources_toml(server.base, [GOOD[3]]))
    assert ingest(db, loaded.sources, loaded.fetch).n_new == 2
    report = ingest(db, loaded.sources, loaded.fetch, pages=3)
    assert report.n_new == 1 and report.sources[0].not_modified == 2
    assert f"{server.base}/zh/notice-3.html" in _urls(db)
    assert server.hits["/zh/list-2.html"] == 1  # page 2 has no next link: the walk stops


def test_limit_takes_the_first_entries_and_the_next_run_takes_the_rest(tmp_path, server):
    db = library.init_db(tmp_path / "t.db")
    loaded = parse_sources(sources_toml(server.base, [{"id": "rss2", "url": "/feeds/rss2.xml"}]))
    assert ingest(db, loaded.sources, loaded.fetch, limit=1).n_new == 1
    assert ingest(db, loaded.sources, loaded.fetch).n_new == 2  # no 304: the feed was not finished
    assert server.statuses("/feeds/rss2.xml") == [200, 200]
    assert ingest(db, loaded.sources, loaded.fetch).n_new == 0
    assert server.statuses("/feeds/rss2.xml")[-1] == 304


def test_one_broken_source_does_not_stop_the_others(tmp_path, server, monkeypatch):
    from tracker import ingest as ingest_module

    real = ingest_module.parse_feed

    def explode(content, **kwargs):
        if b"RSS 1.0" in content:
            raise RuntimeError("parser bug")
        return real(content, **kwargs)

    monkeypatch.setattr(ingest_module, "parse_feed", explode)
    db = library.init_db(tmp_path / "t.db")
    loaded = parse_sources(sources_toml(server.base, GOOD[:3]))
    report = ingest(db, loaded.sources, loaded.fetch)
    status = {r.source_id: r for r in report.sources}
    assert status["rss1"].status == "error" and "unexpected RuntimeError: parser bug" in status["rss1"].error
    assert status["rss2"].new == 3 and status["atom"].new == 2


# --- a run killed midway --------------------------------------------------------


def test_a_run_killed_midway_and_rerun_stores_every_document_exactly_once(tmp_path, server):
    server.gen_delay = 0.15
    feeds = [{"id": f"gen-{k}", "url": f"/gen/feed-{k}.xml?n=3"} for k in range(1, 6)]
    sources_path = _write(tmp_path, server, feeds)
    db_path = tmp_path / "t.db"
    command = [
        sys.executable, "-c", "from tracker.cli_ingest import ingest; ingest()",
        "--db", str(db_path), "--sources", str(sources_path),
    ]
    server.watch = "/gen/article-3-2.html"  # source 3 is midway: 1 and 2 are committed
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert server.requested.wait(30), proc.stderr.read1().decode() if proc.poll() is not None else "no request"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(db_path) as conn:
        stored = {row[0] for row in conn.execute("select source_id from documents")}
        assert stored == {"gen-1", "gen-2"}
        assert conn.execute("select status from runs").fetchall() == [("running",)]

    server.gen_delay = 0.0
    again = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr

    db = store.open_db(db_path)
    urls = _urls(db)
    expected = {f"{server.base}/gen/article-{k}-{i}.html" for k in range(1, 6) for i in range(1, 4)}
    assert len(urls) == 15 and set(urls) == expected
    assert [r["status"] for r in db.query("select status from runs order by id")] == ["interrupted", "ok"]


# --- the commands -------------------------------------------------------------------


def test_ingest_command_prints_one_line_per_source_and_exits_by_outcome(runner, tmp_path, server):
    db = tmp_path / "t.db"
    good = _write(tmp_path, server, GOOD[:2])
    result = runner.invoke(ingest_command, ["--db", str(db), "--sources", str(good)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "rss2: ok, 3 new, 0 updated, 0 unchanged, 0 not modified"
    assert result.stdout.splitlines()[-1].startswith("ingest: 2 sources, 0 failed, 5 new, 0 updated (run 1, exit 0)")
    assert "ingest: rss2: fetching http://127.0.0.1" in result.stderr  # plain log lines off a terminal

    some = _write(tmp_path, server, GOOD[:1] + [{"id": "gone", "url": "/fault/to-ftp"}])
    result = runner.invoke(ingest_command, ["--db", str(db), "--sources", str(some)])
    assert result.exit_code == 1
    assert "gone: error, 0 new, 0 updated, 0 unchanged, 0 not modified: redirect from" in result.stdout

    result = runner.invoke(ingest_command, ["--db", str(db), "--sources", str(some), "--source", "gone"])
    assert result.exit_code == 2

    runs = list(store.open_db(db)["runs"].rows)
    assert [(r["command"], r["status"], r["exit_code"]) for r in runs] == [
        ("ingest", "ok", 0), ("ingest", "partial", 1), ("ingest", "failed", 2),
    ]
    details = json.loads(runs[1]["details"])
    assert details["sources"]["gone"]["status"] == "error" and runs[1]["n_failed"] == 1


def test_bad_usage_and_bad_sources_files_exit_2(runner, tmp_path, server):
    db = tmp_path / "t.db"
    bad = tmp_path / "bad.toml"
    bad.write_text(sources_toml(server.base, GOOD[:2]).replace("kind = 'feed'", "kind = 'blog'", 1), encoding="utf-8")
    result = runner.invoke(ingest_command, ["--db", str(db), "--sources", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip() == f'Error: {bad}: source #1 (id "rss2"): kind must be "feed" or "listing"'
    good = _write(tmp_path, server, GOOD[:1])
    assert runner.invoke(ingest_command, ["--db", str(db), "--sources", str(good), "--source", "nope"]).exit_code == 2
    assert runner.invoke(ingest_command, ["--db", str(db), "--sources", str(good), "--limit", "0"]).exit_code == 2
    assert runner.invoke(run_command, ["--db", str(db), "--sources", str(tmp_path / "missing.toml")]).exit_code == 2
    assert not db.exists()  # nothing was touched


def test_a_second_run_while_one_holds_the_lock_exits_2(runner, tmp_path, server):
    db = tmp_path / "t.db"
    good = _write(tmp_path, server, GOOD[:1])
    with run_lock(db):
        result = runner.invoke(run_command, ["--db", str(db), "--sources", str(good)])
    assert result.exit_code == 2
    assert f"another run holds the lock on {db}.lock" in result.output
    assert runner.invoke(ingest_command, ["--db", str(db), "--sources", str(good)]).exit_code == 0


def test_sources_command_shows_freshness(runner, tmp_path, server):
    db = tmp_path / "t.db"
    path = _write(tmp_path, server, GOOD[:1] + [{"id": "loop", "url": "/fault/loop-a"}, {"id": "later", "url": "/feeds/atom.xml", "enabled": False}])
    before = runner.invoke(sources_command, ["--db", str(db), "--sources", str(path)])
    assert before.exit_code == 0 and "never" in before.output and "disabled" in before.output
    runner.invoke(ingest_command, ["--db", str(db), "--sources", str(path)])
    lines = runner.invoke(sources_command, ["--db", str(db), "--sources", str(path)]).output.splitlines()
    assert lines[0].split() == ["id", "last", "fetch", "(UTC)", "status", "docs", "last", "error"]
    rss2, loop, later = (line.split(None, 4) for line in lines[1:])
    assert rss2[0] == "rss2" and rss2[2:4] == ["ok", "3"] and rss2[1].endswith("+00:00")
    assert loop[0] == "loop" and loop[2:4] == ["error", "0"] and loop[4].startswith("redirect loop")
    assert later[:3] == ["later", "-", "disabled"]


def test_run_ingests_analyses_and_records_the_run(runner, tmp_path, server):
    db = tmp_path / "t.db"
    path = _write(tmp_path, server, GOOD[:1])
    result = runner.invoke(run_command, ["--db", str(db), "--sources", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "run: 1 sources, 0 failed, 3 new, 0 updated, 3 analysed (run 1, exit 0)"
    conn = store.open_db(db)
    assert conn.execute("select count(*) from documents where analyzed_at is null").fetchone()[0] == 0
    run = next(conn["runs"].rows)
    assert (run["command"], run["status"], run["n_new"], run["n_analyzed"]) == ("run", "ok", 3, 3)
    assert run["started_at"] <= run["finished_at"]
    assert "stance_index" in json.loads(run["details"])["refreshed"]  # what depends on the documents
    again = runner.invoke(run_command, ["--db", str(db), "--sources", str(path)])
    assert again.exit_code == 0 and "0 new, 0 updated, 0 analysed" in again.stdout


def test_run_reports_an_analysis_failure(tmp_path, server, monkeypatch):
    from tracker import library as library_module
    from tracker.errors import ModelError

    def broken(*args, **kwargs):
        raise ModelError("no stance model in models/stance-zh")

    monkeypatch.setattr(library_module, "analyze", broken)
    from tracker.nightly import nightly_run

    loaded = parse_sources(sources_toml(server.base, GOOD[:1]))
    report = nightly_run(tmp_path / "t.db", loaded)
    assert report.exit_code == 1 and report.problems == ["analysis failed: no stance model in models/stance-zh"]


def test_datasette_shows_runs_and_source_freshness(tmp_path, server):
    db_path = tmp_path / "t.db"
    loaded = parse_sources(sources_toml(server.base, GOOD[:1] + [{"id": "loop", "url": "/fault/loop-a"}]))
    ingest_sources(db_path, loaded)
    ds = site.make_datasette(db_path)

    def get(path):
        response = asyncio.run(ds.client.get(path))
        assert response.status_code == 200, path
        return response.json()

    rows = {r["id"]: r for r in get("/tracker/source_status.json?_shape=array")}
    assert rows["rss2"]["last_success_at"] and rows["rss2"]["n_documents"] == 3
    assert rows["loop"]["last_status"] == "error" and rows["loop"]["last_success_at"] is None
    runs = get("/tracker/runs.json?_shape=array")
    assert runs[0]["command"] == "ingest" and runs[0]["exit_code"] == 1
    fresh = get("/tracker/source_freshness.json?_shape=array")
    assert [r["source_id"] for r in fresh] == ["loop", "rss2"]
    assert fresh[1]["hours_since_success"] is not None


def test_links_to_non_html_are_skipped_with_a_note_and_not_refetched(tmp_path, server):
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Annex</title><link>/articles/annex-1.pdf</link></item>"
        b"<item><title>With summary</title><link>/articles/annex-2.pdf</link><description>The annex lists 12 licensed lenders.</description></item>"
        b"<item><title>Story</title><link>/articles/en-5.html</link></item></channel></rss>"
    )
    server.overrides["/feeds/mixed.xml"] = feed
    server.overrides["/articles/annex-1.pdf"] = b"%PDF-1.4 one"
    server.overrides["/articles/annex-2.pdf"] = b"%PDF-1.4 two"
    db = library.init_db(tmp_path / "t.db")
    loaded = parse_sources(sources_toml(server.base, [{"id": "mixed", "url": "/feeds/mixed.xml"}]))
    first = ingest(db, loaded.sources, loaded.fetch).sources[0]
    assert first.status == "warning" and (first.new, first.skipped, first.failed) == (2, 1, 0)
    assert "annex-1.pdf: not an HTML page (application/octet-stream)" in first.error
    assert store.get_fetch_state(db, f"{server.base}/articles/annex-1.pdf")["status"] == "skipped"
    server.overrides["/feeds/mixed.xml"] = feed.replace(b"<title>t</title>", b"<title>t2</title>")
    second = ingest(db, loaded.sources, loaded.fetch).sources[0]
    assert second.status == "ok" and (second.new, second.not_modified) == (0, 3)
    assert server.statuses("/articles/annex-1.pdf") == [200, 304]
