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
                        "search_text": search_text(sent.text),
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
                    "stance_score": m.stance_score,
                    "stance_label": m.stance_label,
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


def index_inputs(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Analysed documents with a date: id, published, source_id, stance_score,
    n_sentences and ``entities``, the ``(entity_id, type)`` pairs they mention."""
    entities: dict[int, list[tuple[str, str]]] = {}
    for row in db.query(
        "SELECT DISTINCT m.document_id, e.id, e.type FROM mentions m JOIN entities e ON e.id = m.entity_id"
    ):
        entities.setdefault(row["document_id"], []).append((row["id"], row["type"]))
    rows = db.query(
        """
        SELECT d.id, d.published, d.source_id, d.stance_score,
               (SELECT count(*) FROM sentences s WHERE s.document_id = d.id) AS n_sentences
        FROM documents d
        WHERE d.stance_score IS NOT NULL AND d.published IS NOT NULL
        ORDER BY d.id
        """
    )
    return [{**row, "entities": entities.get(row["id"], [])} for row in rows]


def replace_stance_index(
    db: sqlite_utils.Database,
    rows: Iterable[dict[str, Any]],
    alerts: Iterable[dict[str, Any]],
    *,
    n_documents: int,
) -> int:
    """Replace the whole index and the alerts, and record the build, in one transaction.

    ``rows`` may be a generator: it is consumed as it is written. Returns the number of rows."""
    import time

    started = time.perf_counter()
    index_sql = "INSERT INTO stance_index ({}) VALUES ({})".format(
        ", ".join(_INDEX_COLUMNS), ", ".join("?" * len(_INDEX_COLUMNS))
    )
    alert_sql = "INSERT INTO alerts ({}) VALUES ({})".format(
        ", ".join(_ALERT_COLUMNS), ", ".join("?" * len(_ALERT_COLUMNS))
    )
    with db.atomic():
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
