"""The SQLite store: the only module that talks to sqlite-utils.

Table names and columns are a contract with analysts' saved queries, so
schema changes go through named migrations that run once each, in a
transaction, recorded in ``_sqlite_migrations``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from .errors import StoreError
from .records import Analysis, Document

migrations = sqlite_utils.Migrations("tracker")


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def content_hash(text: str) -> str:
    """Hash of the text with white space folded, so re-wrapped copies count as one."""
    folded = " ".join(text.split())
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


# --- schema -----------------------------------------------------------------


@migrations(name="0001_initial")
def _m0001_initial(db: sqlite_utils.Database) -> None:
    db["sources"].create(
        {
            "id": str,
            "name": str,
            "kind": str,
            "url": str,
            "language": str,
            "created_at": str,
            "last_fetched_at": str,
            "last_success_at": str,
            "last_status": str,
            "last_error": str,
        },
        pk="id",
    )
    db["documents"].create(
        {
            "id": int,
            "source_id": str,
            "url": str,
            "title": str,
            "published": str,
            "fetched_at": str,
            "language": str,
            "text": str,
            "content_hash": str,
            "revision": int,
            "stance_score": float,
            "stance_label": str,
            "stance_confidence": float,
            "model_version": str,
            "analyzed_at": str,
        },
        pk="id",
        foreign_keys=[("source_id", "sources", "id")],
        defaults={"revision": 1},
    )
    db.execute("CREATE UNIQUE INDEX idx_documents_url ON documents(url) WHERE url IS NOT NULL")
    db["documents"].create_index(["content_hash"], unique=True)
    db["documents"].create_index(["source_id", "published"])
    db["documents"].create_index(["published"])
    db["documents"].create_index(["analyzed_at"])

    db["sentences"].create(
        {
            "id": int,
            "document_id": int,
            "position": int,
            "start": int,
            "end": int,
            "text": str,
            "stance_score": float,
            "stance_label": str,
            "relevance": float,
            "model_version": str,
        },
        pk="id",
        foreign_keys=[("document_id", "documents", "id")],
    )
    db["sentences"].create_index(["document_id", "position"], unique=True)
    db["sentences"].create_index(["stance_label"])

    db["entities"].create(
        {"id": str, "name": str, "type": str, "name_zh": str, "category": str, "successor_of": str},
        pk="id",
    )
    db["entities"].create_index(["type"])

    db["mentions"].create(
        {
            "id": int,
            "document_id": int,
            "sentence_id": int,
            "entity_id": str,
            "label": str,
            "text": str,
            "start": int,
            "end": int,
            "role": str,
            "method": str,
        },
        pk="id",
        foreign_keys=[
            ("document_id", "documents", "id"),
            ("sentence_id", "sentences", "id"),
            ("entity_id", "entities", "id"),
        ],
    )
    db["mentions"].create_index(["entity_id", "document_id"])
    db["mentions"].create_index(["document_id"])
    db["mentions"].create_index(["sentence_id"])

    db["figures"].create(
        {
            "id": int,
            "document_id": int,
            "sentence_id": int,
            "text": str,
            "value": float,
            "low": float,
            "high": float,
            "unit": str,
            "kind": str,
            "approx": int,
            "period": str,
            "metric": str,
            "start": int,
            "end": int,
        },
        pk="id",
        foreign_keys=[("document_id", "documents", "id"), ("sentence_id", "sentences", "id")],
    )
    db["figures"].create_index(["document_id"])
    db["figures"].create_index(["metric", "unit"])

    db["runs"].create(
        {
            "id": int,
            "command": str,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "exit_code": int,
            "n_sources": int,
            "n_failed": int,
            "n_new": int,
            "n_updated": int,
            "n_analyzed": int,
            "details": str,
        },
        pk="id",
    )

    db["documents"].enable_fts(["title", "text"], create_triggers=True, tokenize="porter")
    db["sentences"].enable_fts(["text"], create_triggers=True, tokenize="porter")


# --- opening ----------------------------------------------------------------


def open_db(path: str | Path, *, create: bool = True) -> sqlite_utils.Database:
    """Open (and migrate) the tracker database at ``path``.

    With ``create=False`` a missing file is an error instead of a new database.
    """
    path = Path(path)
    if not create and not path.exists():
        raise StoreError(f"no database at {path}: run 'tracker init --db {path}' first")
    if path.parent and not path.parent.exists():
        raise StoreError(f"cannot create {path}: folder {path.parent} does not exist")
    try:
        db = sqlite_utils.Database(path)
        db.execute("PRAGMA foreign_keys = ON")
        if db.journal_mode != "wal":
            db.enable_wal()
        ensure_schema(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open {path} as a tracker database: {exc}") from exc
    return db


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Apply pending migrations; safe to call on every open."""
    migrations.apply(db)


def checkpoint(db: sqlite_utils.Database) -> None:
    """Fold the WAL into the main file so an immutable reader (Datasette) sees everything."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# --- sources and entities ---------------------------------------------------


def save_source(db: sqlite_utils.Database, source: dict[str, Any]) -> None:
    """Insert or update a source's description, keeping its fetch status."""
    row = {k: source.get(k) for k in ("id", "name", "kind", "url", "language")}
    if db["sources"].count_where("id = ?", [row["id"]]):
        db["sources"].update(row["id"], {k: v for k, v in row.items() if v is not None})
    else:
        db["sources"].insert({**row, "created_at": utc_now()})


def ensure_source(db: sqlite_utils.Database, source_id: str, name: str | None = None) -> None:
    if not db["sources"].count_where("id = ?", [source_id]):
        save_source(db, {"id": source_id, "name": name or source_id, "kind": "local"})


def record_source_status(
    db: sqlite_utils.Database, source_id: str, *, ok: bool, status: str, error: str | None = None
) -> None:
    now = utc_now()
    changes = {"last_fetched_at": now, "last_status": status, "last_error": error}
    if ok:
        changes["last_success_at"] = now
    db["sources"].update(source_id, changes)


def save_entities(db: sqlite_utils.Database, entities: Iterable[dict[str, Any]]) -> None:
    """Mirror the gazetteer into ``entities`` (upsert by canonical id)."""
    rows = [
        {
            "id": e["id"],
            "name": e["name"],
            "type": e["type"],
            "name_zh": e.get("name_zh"),
            "category": e.get("category"),
            "successor_of": json.dumps(e.get("successor_of") or [], ensure_ascii=False),
        }
        for e in entities
    ]
    with db.atomic():
        db["entities"].upsert_all(rows, pk="id")


# --- documents --------------------------------------------------------------


def save_document(db: sqlite_utils.Database, doc: Document) -> tuple[int, str]:
    """Store ``doc`` once; return ``(document_id, status)``.

    ``status`` is "new", "updated" (same URL, changed text: revision + 1, queued
    for re-analysis) or "unchanged" (same URL and text, or the same text already
    stored under another URL).
    """
    digest = content_hash(doc.text)
    with db.atomic():
        ensure_source(db, doc.source_id, doc.source_name)
        if doc.url:
            existing = next(db["documents"].rows_where("url = ?", [doc.url], limit=1), None)
            if existing:
                if existing["content_hash"] == digest:
                    return existing["id"], "unchanged"
                clash = next(db["documents"].rows_where("content_hash = ?", [digest], limit=1), None)
                if clash:
                    return clash["id"], "unchanged"
                db["documents"].update(
                    existing["id"],
                    {
                        "text": doc.text,
                        "title": doc.title or existing["title"],
                        "published": doc.published or existing["published"],
                        "fetched_at": doc.fetched_at or utc_now(),
                        "language": doc.language or existing["language"],
                        "content_hash": digest,
                        "revision": (existing["revision"] or 1) + 1,
                        "analyzed_at": None,
                    },
                )
                return existing["id"], "updated"
        same = next(db["documents"].rows_where("content_hash = ?", [digest], limit=1), None)
        if same:
            return same["id"], "unchanged"
        table = db["documents"].insert(
            {
                "source_id": doc.source_id,
                "url": doc.url,
                "title": doc.title,
                "published": doc.published,
                "fetched_at": doc.fetched_at or utc_now(),
                "language": doc.language,
                "text": doc.text,
                "content_hash": digest,
                "revision": 1,
            }
        )
        return table.last_pk, "new"


def documents_to_analyze(
    db: sqlite_utils.Database, *, rescore: bool = False, model_version: str | None = None
) -> Iterator[dict[str, Any]]:
    """Rows (id, text, language) not yet analysed; with ``rescore``, also those
    analysed by a model other than ``model_version``."""
    if rescore:
        where, params = "analyzed_at IS NULL OR model_version IS NOT ?", [model_version]
    else:
        where, params = "analyzed_at IS NULL", []
    ids = [r["id"] for r in db.query(f"SELECT id FROM documents WHERE {where} ORDER BY id", params)]
    for doc_id in ids:
        yield db["documents"].get(doc_id)


def save_analysis(db: sqlite_utils.Database, document_id: int, analysis: Analysis) -> None:
    """Replace a document's sentences, mentions and figures with ``analysis``, atomically."""
    now = utc_now()
    with db.atomic():
        for table in ("mentions", "figures", "sentences"):
            db.execute(f"DELETE FROM {table} WHERE document_id = ?", [document_id])
        known = {r["id"] for r in db.query("SELECT id FROM entities")}
        for position, sent in enumerate(analysis.sentences):
            sentence_id = (
                db["sentences"]
                .insert(
                    {
                        "document_id": document_id,
                        "position": position,
                        "start": sent.start,
                        "end": sent.end,
                        "text": sent.text,
                        "stance_score": sent.score,
                        "stance_label": sent.label,
                        "relevance": sent.relevance,
                        "model_version": analysis.model_version,
                    }
                )
                .last_pk
            )
            db["mentions"].insert_all(
                {
                    "document_id": document_id,
                    "sentence_id": sentence_id,
                    "entity_id": m.id if m.id in known else None,
                    "label": m.label,
                    "text": m.text,
                    "start": m.start,
                    "end": m.end,
                    "role": m.role,
                    "method": m.source,
                }
                for m in sent.mentions
            )
            db["figures"].insert_all(
                {
                    "document_id": document_id,
                    "sentence_id": sentence_id,
                    "text": f.text,
                    "value": f.value,
                    "low": f.low,
                    "high": f.high,
                    "unit": f.unit,
                    "kind": f.kind,
                    "approx": int(f.approx),
                    "period": f.period,
                    "metric": f.metric,
                    "start": f.start,
                    "end": f.end,
                }
                for f in sent.figures
            )
        stance = analysis.stance
        db["documents"].update(
            document_id,
            {
                "language": analysis.language,
                "stance_score": stance.score if stance else None,
                "stance_label": stance.label if stance else None,
                "stance_confidence": stance.confidence if stance else None,
                "model_version": analysis.model_version,
                "analyzed_at": now,
            },
        )


# --- runs -------------------------------------------------------------------


def start_run(db: sqlite_utils.Database, command: str) -> int:
    return db["runs"].insert({"command": command, "started_at": utc_now(), "status": "running"}).last_pk


def finish_run(db: sqlite_utils.Database, run_id: int, *, status: str, exit_code: int, **counts: Any) -> None:
    details = counts.pop("details", None)
    db["runs"].update(
        run_id,
        {
            "finished_at": utc_now(),
            "status": status,
            "exit_code": exit_code,
            "details": json.dumps(details, ensure_ascii=False) if details is not None else None,
            **counts,
        },
    )


def table_counts(db: sqlite_utils.Database) -> dict[str, int]:
    names = ("sources", "documents", "sentences", "entities", "mentions", "figures", "runs")
    return {name: db[name].count for name in names}
