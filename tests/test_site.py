"""The analyst site, in-process: pages, canned queries, feeds, search, facets, dashboard, read-only."""

import asyncio
import csv
import html
import io
import re
import shutil
import time
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from tracker import index, library, site, store
from tracker.aggregate import document_stance
from tracker.cli_site import export_group
from tracker.errors import StoreError
from tracker.records import Sentence

ATOM = "{http://www.w3.org/2005/Atom}"
SERIES_COLUMNS = ["period", "group_type", "group_id", "n_documents", "n_sentences", "stance_mean", "stance_low", "stance_high"]


@pytest.fixture(scope="module")
def ds(demo_db):
    return site.make_datasette(demo_db)


def timed(ds, path):
    started = time.perf_counter()
    response = asyncio.run(ds.client.get(path))
    return response, time.perf_counter() - started


def test_demo_database_holds_the_whole_demo_corpus(demo_db):
    db = store.open_db(demo_db)
    assert db["documents"].count == len(library.demo_files()) >= 30
    assert db.execute("select count(*) from documents where analyzed_at is null").fetchone()[0] == 0
    years = {r[0] for r in db.execute("select distinct substr(published, 1, 4) from documents")}
    assert min(years) <= "2016" and max(years) >= "2025"
    assert db["stance_index"].count > 0 and store.last_index_build(db)["stale"] is False


def test_building_the_demo_twice_changes_nothing(demo_db, tmp_path):
    copy = tmp_path / "demo.db"
    shutil.copy(demo_db, copy)
    before = store.table_counts(store.open_db(copy))
    rows_before = list(store.open_db(copy).query("select * from stance_index order by freq, group_type, group_id, period"))
    library.build_demo(copy)
    db = store.open_db(copy)
    assert store.table_counts(db) == before
    assert list(db.query("select * from stance_index order by freq, group_type, group_id, period")) == rows_before


def test_documents_csv_lists_the_demo_corpus(ds, demo_db, fetch):
    response = fetch(ds, "/tracker/documents.csv?_size=max")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    titles = {r["title"] for r in rows}
    expected = {r["title"] for r in store.open_db(demo_db)["documents"].rows}
    assert titles == expected and len(rows) >= 30


def test_site_is_read_only(ds, fetch):
    assert ds.databases["tracker"].is_mutable is False
    assert ds.setting("sql_time_limit_ms") == 1000
    response = fetch(ds, "/tracker.json?sql=delete+from+documents")
    assert response.status_code == 400
    assert fetch(ds, "/tracker/documents.json?_shape=array&_size=1").status_code == 200


def test_only_plugins_that_do_not_write_are_installed(ds, fetch):
    names = {p["name"] for p in fetch(ds, "/-/plugins.json").json()}
    assert {"datasette-dashboards", "datasette-atom"} <= names
    assert names <= site.ALLOWED_PLUGINS | {site.PLUGIN_NAME}, names - site.ALLOWED_PLUGINS


def test_title_page_says_what_where_how_fresh_and_how_scored(ds, fetch, demo_db):
    page = " ".join(fetch(ds, "/").text.split())
    for phrase in ("How stance is scored", "Where the data comes from", "How fresh it is", "Start here"):
        assert phrase in page
    n, first, last = store.open_db(demo_db).execute(
        "select count(*), min(published), max(published) from documents"
    ).fetchone()
    assert f"{n}</strong> documents, published from {first[:10]} to {last[:10]}" in page
    assert "Stance index built" in page and "older than the latest" not in page
    assert "/-/dashboards/stance" in page and "alerts_atom.atom" in page


def test_metadata_describes_tables_and_columns(ds, fetch):
    assert "Relevance-weighted mean" in fetch(ds, "/tracker/documents").text
    assert "95% t-interval" in fetch(ds, "/tracker/stance_index").text


CANNED = {
    "stance_series": "freq=month&by=regulator",
    "entity_timeline": "entity=pboc",
    "figures_by_metric": "metric=",
    "latest_signals": "label=",
    "recent_alerts": "",
}


@pytest.mark.parametrize("name", sorted(CANNED))
def test_canned_queries_answer_within_the_time_limit(ds, name):
    response, seconds = timed(ds, f"/tracker/{name}.json?_shape=array&{CANNED[name]}")
    assert response.status_code == 200, response.text
    assert response.json(), f"{name} returned no rows on the demo"
    assert seconds < 1.0
    html, _ = timed(ds, f"/tracker/{name}?{CANNED[name]}")
    assert html.status_code == 200


def test_stance_series_reads_the_index(ds, fetch):
    rows = fetch(ds, "/tracker/stance_series.json?_shape=array").json()
    assert list(rows[0]) == SERIES_COLUMNS
    assert {r["group_type"] for r in rows} == {"all"}  # defaults: month, all
    months = [r["period"] for r in rows]
    assert months == sorted(months) and all(m.endswith("-01") for m in months)
    only = fetch(ds, "/tracker/stance_series.json?_shape=array&freq=week&by=regulator&group_id=pboc&since=2020-11-04&until=2020-11-30").json()
    assert [r["period"] for r in only] == ["2020-11-02", "2020-11-09", "2020-11-16", "2020-11-23", "2020-11-30"]
    assert {r["group_id"] for r in only} == {"pboc"} and sum(r["n_documents"] for r in only) >= 1


@pytest.mark.parametrize("query, args", [
    ("freq=month&by=regulator", ["--freq", "month", "--by", "regulator"]),
    ("freq=week&by=lender&since=2020-06-03&until=2021-06-30", ["--freq", "week", "--by", "lender", "--since", "2020-06-03", "--until", "2021-06-30"]),
    ("", []),
])
def test_site_csv_is_the_same_file_as_the_export(ds, fetch, demo_db, query, args):
    web = fetch(ds, f"/tracker/stance_series.csv?{query}")
    assert web.status_code == 200
    result = CliRunner().invoke(export_group, ["series", "--db", str(demo_db), *args])
    assert result.exit_code == 0
    assert web.content == result.stdout_bytes
    assert web.text.split("\r\n", 1)[0] == ",".join(SERIES_COLUMNS)


def test_entity_timeline_counts_mentions_per_period(ds, fetch, demo_db):
    rows = fetch(ds, "/tracker/entity_timeline.json?_shape=array&entity=ant-group").json()
    assert rows and {r["entity_id"] for r in rows} == {"ant-group"} and rows[0]["entity"] == "Ant Group"
    db = store.open_db(demo_db)
    mentions = db.execute(
        "select count(*) from mentions m join documents d on d.id = m.document_id "
        "where m.entity_id = 'ant-group' and d.stance_score is not null and d.published is not null"
    ).fetchone()[0]
    assert sum(r["n_mentions"] for r in rows) == mentions
    assert all((r["n_documents"] == 0) == (r["stance_mean"] is None) for r in rows)


def test_latest_signals_are_strong_and_newest_first(ds, fetch):
    rows = fetch(ds, "/tracker/latest_signals.json?_shape=array&label=tightening").json()
    assert rows and all(abs(r["stance_score"]) >= 0.6 and r["relevance"] >= 0.6 for r in rows)
    assert {r["stance_label"] for r in rows} == {"tightening"}
    dates = [r["published"] for r in rows]
    assert dates == sorted(dates, reverse=True)


def _feed(ds, fetch, path):
    response = fetch(ds, path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        assert entry.findtext(f"{ATOM}id") and entry.findtext(f"{ATOM}title") and entry.findtext(f"{ATOM}updated")
    return entries


def test_alerts_and_signals_are_atom_feeds(ds, fetch):
    alerts = _feed(ds, fetch, "/tracker/alerts_atom.atom?_feed_title=tracker+alerts")
    assert alerts and "shift:" in alerts[0].findtext(f"{ATOM}title")
    content = alerts[0].find(f"{ATOM}content")
    assert content.get("type") == "html" and "<li>" in content.text
    updated = [e.findtext(f"{ATOM}updated") for e in alerts]
    assert updated == sorted(updated, reverse=True)
    signals = _feed(ds, fetch, "/tracker/signals_atom.atom")
    assert len(signals) == 50
    assert all(e.find(f"{ATOM}link").get("href").startswith("https://demo.tracker.invalid/") for e in signals)
    ids = [e.findtext(f"{ATOM}id") for e in signals]
    assert len(set(ids)) == len(ids)


def test_feed_html_is_escaped_and_sanitised(tmp_path, fetch):
    from test_index import add_scored

    path = tmp_path / "evil.db"
    db = library.init_db(path)
    for week in range(5):
        add_scored(db, f"2024-01-{1 + 7 * week:02d}", -0.6)
    add_scored(db, "2024-02-05", 0.3, title='<script>alert("x")</script> & co', url="javascript:alert(1)")
    add_scored(db, "2024-02-12", 0.7, title="<img src=x onerror=alert(1)>", url="https://example.org/a?b=1&c=2")
    index.refresh_index(db)
    store.checkpoint(db)
    db.close()
    entries = _feed(site.make_datasette(path), fetch, "/tracker/alerts_atom.atom")
    assert entries and all(e.findtext(f"{ATOM}title").startswith("Accommodative shift") for e in entries)
    html = " ".join(e.find(f"{ATOM}content").text for e in entries)
    assert "<script" not in html and "<img" not in html and "javascript:" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x" in html
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html


def test_full_text_search_finds_a_known_document(ds, fetch):
    for table in ("documents", "document_search"):
        rows = fetch(ds, f"/tracker/{table}.json?_shape=array&_search=Ezubao+Ponzi").json()
        assert [r["title"] for r in rows] == ["Ezubao investigation reveals scale of online lending fraud"], table
    sentences = fetch(ds, "/tracker/sentence_search.json?_shape=array&_search=campus+lending").json()
    assert sentences and all("campus" in r["text"].lower() for r in sentences)


def test_facets_on_source_language_label_and_entity(ds, fetch, demo_db):
    for table in ("document_search", "sentence_search"):
        data = fetch(ds, f"/tracker/{table}.json?_size=0").json()
        facets = data["facet_results"]
        assert {"source_id", "language", "stance_label", "entities"} <= set(facets), table
        entity_values = {v["value"] for v in facets["entities"]["results"]}
        assert "ant-group" in entity_values, table
    pboc = fetch(ds, "/tracker/document_search.json?_shape=array&_size=max&entities__arraycontains=pboc").json()
    expected = store.open_db(demo_db).execute(
        "select count(distinct document_id) from mentions where entity_id = 'pboc'"
    ).fetchone()[0]
    assert len(pboc) == expected >= 10


def test_document_page_shows_evidence_and_links_to_the_original(ds, fetch, demo_db):
    db = store.open_db(demo_db)
    doc = next(db.query("select * from documents where stance_label = 'tightening' and url is not null limit 1"))
    page = html.unescape(fetch(ds, f"/tracker/documents/{doc['id']}").text)
    assert f'<a class="original-link" href="{doc["url"]}"' in page
    evidence = list(db.query("select * from evidence where document_id = ? order by rank", [doc["id"]]))
    assert 1 <= len(evidence) <= 3
    for row in evidence:
        assert row["text"] in page


def test_evidence_view_follows_the_document_stance_rule(demo_db):
    db = store.open_db(demo_db)
    for doc in db.query("select id from documents"):
        rows = list(db.query("select * from sentences where document_id = ? order by position", [doc["id"]]))
        stance = document_stance(
            [Sentence(text=r["text"], start=r["start"], end=r["end"], score=r["stance_score"],
                      label=r["stance_label"], relevance=r["relevance"]) for r in rows]
        )
        view = [r["position"] for r in db.query("select position from evidence where document_id = ? order by rank", [doc["id"]])]
        assert view == [rows[i]["position"] for i in stance.evidence], doc["id"]


def _chart_sql(query: str) -> str:
    return re.sub(r"\[\[.*?\]\]", "", query)  # the dashboard drops optional filter clauses when unset


def test_dashboard_page_and_every_chart_query(ds, fetch):
    page = fetch(ds, "/-/dashboards/stance")
    assert page.status_code == 200
    srcs = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page.text)
    assert srcs and not [s for s in srcs if re.match(r"(https?:)?//", s)], srcs
    assert any(s.endswith("vega-lite.min.js") for s in srcs)
    charts = site.load_metadata()["plugins"]["datasette-dashboards"]["stance"]["charts"]
    assert {c["library"] for c in charts.values()} <= {"vega-lite", "metric", "table"}  # no map: tiles need the internet
    for slug, chart in charts.items():
        response = asyncio.run(ds.client.get("/tracker.json", params={"sql": _chart_sql(chart["query"]), "_shape": "objects"}))
        assert response.status_code == 200, (slug, response.text)
        assert response.json()["rows"], slug


def test_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no database"):
        site.make_datasette(tmp_path / "none.db")


def test_a_fresh_database_serves_every_page(tmp_path, fetch):
    path = tmp_path / "fresh.db"
    library.init_db(path).close()
    ds = site.make_datasette(path)
    assert "The stance index has not been built" in fetch(ds, "/").text
    for name, args in CANNED.items():
        response = fetch(ds, f"/tracker/{name}.json?_shape=array&{args}")
        assert response.status_code == 200 and response.json() == [], name
    assert fetch(ds, "/-/dashboards/stance").status_code == 200
    assert fetch(ds, "/tracker/alerts_atom").status_code == 200
    # Subscribing before the first alert must work: a valid feed with no entries (not a 500).
    for feed in ("alerts_atom", "signals_atom"):
        assert _feed(ds, fetch, f"/tracker/{feed}.atom") == []


def test_a_feed_filtered_to_nothing_is_a_valid_empty_feed(ds, fetch):
    root = ET.fromstring(fetch(ds, "/tracker/signals_atom.atom?atom_title=no+such+title").text)
    assert root.tag == f"{ATOM}feed" and root.findall(f"{ATOM}entry") == []
    assert root.find(f"{ATOM}link").get("rel") == "self" and root.findtext(f"{ATOM}updated")
