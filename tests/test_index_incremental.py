"""The stance index updated incrementally writes exactly what a full rebuild writes."""

from __future__ import annotations

import random

from tracker import index, library, store
from tracker.aggregate import label_for
from tracker.records import Analysis, Document, Mention, Sentence, Stance

ENTITIES = [("pboc", "REGULATOR"), ("nfra", "REGULATOR"), ("state-council", "GOVERNMENT"),
            ("webank", "LENDER"), ("ant-group", "LENDER"), ("jd-technology", "LENDER")]


def analyse(db, doc_id: int, score: float, entities, n_sentences: int = 3) -> None:
    mentions = [Mention(text=e, label=t, id=e, start=0, end=len(e)) for e, t in entities]
    sentences = [
        Sentence(text=f"Sentence {k}.", start=0, end=1, score=score, label=label_for(score), relevance=0.9,
                 mentions=mentions if k == 0 else [])
        for k in range(n_sentences)
    ]
    stance = Stance(score=score, label=label_for(score))
    store.save_analysis(db, doc_id, Analysis(language="en", sentences=sentences, stance=stance, model_version="t"))


def add(db, rng: random.Random, n: int, *, year: int = 2024) -> list[int]:
    ids = []
    for _ in range(n):
        day = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        doc_id, _ = store.save_document(
            db, Document(text=f"Document {rng.random()}", published=day, source_id=rng.choice(["wire", "daily", "gov"]))
        )
        analyse(db, doc_id, round(rng.uniform(-1, 1), 3), rng.sample(ENTITIES, rng.randint(0, 3)), rng.randint(1, 5))
        ids.append(doc_id)
    return ids


def tables(db) -> tuple[list, list]:
    rows = list(db.query("select * from stance_index order by freq, group_type, group_id, period"))
    alerts = list(db.query("select * from alerts order by id"))
    return rows, alerts


def full_rebuild_of(db, tmp_path) -> tuple[list, list]:
    """The tables a full rebuild gives, computed on a copy of the database."""
    copy = tmp_path / f"copy-{random.random()}.db"
    store.checkpoint(db)
    db.execute(f"VACUUM INTO '{copy}'")
    other = store.open_db(copy)
    index.refresh_index(other)
    result = tables(other)
    other.close()
    return result


def test_incremental_updates_match_a_full_rebuild(tmp_path):
    rng = random.Random(11)
    db = library.init_db(tmp_path / "inc.db")
    ids = add(db, rng, 40)
    assert index.update_index(db).mode == "full"  # no build yet
    steps = [
        lambda: add(db, rng, 3),  # new documents in the calendar
        lambda: add(db, rng, 2, year=2026),  # the calendar grows at the end
        lambda: add(db, rng, 1, year=2021),  # ... and at the start
        lambda: analyse(db, ids[0], 0.9, [("du-xiaoman", "LENDER")]),  # a new group appears, old ones change
        lambda: [analyse(db, i, -0.2, []) for i in ids[1:4]],  # mentions dropped
        lambda: db["documents"].update(ids[5], {"published": "2022-06-30"}),  # re-dated
        lambda: db["documents"].update(ids[6], {"source_id": "daily"}),
        lambda: [db.execute(f"DELETE FROM {t} WHERE document_id = ?", [ids[7]]) for t in ("mentions", "figures", "sentences")]
        and db.execute("DELETE FROM documents WHERE id = ?", [ids[7]]),
    ]
    db.execute("INSERT OR IGNORE INTO entities (id, name, type) VALUES ('du-xiaoman', 'Du Xiaoman', 'LENDER')")
    for step in steps:
        step()
        build = index.update_index(db)
        assert build.mode == "incremental"
        assert tables(db) == full_rebuild_of(db, tmp_path)
        assert store.last_index_build(db)["stale"] is False


def test_an_update_with_nothing_changed_does_nothing(tmp_path):
    db = library.init_db(tmp_path / "same.db")
    add(db, random.Random(3), 5)
    index.refresh_index(db)
    builds = db["index_builds"].count
    assert index.update_index(db).mode == "unchanged"
    assert db["index_builds"].count == builds


def test_many_changes_or_an_older_build_mean_a_full_rebuild(tmp_path):
    db = library.init_db(tmp_path / "many.db")
    rng = random.Random(5)
    add(db, rng, 10)
    index.refresh_index(db)
    db.execute("DELETE FROM index_documents")  # as a build by an older version leaves it
    assert index.update_index(db).mode == "full"
    index.FULL_REBUILD_MIN, saved = 2, index.FULL_REBUILD_MIN
    try:
        add(db, rng, 5)
        assert index.update_index(db).mode == "full"
    finally:
        index.FULL_REBUILD_MIN = saved
