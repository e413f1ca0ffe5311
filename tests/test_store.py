import sqlite3

import pytest

from tracker import store
from tracker.errors import StoreError
from tracker.records import Analysis, Document, Figure, Mention, Sentence, Stance


def test_schema_has_the_contract_tables_and_columns(db_path):
    db = store.open_db(db_path)
    tables = set(db.table_names())
    assert {"sources", "documents", "sentences", "entities", "mentions", "figures", "runs"} <= tables
    assert {"id", "source_id", "url", "title", "published", "fetched_at", "language", "text", "content_hash",
            "stance_score", "stance_label", "model_version", "analyzed_at"} <= set(db["documents"].columns_dict)
    assert {"document_id", "position", "text", "stance_score", "stance_label"} <= set(db["sentences"].columns_dict)
    assert {"document_id", "sentence_id", "entity_id", "text", "start", "end"} <= set(db["mentions"].columns_dict)
    assert {"document_id", "sentence_id", "text", "value", "low", "high", "unit", "kind"} <= set(db["figures"].columns_dict)
    assert db.journal_mode == "wal"


def test_migrations_run_once(db_path):
    first = store.open_db(db_path)
    applied = [m.name for m in store.migrations.applied(first)]
    first.close()
    again = store.open_db(db_path)
    assert [m.name for m in store.migrations.applied(again)] == applied
    assert store.migrations.pending(again) == []


def test_open_without_create_refuses_a_missing_file(tmp_path):
    with pytest.raises(StoreError, match="no database"):
        store.open_db(tmp_path / "missing.db", create=False)


def test_open_refuses_a_file_that_is_not_sqlite(tmp_path):
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        store.open_db(bogus)


def test_same_text_is_stored_once_and_changed_url_text_is_a_revision(db_path):
    db = store.open_db(db_path)
    first = store.save_document(db, Document(text="The PBOC cut rates.", url="https://x.test/a", title="A"))
    assert first[1] == "new"
    assert store.save_document(db, Document(text="The  PBOC cut\nrates.", title="copy"))[1] == "unchanged"
    doc_id, status = store.save_document(db, Document(text="The PBOC cut rates again.", url="https://x.test/a"))
    assert (doc_id, status) == (first[0], "updated")
    row = db["documents"].get(doc_id)
    assert row["revision"] == 2 and row["title"] == "A" and row["analyzed_at"] is None
    assert db["documents"].count == 1


def test_foreign_keys_are_enforced(db_path):
    db = store.open_db(db_path)
    with pytest.raises(sqlite3.IntegrityError):
        db["sentences"].insert({"document_id": 999, "position": 0, "text": "orphan"})


def _analysis() -> Analysis:
    sentence = Sentence(text="WeBank may lend 5% more.", start=0, end=24, score=0.5, label="accommodative", relevance=0.7)
    sentence.mentions = [Mention(text="WeBank", label="LENDER", id="webank", start=0, end=6)]
    sentence.figures = [Figure(text="5%", start=15, end=17, value=5.0, unit="percent")]
    return Analysis(language="en", sentences=[sentence], stance=Stance(0.5, "accommodative", 0.4), model_version="m1")


def test_saving_an_analysis_twice_replaces_rather_than_duplicates(db_path):
    db = store.open_db(db_path)  # the fixture loaded the gazetteer, webank included
    doc_id, _ = store.save_document(db, Document(text="WeBank may lend 5% more."))
    store.save_analysis(db, doc_id, _analysis())
    store.save_analysis(db, doc_id, _analysis())
    assert (db["sentences"].count, db["mentions"].count, db["figures"].count) == (1, 1, 1)
    row = db["documents"].get(doc_id)
    assert row["stance_label"] == "accommodative" and row["model_version"] == "m1" and row["analyzed_at"]
    assert next(db["sentences"].rows)["model_version"] == "m1"


def test_unknown_entity_ids_are_stored_as_unlisted(db_path):
    db = store.open_db(db_path)
    doc_id, _ = store.save_document(db, Document(text="WeBank may lend 5% more."))
    analysis = _analysis()
    analysis.sentences[0].mentions[0].id = "no-such-lender"
    store.save_analysis(db, doc_id, analysis)  # kept as a mention, without an id
    assert next(db["mentions"].rows)["entity_id"] is None


def test_checkpoint_empties_the_wal(db_path):
    db = store.open_db(db_path)
    store.save_document(db, Document(text="Something to write."))
    store.checkpoint(db)
    wal = db_path.with_name(db_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
