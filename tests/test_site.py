import csv
import io

import pytest

from tracker import library, site, store
from tracker.errors import StoreError


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    library.build_demo(path)
    return path


@pytest.fixture(scope="module")
def ds(demo_db):
    return site.make_datasette(demo_db)


def test_demo_database_holds_the_whole_demo_corpus(demo_db):
    db = store.open_db(demo_db)
    assert db["documents"].count == len(library.demo_files()) >= 30
    assert db.execute("select count(*) from documents where analyzed_at is null").fetchone()[0] == 0
    years = {r[0] for r in db.execute("select distinct substr(published, 1, 4) from documents")}
    assert min(years) <= "2016" and max(years) >= "2025"


def test_building_the_demo_twice_changes_nothing(demo_db):
    before = store.table_counts(store.open_db(demo_db))
    library.build_demo(demo_db)
    assert store.table_counts(store.open_db(demo_db)) == before


def test_documents_csv_lists_the_demo_corpus(ds, demo_db, fetch):
    response = fetch(ds, "/tracker/documents.csv?_size=max")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    titles = {r["title"] for r in rows}
    expected = {r["title"] for r in store.open_db(demo_db)["documents"].rows}
    assert titles == expected and len(rows) >= 30


def test_site_is_read_only(ds, fetch):
    assert ds.databases["tracker"].is_mutable is False
    response = fetch(ds, "/tracker.json?sql=delete+from+documents")
    assert response.status_code == 400
    assert fetch(ds, "/tracker/documents.json?_shape=array&_size=1").status_code == 200


def test_metadata_describes_tables_and_columns(ds, fetch):
    page = fetch(ds, "/tracker/documents")
    assert "Relevance-weighted mean" in page.text
    assert fetch(ds, "/").status_code == 200 and "How stance is scored" in fetch(ds, "/").text


def test_stance_series_canned_query(ds, fetch):
    response = fetch(ds, "/tracker/stance_series.json?_shape=array&regulator=")
    assert response.status_code == 200
    rows = response.json()
    assert rows, "the demo corpus mentions regulators"
    assert set(rows[0]) == {"week", "regulator_id", "regulator", "n_documents", "n_sentences", "stance_mean"}
    assert all(-1 <= r["stance_mean"] <= 1 for r in rows)
    weeks = [r["week"] for r in rows]
    assert weeks == sorted(weeks)
    only = fetch(ds, "/tracker/stance_series.json?_shape=array&regulator=pboc").json()
    assert only and {r["regulator_id"] for r in only} == {"pboc"}


def test_missing_database_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="no database"):
        site.make_datasette(tmp_path / "none.db")
