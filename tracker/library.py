"""The library API the CLI is a thin layer over: one function per user-facing action."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import gazetteer, store
from .documents import read_document
from .errors import InputError
from .index import refresh_index, update_index  # noqa: F401  (part of the library API)
from .records import Document
from .settings import DEMO_DIR, GAZETTEER_PATH


def init_db(path: str | Path):
    """Create or migrate the database and mirror the gazetteer into ``entities``."""
    db = store.open_db(path)
    store.save_entities(db, gazetteer.load_entities(GAZETTEER_PATH))
    return db


@dataclass
class Added:
    path: str
    document_id: int
    status: str  # new, updated, unchanged


def read_files(paths: list[str | Path], **options) -> list[tuple[str, Document]]:
    """Read and validate every file; raises on the first bad one, before anything is stored."""
    if not paths:
        raise InputError("no files given")
    return [(str(p), read_document(p, **options)) for p in paths]


def add_documents(db, documents: list[tuple[str, Document]]) -> list[Added]:
    return [Added(path, *store.save_document(db, doc)) for path, doc in documents]


def add_files(db, paths: list[str | Path], **options) -> list[Added]:
    """Add files as documents: one bad file stores none."""
    return add_documents(db, read_files(paths, **options))


def analyze(db, *, rescore: bool = False, model_dir: str | Path | None = None, progress=None) -> int:
    """Analyse documents not analysed yet (or scored by another model, with ``rescore``)."""
    if not rescore and next(store.documents_to_analyze(db), None) is None:
        return 0  # the nightly run with nothing new: no need to load the models at all
    # Imported here: spaCy and scikit-learn load only when something is analysed.
    from .analysis import analyse_pending

    return analyse_pending(db, rescore=rescore, model_dir=model_dir, progress=progress)


def demo_files(directory: Path = DEMO_DIR) -> list[Path]:
    files = sorted(directory.glob("*.md"))
    if not files:
        raise InputError(f"no demo documents in {directory}")
    return files


def build_demo(path: str | Path, *, progress=None) -> dict[str, int]:
    """Build the demo database from ``corpus/demo/`` through the same path as real documents."""
    db = init_db(path)
    add_files(db, demo_files())
    analyze(db, progress=progress)
    refresh_index(db)
    store.checkpoint(db)
    counts = store.table_counts(db)
    db.close()
    return counts
