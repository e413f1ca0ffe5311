"""The Datasette adapter: the analyst site over a tracker database, served read-only."""

from __future__ import annotations

import asyncio
from importlib import resources
from pathlib import Path

import yaml
from datasette.app import Datasette
from datasette.database import Database

from .errors import StoreError

DATABASE_NAME = "tracker"

#: Datasette settings: a hard SQL time limit, and nothing that writes.
SETTINGS = {
    "sql_time_limit_ms": 1000,
    "max_returned_rows": 5000,
    "allow_download": False,
    "default_page_size": 50,
}


def load_metadata() -> dict:
    """Titles, descriptions, column descriptions, canned queries and plugin settings."""
    text = resources.files("tracker").joinpath("metadata.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def make_datasette(db_path: str | Path) -> Datasette:
    """A Datasette over ``db_path`` opened immutable (read-only, no locks) as ``/tracker``."""
    db_path = Path(db_path)
    if not db_path.exists():
        raise StoreError(f"no database at {db_path}: run 'tracker init' or 'tracker demo --no-serve' first")
    ds = Datasette(metadata=load_metadata(), settings=SETTINGS)
    ds.add_database(Database(ds, path=str(db_path), is_mutable=False), name=DATABASE_NAME)
    return ds


def serve(db_path: str | Path, *, host: str = "127.0.0.1", port: int = 8001) -> None:
    """Serve the site until interrupted."""
    import uvicorn

    ds = make_datasette(db_path)
    asyncio.run(ds.invoke_startup())
    uvicorn.run(ds.app(), host=host, port=port, log_level="info", lifespan="on", workers=1)
