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
from .segment import search_text

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
            "search_text": str,
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
            "search_text": str,
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
            "stance_score": float,
            "stance_label": str,
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

    # search_text holds jieba's segmentation of Chinese text (see segment.py), so
    # two-character words such as 花呗 are tokens the index can find.
    db["documents"].enable_fts(["title", "text", "search_text"], create_triggers=True, tokenize="porter")
    db["sentences"].enable_fts(["text", "search_text"], create_triggers=True, tokenize="porter")


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
                        "search_text": search_text(f"{doc.title or ''} {doc.text}"),
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
                "search_text": search_text(f"{doc.title or ''} {doc.text}"),
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
    save_analyses(db, [(document_id, analysis)])


def _entity_ids(db: sqlite_utils.Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT id FROM entities").fetchall()}


def save_analyses(
    db: sqlite_utils.Database, results: Iterable[tuple[int, Analysis]], *, batch_size: int = 500
) -> int:
    """Replace the sentences, mentions and figures of several documents, in one transaction.

    Bulk inserts (sqlite-utils ``insert_all``) with sentence ids assigned here, so the
    mentions and figures of a whole batch go in without a round trip per sentence.
    Returns the number of documents saved."""
    results = list(results)
    if not results:
        return 0
    now = utc_now()
    known = _entity_ids(db)
    ids = [(document_id,) for document_id, _ in results]
    sentences: list[dict[str, Any]] = []
    mentions: list[dict[str, Any]] = []
    figures: list[dict[str, Any]] = []
    updates: list[tuple] = []
    with db.atomic():
        for table in ("mentions", "figures", "sentences"):
            db.conn.executemany(f"DELETE FROM {table} WHERE document_id = ?", ids)
        # The deletes hold the write lock, so nobody else can take these ids meanwhile.
        sentence_id = db.execute("SELECT coalesce(max(id), 0) FROM sentences").fetchone()[0]
        for document_id, analysis in results:
            for position, sent in enumerate(analysis.sentences):
                sentence_id += 1
                sentences.append(
                    {
                        "id": sentence_id,
                        "document_id": document_id,
                        "position": position,
                        "start": sent.start,
                        "end": sent.end,
                        "text": sent.text,
                        "stance_score": sent.score,
                        "stance_label": sent.label,
                        "relevance": sent.relevance,
                        "model_version": analysis.model_version,
                        "search_text": search_text(sent.text),
                    }
                )
                mentions.extend(
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
                        "stance_score": m.stance_score,
                        "stance_label": m.stance_label,
                    }
                    for m in sent.mentions
                )
                figures.extend(
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
            updates.append(
                (
                    analysis.language,
                    stance.score if stance else None,
                    stance.label if stance else None,
                    stance.confidence if stance else None,
                    analysis.model_version,
                    now,
                    document_id,
                )
            )
        for table, rows in (("sentences", sentences), ("mentions", mentions), ("figures", figures)):
            if rows:
                db[table].insert_all(rows, batch_size=batch_size)
        db.conn.executemany(
            "UPDATE documents SET language = ?, stance_score = ?, stance_label = ?, stance_confidence = ?,"
            " model_version = ?, analyzed_at = ? WHERE id = ?",
            updates,
        )
    return len(results)


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


# --- fetch state (ingestion) ------------------------------------------------


@migrations(name="0002_fetch_state")
def _m0002_fetch_state(db: sqlite_utils.Database) -> None:
    # One row per fetched URL (canonical): the validators for conditional GET and
    # the outcome of the last fetch. Written in the same transaction as the
    # documents it led to, so a validator never outlives an unsaved document.
    db["fetch_state"].create(
        {
            "url": str,
            "source_id": str,
            "kind": str,  # feed, listing or article
            "final_url": str,
            "etag": str,
            "last_modified": str,
            "http_status": int,
            "status": str,  # ok, not_modified, skipped, error
            "error": str,
            "document_id": int,
            "last_fetched_at": str,
            "last_changed_at": str,
        },
        pk="url",
    )
    db["fetch_state"].create_index(["source_id"])
    db["fetch_state"].create_index(["document_id"])
    db.execute(
        """
        CREATE VIEW source_status AS
        SELECT
          s.id, s.name, s.kind, s.url, s.language,
          s.last_fetched_at, s.last_success_at, s.last_status, s.last_error,
          (SELECT count(*) FROM documents d WHERE d.source_id = s.id) AS n_documents,
          (SELECT max(d.fetched_at) FROM documents d WHERE d.source_id = s.id) AS last_document_at
        FROM sources s
        WHERE s.kind IN ('feed', 'listing')
        """
    )


def get_fetch_state(db: sqlite_utils.Database, url: str) -> dict[str, Any] | None:
    """The stored fetch state of a canonical URL, or None."""
    return next(db["fetch_state"].rows_where("url = ?", [url], limit=1), None)


def conditional_headers_for(db: sqlite_utils.Database, url: str, *, needs_document: bool) -> dict[str, str | None]:
    """``{"etag", "last_modified"}`` for a conditional GET of ``url``, empty values when unsafe.

    With ``needs_document``, validators count only while the document they led
    to is still stored: a 304 must never hide a page we no longer have.
    """
    state = get_fetch_state(db, url)
    if not state or state.get("status") == "error":
        return {"etag": None, "last_modified": None}
    # A page remembered as "skipped" (nothing to store in it) needs no document.
    if needs_document and state.get("status") != "skipped" and not (
        state.get("document_id") and db["documents"].count_where("id = ?", [state["document_id"]])
    ):
        return {"etag": None, "last_modified": None}
    return {"etag": state.get("etag"), "last_modified": state.get("last_modified")}


def save_fetch_state(db: sqlite_utils.Database, url: str, *, changed: bool = False, **fields: Any) -> None:
    """Insert or update the fetch state of ``url``; ``changed`` marks new content."""
    now = utc_now()
    row = {"url": url, "last_fetched_at": now, **fields}
    if changed:
        row["last_changed_at"] = now
    with db.atomic():
        if db["fetch_state"].count_where("url = ?", [url]):
            db["fetch_state"].update(url, row)
        else:
            db["fetch_state"].insert(row)


def source_statuses(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """Rows of the ``source_status`` view by source id."""
    return {row["id"]: row for row in db.query("SELECT * FROM source_status ORDER BY id")}


def interrupt_stale_runs(db: sqlite_utils.Database) -> int:
    """Mark runs left "running" by a killed process as "interrupted"; call only while holding the run lock."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'", [utc_now()]
        )
    return cursor.rowcount


# --- stance index, alerts and the site's views ------------------------------


def _html_escape_sql(expr: str) -> str:
    """SQL that HTML-escapes the text of ``expr`` (for Atom content built in a view)."""
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        expr = f"replace({expr}, '{char}', '{entity}')"
    return expr


#: The sentences the ``signals_atom`` feed and the ``latest_signals`` query publish.
STRONG_SIGNAL_SQL = "abs(s.stance_score) >= 0.6 AND s.relevance >= 0.6"


@migrations(name="0003_stance_index")
def _m0003_stance_index(db: sqlite_utils.Database) -> None:
    # The stance index (tracker.index): one row per frequency, group and period,
    # empty periods included. Rebuilt in full by refresh_index. Keyed (and so
    # unique) on (freq, group_type, group_id, period); WITHOUT ROWID keeps the rows
    # in that key's B-tree instead of a table plus an index: half the size.
    db.execute(
        """
        CREATE TABLE stance_index (
          period TEXT NOT NULL,       -- ISO date of the period start (weeks start on Monday)
          freq TEXT NOT NULL,         -- day, week or month
          group_type TEXT NOT NULL,   -- all, source, regulator or lender
          group_id TEXT NOT NULL,     -- "all", a source id or an entity id
          n_documents INTEGER NOT NULL,
          n_sentences INTEGER NOT NULL,
          stance_mean FLOAT,
          stance_low FLOAT,
          stance_high FLOAT,
          PRIMARY KEY (freq, group_type, group_id, period)
        ) WITHOUT ROWID
        """
    )

    # Shifts found by the CUSUM over each group's weekly series.
    db["alerts"].create(
        {
            "id": int,
            "date": str,  # start of the week the detector fired
            "freq": str,
            "group_type": str,
            "group_id": str,
            "direction": str,  # tightening or accommodative
            "magnitude": float,  # level - reference, in stance units
            "reference": float,
            "level": float,
            "statistic": float,
            "threshold": float,
            "since": str,  # start of the first week of the change
            "n_documents": int,
            "document_ids": str,  # JSON list of documents.id
        },
        pk="id",
    )
    db["alerts"].create_index(["date"])
    db["alerts"].create_index(["group_type", "group_id"])

    # One row per rebuild, so the site can say how fresh the index is.
    db["index_builds"].create(
        {
            "id": int,
            "built_at": str,
            "mode": str,  # full
            "n_documents": int,
            "n_rows": int,
            "n_alerts": int,
            "seconds": float,
            "last_analyzed_at": str,  # newest documents.analyzed_at the build saw
        },
        pk="id",
    )

    group_name = """CASE a.group_type
          WHEN 'all' THEN 'All documents'
          WHEN 'source' THEN coalesce((SELECT name FROM sources WHERE id = a.group_id), a.group_id)
          ELSE coalesce((SELECT name FROM entities WHERE id = a.group_id), a.group_id)
        END"""
    doc_title = "coalesce(d.title, 'document ' || d.id)"
    doc_item = (
        "'<li>' || CASE WHEN d.url LIKE 'http%' THEN '<a href=\"' || "
        + _html_escape_sql("d.url")
        + " || '\">' || "
        + _html_escape_sql(doc_title)
        + " || '</a>' ELSE "
        + _html_escape_sql(doc_title)
        + " END || ' (' || coalesce(substr(d.published, 1, 10), 'undated') || ', stance ' || printf('%+.2f', d.stance_score) || ')</li>'"
    )
    # Atom feeds (datasette-atom): the atom_* column names are the contract.
    db.execute(
        f"""
        CREATE VIEW alerts_atom AS
        SELECT
          'tag:tracker,2025:alert/' || a.group_type || '/' || a.group_id || '/' || a.date || '/' || a.direction AS atom_id,
          upper(substr(a.direction, 1, 1)) || substr(a.direction, 2) || ' shift: ' || {group_name}
            || ' (' || a.group_type || '), week of ' || a.date AS atom_title,
          a.date || 'T00:00:00Z' AS atom_updated,
          '<p>' || {_html_escape_sql(group_name)} || ': the weekly stance moved from '
            || printf('%+.2f', a.reference) || ' to ' || printf('%+.2f', a.level)
            || ' (' || printf('%+.2f', a.magnitude) || ') from the week of ' || a.since
            || '; the CUSUM statistic ' || printf('%.2f', a.statistic) || ' reached the threshold '
            || printf('%.2f', a.threshold) || '.</p><ul>'
            || coalesce((SELECT group_concat({doc_item}, '')
                         FROM json_each(a.document_ids) j JOIN documents d ON d.id = j.value), '')
            || '</ul>' AS atom_content_html,
          '/tracker/alerts?date=' || a.date || '&group_type=' || a.group_type || '&group_id=' || a.group_id AS atom_link,
          a.id AS alert_id, a.date, a.group_type, a.group_id, a.direction, a.magnitude, a.n_documents
        FROM alerts a
        """
    )
    db.execute(
        f"""
        CREATE VIEW signals_atom AS
        SELECT
          'tag:tracker,2025:document/' || d.id || '/r' || coalesce(d.revision, 1) || '/sentence/' || s.position AS atom_id,
          upper(substr(s.stance_label, 1, 1)) || substr(s.stance_label, 2) || ' ' || printf('%+.2f', s.stance_score)
            || ': ' || {doc_title} AS atom_title,
          coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', d.published), strftime('%Y-%m-%dT%H:%M:%SZ', d.fetched_at)) AS atom_updated,
          s.text AS atom_content,
          coalesce(d.url, '/tracker/documents/' || d.id) AS atom_link,
          coalesce(d.published, d.fetched_at) AS published,
          d.id AS document_id, d.title, d.source_id, s.id AS sentence_id, s.text AS sentence,
          s.stance_score, s.stance_label, s.relevance, d.url
        FROM sentences s JOIN documents d ON d.id = s.document_id
        WHERE {STRONG_SIGNAL_SQL}
        """
    )
    # The evidence rule of tracker.aggregate.document_stance: the (at most 3)
    # sentences agreeing with the document's label, by relevance x |score|.
    db.execute(
        """
        CREATE VIEW evidence AS
        SELECT document_id, rank, sentence_id, position, text, stance_score, stance_label, relevance
        FROM (
          SELECT s.document_id, s.id AS sentence_id, s.position, s.text, s.stance_score, s.stance_label,
                 s.relevance,
                 row_number() OVER (
                   PARTITION BY s.document_id
                   ORDER BY coalesce(s.relevance, 0) * abs(s.stance_score) DESC, s.position
                 ) AS rank
          FROM sentences s JOIN documents d ON d.id = s.document_id
          WHERE d.stance_label IN ('tightening', 'accommodative')
            AND s.stance_label = d.stance_label AND s.stance_score IS NOT NULL
        )
        WHERE rank <= 3
        """
    )
    # Browsing with an entity facet (a JSON array of the entity ids mentioned).
    db.execute(
        """
        CREATE VIEW document_search AS
        SELECT d.id, d.published, d.title, d.source_id, d.language, d.stance_label, d.stance_score, d.url,
          (SELECT json_group_array(entity_id) FROM (
             SELECT DISTINCT m.entity_id FROM mentions m
             WHERE m.document_id = d.id AND m.entity_id IS NOT NULL ORDER BY m.entity_id)) AS entities
        FROM documents d
        """
    )
    db.execute(
        """
        CREATE VIEW sentence_search AS
        SELECT s.id, s.document_id, d.published, d.title, d.source_id, d.language, s.text,
          s.stance_score, s.stance_label, s.relevance,
          (SELECT json_group_array(entity_id) FROM (
             SELECT DISTINCT m.entity_id FROM mentions m
             WHERE m.sentence_id = s.id AND m.entity_id IS NOT NULL ORDER BY m.entity_id)) AS entities
        FROM sentences s JOIN documents d ON d.id = s.document_id
        """
    )


_INDEX_COLUMNS = (
    "period", "freq", "group_type", "group_id",
    "n_documents", "n_sentences", "stance_mean", "stance_low", "stance_high",
)
_ALERT_COLUMNS = (
    "date", "freq", "group_type", "group_id", "direction", "magnitude", "reference", "level",
    "statistic", "threshold", "since", "n_documents", "document_ids",
)


def index_inputs(db: sqlite_utils.Database, ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Analysed documents with a date (of ``ids`` only, when given): id, published, source_id,
    stance_score, n_sentences and ``entities``, the ``(entity_id, type)`` pairs they mention."""
    only, params = "", []
    if ids is not None:
        only, params = " AND {} IN (SELECT value FROM json_each(?))", [json.dumps(ids)]
    entities: dict[int, list[tuple[str, str]]] = {}
    for row in db.query(
        "SELECT DISTINCT m.document_id, e.id, e.type FROM mentions m JOIN entities e ON e.id = m.entity_id"
        + (" WHERE 1" + only.format("m.document_id") if only else ""),
        params,
    ):
        entities.setdefault(row["document_id"], []).append((row["id"], row["type"]))
    rows = db.query(
        f"""
        SELECT d.id, d.published, d.source_id, d.stance_score,
               (SELECT count(*) FROM sentences s WHERE s.document_id = d.id) AS n_sentences
        FROM documents d
        WHERE d.stance_score IS NOT NULL AND d.published IS NOT NULL{only.format("d.id")}
        ORDER BY d.id
        """,
        params,
    )
    return [{**row, "entities": entities.get(row["id"], [])} for row in rows]


def replace_stance_index(
    db: sqlite_utils.Database,
    rows: Iterable[dict[str, Any]],
    alerts: Iterable[dict[str, Any]],
    *,
    n_documents: int,
    snapshot: tuple[Iterable[tuple], Iterable[tuple]] | None = None,
) -> int:
    """Replace the whole index and the alerts, and record the build, in one transaction.

    ``rows`` may be a generator: it is consumed as it is written. ``snapshot`` (documents,
    groups), as :func:`replace_index_snapshot` takes them, replaces what the next
    incremental update starts from. Returns the number of rows."""
    import time

    started = time.perf_counter()
    index_sql = "INSERT INTO stance_index ({}) VALUES ({})".format(
        ", ".join(_INDEX_COLUMNS), ", ".join("?" * len(_INDEX_COLUMNS))
    )
    alert_sql = "INSERT INTO alerts ({}) VALUES ({})".format(
        ", ".join(_ALERT_COLUMNS), ", ".join("?" * len(_ALERT_COLUMNS))
    )
    with write_transaction(db):
        if snapshot is not None:
            replace_index_snapshot(db, *snapshot)
        db.execute("DELETE FROM stance_index")
        cursor = db.conn.executemany(index_sql, ([r[c] for c in _INDEX_COLUMNS] for r in rows))
        n_rows = cursor.rowcount
        db.execute("DELETE FROM alerts")
        cursor = db.conn.executemany(alert_sql, ([a[c] for c in _ALERT_COLUMNS] for a in alerts))
        n_alerts = cursor.rowcount
        last_analyzed = db.execute("SELECT max(analyzed_at) FROM documents").fetchone()[0]
        db["index_builds"].insert(
            {
                "built_at": utc_now(),
                "mode": "full",
                "n_documents": n_documents,
                "n_rows": max(n_rows, 0),
                "n_alerts": max(n_alerts, 0),
                "seconds": round(time.perf_counter() - started, 3),
                "last_analyzed_at": last_analyzed,
            }
        )
    return max(n_rows, 0)


def last_index_build(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The newest ``index_builds`` row, with ``stale`` true when documents were analysed since."""
    build = next(db.query("SELECT * FROM index_builds ORDER BY id DESC LIMIT 1"), None)
    if build is None:
        return None
    newest, n_scored = db.execute(
        "SELECT max(analyzed_at), count(stance_score IS NOT NULL AND published IS NOT NULL OR NULL) FROM documents"
    ).fetchone()
    stale = bool(newest and (build["last_analyzed_at"] or "") < newest) or n_scored != build["n_documents"]
    stale = stale or db.execute("SELECT 1 FROM index_dirty LIMIT 1").fetchone() is not None
    return {**build, "stale": stale}


def index_built(db: sqlite_utils.Database) -> bool:
    return last_index_build(db) is not None


def stance_series(
    db: sqlite_utils.Database,
    *,
    freq: str,
    group_type: str,
    since: str | None = None,
    until: str | None = None,
) -> list[dict[str, Any]]:
    """Rows of one frequency and group type of ``stance_index`` (without ``freq``),
    ordered by period, group type and group id; ``since``/``until`` bound the period start."""
    columns = [c for c in _INDEX_COLUMNS if c != "freq"]
    sql = f"""
        SELECT {", ".join(columns)} FROM stance_index
        WHERE freq = :freq AND group_type = :group_type
          AND (:since IS NULL OR period >= :since) AND (:until IS NULL OR period <= :until)
        ORDER BY period, group_type, group_id
    """
    params = {"freq": freq, "group_type": group_type, "since": since, "until": until}
    return list(db.query(sql, params))


# --- transactions -------------------------------------------------------------


class _WriteTransaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: the write lock is taken before anything is read, so
    what the block reads stays true until it commits. Inside a transaction: a savepoint."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self.nested = None

    def __enter__(self) -> sqlite_utils.Database:
        if self.db.conn.in_transaction:
            self.nested = self.db.atomic()
            return self.nested.__enter__()
        self.db.conn.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, traceback) -> None:
        if self.nested is not None:
            self.nested.__exit__(kind, value, traceback)
            return
        if kind is None:
            self.db.conn.execute("COMMIT")
        elif self.db.conn.in_transaction:
            self.db.conn.execute("ROLLBACK")


def write_transaction(db: sqlite_utils.Database) -> _WriteTransaction:
    """A transaction that holds the write lock from its start (see :class:`_WriteTransaction`)."""
    return _WriteTransaction(db)


# --- back-fill bookkeeping ----------------------------------------------------


@migrations(name="0004_backfill")
def _m0004_backfill(db: sqlite_utils.Database) -> None:
    # One row per archive partition whose documents are stored (tracker.backfill): a
    # partition is a fixed run of lines of one archive, keyed by the hash of the file's
    # content and its index, so a re-run skips what is done whatever the file is called.
    db.execute(
        """
        CREATE TABLE backfill_partitions (
          file_hash TEXT NOT NULL,     -- SHA-256 of the archive file's bytes
          partition INTEGER NOT NULL,  -- 0, 1, 2... in file order
          archive TEXT,                -- the file name it was read from
          first_line INTEGER,          -- first line of the partition (1-based)
          n_lines INTEGER,             -- lines read (blank lines included)
          n_documents INTEGER,         -- records analysed
          n_new INTEGER,               -- documents stored for the first time
          engine TEXT,                 -- local or dask
          stored_at TEXT,
          PRIMARY KEY (file_hash, partition)
        )
        """
    )


def done_partitions(db: sqlite_utils.Database, file_hash: str) -> set[int]:
    """Indexes of the partitions of the archive with this hash that are already stored."""
    rows = db.execute("SELECT partition FROM backfill_partitions WHERE file_hash = ?", [file_hash]).fetchall()
    return {r[0] for r in rows}


def save_partition(
    db: sqlite_utils.Database,
    partition: dict[str, Any],
    documents: list[tuple[Document, Analysis]],
) -> dict[str, int]:
    """Store one back-fill partition in one transaction: its documents (de-duplicated as
    ``save_document`` does), their analyses, and the row marking the partition done.

    A document already stored unchanged keeps its analysis; new and changed ones take the
    analysis given. Returns ``{"new", "updated", "unchanged"}`` counts."""
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    with write_transaction(db):
        analysed: dict[int, Analysis] = {}
        for document, analysis in documents:
            document_id, status = save_document(db, document)
            counts[status] += 1
            if document_id in analysed:
                continue  # the same text twice in one partition: analysed once
            if status != "unchanged" or db.execute(
                "SELECT analyzed_at IS NULL FROM documents WHERE id = ?", [document_id]
            ).fetchone()[0]:
                analysed[document_id] = analysis
        save_analyses(db, list(analysed.items()))
        db["backfill_partitions"].insert(
            {**partition, "n_documents": len(documents), "n_new": counts["new"], "stored_at": utc_now()},
            replace=True,
        )
    return counts


# --- the stance index, incrementally ---------------------------------------------


@migrations(name="0005_incremental_index")
def _m0005_incremental_index(db: sqlite_utils.Database) -> None:
    # What the stance index was last built from (tracker.index.update_index): each scored,
    # dated document's day, source, score and sentence count, and the groups it counts in.
    db.execute(
        """
        CREATE TABLE index_documents (
          id INTEGER PRIMARY KEY,      -- documents.id
          day TEXT NOT NULL,           -- UTC day of publication
          source_id TEXT,
          score FLOAT NOT NULL,
          n_sentences INTEGER NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_index_documents_day ON index_documents(day)")
    db.execute(
        """
        CREATE TABLE index_groups (
          group_type TEXT NOT NULL,
          group_id TEXT NOT NULL,
          day TEXT NOT NULL,
          document_id INTEGER NOT NULL,
          PRIMARY KEY (group_type, group_id, day, document_id)
        ) WITHOUT ROWID
        """
    )
    db.execute("CREATE INDEX idx_index_groups_document ON index_groups(document_id)")
    # Documents whose index inputs changed since: kept by triggers, so every writer counts.
    db.execute("CREATE TABLE index_dirty (document_id INTEGER PRIMARY KEY)")
    db.execute(
        """
        CREATE TRIGGER documents_index_dirty_insert AFTER INSERT ON documents
        WHEN new.stance_score IS NOT NULL
        BEGIN INSERT OR IGNORE INTO index_dirty (document_id) VALUES (new.id); END
        """
    )
    db.execute(
        """
        CREATE TRIGGER documents_index_dirty_update AFTER UPDATE OF published, source_id, stance_score ON documents
        WHEN new.stance_score IS NOT NULL OR old.stance_score IS NOT NULL
        BEGIN INSERT OR IGNORE INTO index_dirty (document_id) VALUES (new.id); END
        """
    )
    db.execute(
        """
        CREATE TRIGGER documents_index_dirty_delete AFTER DELETE ON documents
        BEGIN INSERT OR IGNORE INTO index_dirty (document_id) VALUES (old.id); END
        """
    )


_SNAPSHOT_DOCUMENT_SQL = "INSERT INTO index_documents (id, day, source_id, score, n_sentences) VALUES (?, ?, ?, ?, ?)"
_SNAPSHOT_GROUP_SQL = "INSERT INTO index_groups (group_type, group_id, day, document_id) VALUES (?, ?, ?, ?)"


def index_state(db: sqlite_utils.Database) -> dict[str, Any]:
    """``{"ready", "n_documents", "dirty"}``: whether the last build left a snapshot to update
    (a build by an older version did not), its size, and the ids of documents changed since."""
    build = next(db.query("SELECT n_documents FROM index_builds ORDER BY id DESC LIMIT 1"), None)
    n_snapshot = db.execute("SELECT count(*) FROM index_documents").fetchone()[0]
    dirty = [r[0] for r in db.execute("SELECT document_id FROM index_dirty ORDER BY document_id").fetchall()]
    return {"ready": build is not None and build["n_documents"] == n_snapshot, "n_documents": n_snapshot, "dirty": dirty}


def index_snapshot(db: sqlite_utils.Database, ids: list[int]) -> list[dict[str, Any]]:
    """The snapshot rows of these documents: id, day and ``groups`` ((group_type, group_id) pairs)."""
    groups: dict[int, list[tuple[str, str]]] = {}
    for row in db.execute(
        "SELECT document_id, group_type, group_id FROM index_groups WHERE document_id IN (SELECT value FROM json_each(?))",
        [json.dumps(ids)],
    ):
        groups.setdefault(row[0], []).append((row[1], row[2]))
    rows = db.execute("SELECT id, day FROM index_documents WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(ids)])
    return [{"id": r[0], "day": r[1], "groups": groups.get(r[0], [])} for r in rows]


def replace_index_snapshot(
    db: sqlite_utils.Database,
    documents: Iterable[tuple[int, str, str | None, float, int]],
    groups: Iterable[tuple[str, str, str, int]],
    *,
    ids: list[int] | None = None,
) -> None:
    """Replace the snapshot rows of ``ids`` (all of them when None) with ``documents``
    ``(id, day, source_id, score, n_sentences)`` and ``groups`` ``(group_type, group_id, day,
    document_id)``, and forget that those documents were dirty. Call inside a transaction."""
    if ids is None:
        for table in ("index_documents", "index_groups", "index_dirty"):
            db.execute(f"DELETE FROM {table}")
    else:
        chosen = json.dumps(ids)
        db.execute("DELETE FROM index_documents WHERE id IN (SELECT value FROM json_each(?))", [chosen])
        db.execute("DELETE FROM index_groups WHERE document_id IN (SELECT value FROM json_each(?))", [chosen])
        db.execute("DELETE FROM index_dirty WHERE document_id IN (SELECT value FROM json_each(?))", [chosen])
    db.conn.executemany(_SNAPSHOT_DOCUMENT_SQL, documents)
    db.conn.executemany(_SNAPSHOT_GROUP_SQL, groups)


def index_calendar(db: sqlite_utils.Database) -> tuple[str | None, str | None]:
    """The first and the last day of the snapshot's documents."""
    return tuple(db.execute("SELECT min(day), max(day) FROM index_documents").fetchone())


def indexed_groups(db: sqlite_utils.Database) -> set[tuple[str, str]]:
    """The groups that have rows in ``stance_index``."""
    rows = db.execute("SELECT DISTINCT group_type, group_id FROM stance_index WHERE freq = 'month'").fetchall()
    return {(r[0], r[1]) for r in rows}


def group_has_documents(db: sqlite_utils.Database, group: tuple[str, str]) -> bool:
    return db.execute(
        "SELECT 1 FROM index_groups WHERE group_type = ? AND group_id = ? LIMIT 1", list(group)
    ).fetchone() is not None


def cell_documents(db: sqlite_utils.Database, group: tuple[str, str], first_day: str, end_day: str) -> list[tuple[float, int]]:
    """``(score, n_sentences)`` of the snapshot documents of a group from ``first_day`` up to
    (not including) ``end_day``."""
    return db.execute(
        """
        SELECT d.score, d.n_sentences FROM index_groups g JOIN index_documents d ON d.id = g.document_id
        WHERE g.group_type = ? AND g.group_id = ? AND g.day >= ? AND g.day < ?
        """,
        [group[0], group[1], first_day, end_day],
    ).fetchall()


def group_documents(db: sqlite_utils.Database, group: tuple[str, str]) -> list[tuple[str, int, float]]:
    """``(day, id, score)`` of every snapshot document of a group."""
    return db.execute(
        """
        SELECT g.day, g.document_id, d.score FROM index_groups g JOIN index_documents d ON d.id = g.document_id
        WHERE g.group_type = ? AND g.group_id = ?
        """,
        list(group),
    ).fetchall()


def alerts_except(db: sqlite_utils.Database, groups: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """The stored alerts of every group but these (without their ids)."""
    return [
        {c: row[c] for c in _ALERT_COLUMNS}
        for row in db.query("SELECT * FROM alerts ORDER BY id")
        if (row["group_type"], row["group_id"]) not in groups
    ]


def update_stance_index(
    db: sqlite_utils.Database,
    *,
    delete_groups: Iterable[tuple[str, str]] = (),
    delete_periods: Iterable[tuple[str, str, str, str]] = (),
    rows: Iterable[dict[str, Any]] = (),
) -> int:
    """Change part of ``stance_index``: drop every row of ``delete_groups``, drop the rows
    ``(freq, group_type, group_id, period)`` of ``delete_periods``, then insert or replace
    ``rows``. Returns the number of rows written. Call inside a transaction."""
    db.conn.executemany(
        "DELETE FROM stance_index WHERE group_type = ? AND group_id = ?", [tuple(g) for g in delete_groups]
    )
    db.conn.executemany(
        "DELETE FROM stance_index WHERE freq = ? AND group_type = ? AND group_id = ? AND period = ?",
        [tuple(k) for k in delete_periods],
    )
    sql = "INSERT OR REPLACE INTO stance_index ({}) VALUES ({})".format(
        ", ".join(_INDEX_COLUMNS), ", ".join("?" * len(_INDEX_COLUMNS))
    )
    cursor = db.conn.executemany(sql, ([r[c] for c in _INDEX_COLUMNS] for r in rows))
    return max(cursor.rowcount, 0)


def replace_alerts(db: sqlite_utils.Database, alerts: Iterable[dict[str, Any]]) -> int:
    """Replace every alert (ids restart, in the order given). Call inside a transaction."""
    db.execute("DELETE FROM alerts")
    sql = "INSERT INTO alerts ({}) VALUES ({})".format(", ".join(_ALERT_COLUMNS), ", ".join("?" * len(_ALERT_COLUMNS)))
    cursor = db.conn.executemany(sql, ([a[c] for c in _ALERT_COLUMNS] for a in alerts))
    return max(cursor.rowcount, 0)


def record_index_build(
    db: sqlite_utils.Database, *, mode: str, n_documents: int, n_rows: int, n_alerts: int, seconds: float
) -> None:
    """Add a row to ``index_builds`` (with the newest analysis the build saw)."""
    last_analyzed = db.execute("SELECT max(analyzed_at) FROM documents").fetchone()[0]
    db["index_builds"].insert(
        {
            "built_at": utc_now(),
            "mode": mode,
            "n_documents": n_documents,
            "n_rows": n_rows,
            "n_alerts": n_alerts,
            "seconds": round(seconds, 3),
            "last_analyzed_at": last_analyzed,
        }
    )


# --- indexes for the site's canned queries -------------------------------------------


@migrations(name="0006_query_indexes")
def _m0006_query_indexes(db: sqlite_utils.Database) -> None:
    # stance_series and `tracker export series`: one frequency and group type, in period
    # order, read straight from the index with no sort (and a period range when bounded).
    # Covering: an export reads hundreds of thousands of rows, one lookup each otherwise.
    db.execute(
        "CREATE INDEX idx_stance_index_series ON stance_index(freq, group_type, period, group_id,"
        " n_documents, n_sentences, stance_mean, stance_low, stance_high)"
    )
    # latest_signals / signals_atom: documents newest first, then their strong sentences.
    db.execute("CREATE INDEX idx_documents_published_or_fetched ON documents(coalesce(published, fetched_at))")
    strong = STRONG_SIGNAL_SQL.replace("s.", "")
    db.execute(f"CREATE INDEX idx_sentences_strong ON sentences(document_id) WHERE {strong}")


def refresh_statistics(db: sqlite_utils.Database, *, always: bool = True) -> None:
    """``ANALYZE``: table statistics for SQLite's query planner, which it needs to pick the
    indexes above (without them it scans a million sentences for latest_signals). With
    ``always`` false, only when the database has none yet (else ``PRAGMA optimize``)."""
    if always or not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
        db.execute("ANALYZE")
    else:
        db.execute("PRAGMA optimize")
