"""The Datasette adapter: the analyst site over a tracker database, served read-only.

Metadata (titles, descriptions, canned queries, facets, the dashboard) lives in
``metadata.yml``; page templates in ``templates/``. One small in-process plugin
adds what SQL in metadata cannot: the freshness block of the title page and the
evidence sentences of a document page.
"""

from __future__ import annotations

import asyncio
import types
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode
from xml.etree import ElementTree

import yaml
from datasette import hookimpl
from datasette.app import Datasette
from datasette.database import Database
from datasette.plugins import pm
from datasette.utils import tilde_decode
from datasette.utils.asgi import Response

from .errors import StoreError
from .segment import search_query

DATABASE_NAME = "tracker"

#: Datasette settings: a hard SQL time limit, and nothing that writes.
SETTINGS = {
    "sql_time_limit_ms": 1000,
    "max_returned_rows": 5000,
    "allow_download": False,
    "default_page_size": 50,
    "truncate_cells_html": 400,
    # Facets are configured per table in metadata.yml; suggesting more scans every column
    # and takes most of a second on the stance index.
    "suggest_facets": False,
}

#: Plugins the site may run with (none of them writes). A test keeps the installed set inside it.
ALLOWED_PLUGINS = frozenset(
    {
        "datasette-dashboards",  # charts (bundles Vega, Vega-Lite and vega-embed)
        "datasette-atom",  # Atom feeds from atom_* columns
        "datasette-block-robots",  # robots.txt
        "datasette-leaflet",  # dependency of datasette-dashboards (map charts; we use none)
        "datasette-render-markdown",  # dependency of datasette-dashboards (markdown cards)
    }
)


def load_metadata() -> dict:
    """Titles, descriptions, column descriptions, canned queries and plugin settings."""
    text = resources.files("tracker").joinpath("metadata.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def package_dir(name: str) -> Path:
    return Path(str(resources.files("tracker").joinpath(name)))


def make_datasette(db_path: str | Path) -> Datasette:
    """A Datasette over ``db_path`` opened immutable (read-only, no locks) as ``/tracker``."""
    db_path = Path(db_path)
    if not db_path.exists():
        raise StoreError(f"no database at {db_path}: run 'tracker init' or 'tracker demo --no-serve' first")
    register_plugin()
    # No static files of our own: every script and stylesheet the pages load comes from
    # Datasette or its plugins, served locally (the browser test checks nothing else is asked for).
    ds = Datasette(metadata=load_metadata(), settings=SETTINGS, template_dir=str(package_dir("templates")))
    ds.add_database(Database(ds, path=str(db_path), is_mutable=False), name=DATABASE_NAME)
    if "atom" in ds.renderers:
        render, can_render = ds.renderers["atom"]
        ds.renderers["atom"] = (_atom_even_when_empty(render), can_render)
    return ds


_ATOM_COLUMNS = {"atom_id", "atom_updated", "atom_title"}


def _atom_even_when_empty(render):
    """datasette-atom 0.9 answers 500 for a feed with no rows (it takes the max() of nothing),
    so a subscription made before the first alert would fail: answer a valid empty feed."""

    # Datasette passes a renderer only the arguments it names: keep these names.
    def render_atom(datasette, request, sql, columns, rows, database, table, query_name, view_name, data):
        if rows or not _ATOM_COLUMNS <= set(columns):
            return render(datasette, request, sql, columns, rows, database, table, query_name, view_name, data)
        title = (datasette.metadata(database=database) or {}).get("queries", {}).get(query_name or "", {}).get("title")
        feed = ElementTree.Element("feed", xmlns="http://www.w3.org/2005/Atom")
        ElementTree.SubElement(feed, "id").text = request.url
        ElementTree.SubElement(feed, "title").text = title or table or "tracker"
        ElementTree.SubElement(feed, "updated").text = datetime.now(timezone.utc).isoformat(timespec="seconds")
        ElementTree.SubElement(feed, "link", href=request.url, rel="self")
        body = ElementTree.tostring(feed, encoding="unicode", xml_declaration=True)
        return Response(body, content_type="application/xml; charset=utf-8", status=200)

    return render_atom


def serve(db_path: str | Path, *, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the site until interrupted."""
    import uvicorn

    ds = make_datasette(db_path)
    asyncio.run(ds.invoke_startup())
    uvicorn.run(ds.app(), host=host, port=port, log_level="info", lifespan="on", workers=1)


# --- the in-process plugin ----------------------------------------------------


async def _first(db: Database, sql: str, params: dict | None = None) -> dict[str, Any] | None:
    try:
        rows = (await db.execute(sql, params or {})).rows
    except Exception:  # an older database without the table: leave the block out
        return None
    return dict(rows[0]) if rows else None


async def freshness(db: Database) -> dict[str, Any]:
    """What the title page says about how fresh the data is."""
    documents = await _first(
        db,
        """select count(*) as n_documents, min(published) as first_published,
                  max(published) as last_published, max(fetched_at) as last_fetched,
                  max(analyzed_at) as last_analyzed,
                  count(stance_score is not null and published is not null or null) as n_scored
           from documents""",
    )
    build = await _first(db, "select * from index_builds order by id desc limit 1")
    if build and documents:
        # Stale as in store.last_index_build: newer analyses, or a different number of documents.
        newer = bool(documents["last_analyzed"] and (build["last_analyzed_at"] or "") < documents["last_analyzed"])
        build["stale"] = newer or documents["n_scored"] != build["n_documents"]
    run = await _first(db, "select command, status, started_at, finished_at from runs order by id desc limit 1")
    return {"documents": documents or {}, "index_build": build, "last_run": run}


async def document_evidence(db: Database, document_id: str) -> dict[str, Any]:
    document = await _first(
        db,
        "select id, url, title, stance_score, stance_label, stance_confidence, model_version from documents where id = :id",
        {"id": document_id},
    )
    try:
        evidence = [
            dict(r)
            for r in (
                await db.execute("select * from evidence where document_id = :id order by rank", {"id": document_id})
            ).rows
        ]
    except Exception:
        evidence = []
    if document and not str(document.get("url") or "").startswith(("http://", "https://")):
        document["url"] = None
    return {"document": document, "evidence": evidence}


@hookimpl
def extra_template_vars(view_name, database, table, request, datasette):
    """Template variables for the title page (freshness) and document pages (evidence)."""
    if DATABASE_NAME not in datasette.databases:
        return {}
    db = datasette.get_database(DATABASE_NAME)
    if view_name == "index":

        async def index_vars():
            return {"tracker_freshness": await freshness(db)}

        return index_vars
    if view_name == "row" and database == DATABASE_NAME and table == "documents" and request is not None:
        pks = request.url_vars.get("pks", "")

        async def row_vars():
            return {"tracker_document": await document_evidence(db, tilde_decode(pks))}

        return row_vars
    return {}


def _with_chinese_words_split(query_string: bytes) -> bytes:
    """The query string with every ``_search`` value cut into words (see segment.search_query)."""
    pairs = parse_qsl(query_string.decode("utf-8", "replace"), keep_blank_values=True)
    if not any(key.startswith("_search") and key != "_searchmode" for key, _ in pairs):
        return query_string
    return urlencode(
        [(key, search_query(value) if key.startswith("_search") and key != "_searchmode" else value) for key, value in pairs]
    ).encode("ascii")


@hookimpl
def asgi_wrapper(datasette):
    """Split Chinese searches into words before Datasette reads them: analysts type
    蚂蚁集团花呗 without spaces, and full-text search matches whole words only."""

    def wrap(app):
        async def chinese_search(scope, receive, send):
            if scope.get("type") == "http" and b"_search" in scope.get("query_string", b""):
                scope = {**scope, "query_string": _with_chinese_words_split(scope["query_string"])}
            await app(scope, receive, send)

        return chinese_search

    return wrap


PLUGIN_NAME = "tracker-site"


def register_plugin() -> None:
    """Register our hooks with Datasette's plugin manager (once per process)."""
    if pm.get_plugin(PLUGIN_NAME) is None:
        plugin = types.ModuleType(PLUGIN_NAME, "The tracker site's own hooks (see tracker.site).")
        plugin.extra_template_vars = extra_template_vars
        plugin.asgi_wrapper = asgi_wrapper
        pm.register(plugin, name=PLUGIN_NAME)
