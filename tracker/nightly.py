"""The nightly job and the bookkeeping that ``tracker ingest`` shares with it.

Both take a lock file next to the database, so two runs never overlap, and
record a row in ``runs``: start, end, status, exit code, counts, and per-source
outcomes in ``details``. A run killed with ``kill -9`` leaves its row
"running"; the next run (holding the lock, so it knows nobody else is
running) marks it "interrupted".
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import gazetteer, store
from .errors import LockedError, StoreError, TrackerError
from .index import update_index
from .ingest import IngestReport, Progress, ingest
from .settings import GAZETTEER_PATH
from .sources import SourcesFile


@contextmanager
def run_lock(db_path: str | Path) -> Iterator[Path]:
    """Hold ``<db>.lock`` (fcntl.flock, non-blocking) or raise :class:`LockedError`.

    The kernel releases the lock when the process dies, however it dies, so a
    killed run never blocks the next one. The file is left in place: removing it
    would let a third process lock a different inode.
    """
    path = Path(f"{db_path}.lock")
    if not path.parent.is_dir():
        raise StoreError(f"cannot create {db_path}: folder {path.parent} does not exist")
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip()
        handle.close()
        raise LockedError(
            f"another run holds the lock on {path}{' (pid ' + holder + ')' if holder else ''}; try again when it ends"
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield path
    finally:
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@dataclass
class RunReport:
    run_id: int
    command: str
    ingest: IngestReport
    n_analyzed: int = 0
    problems: list[str] = field(default_factory=list)  # failures outside the sources (analysis, refresh)
    refreshed: dict = field(default_factory=dict)  # what each refresh step rebuilt

    @property
    def exit_code(self) -> int:
        code = self.ingest.exit_code
        return max(code, 1) if self.problems else code

    @property
    def status(self) -> str:
        return {0: "ok", 1: "partial", 2: "failed"}[self.exit_code]


def refresh_stance_index(db, report: RunReport) -> None:
    """Bring the stance index and its shift alerts (``tracker.index``) up to date: only the
    periods the new or changed documents touch are recomputed, and nothing when none changed."""
    build = update_index(db)
    report.refreshed["stance_index"] = {
        "mode": build.mode,
        "n_documents": build.n_documents,
        "n_rows": build.n_rows,
        "n_alerts": build.n_alerts,
        "seconds": round(build.seconds, 3),
    }


#: What depends on the documents, rebuilt in this order after analysis; each step takes
#: ``(db, report)``. Add new derived tables here.
REFRESH_STEPS: list[Callable] = [refresh_stance_index]


def refresh_dependents(db, report: RunReport) -> None:
    """Rebuild everything derived from the documents, then fold the WAL for Datasette."""
    for step in REFRESH_STEPS:
        step(db, report)
    store.checkpoint(db)


def _reason(exc: Exception) -> str:
    """Our errors speak for themselves; anything else also says what it is."""
    return str(exc) if isinstance(exc, TrackerError) else f"{type(exc).__name__}: {exc}"


def _finish(db, report: RunReport, *, status: str | None = None, exit_code: int | None = None) -> None:
    ingested = report.ingest
    store.finish_run(
        db,
        report.run_id,
        status=status or report.status,
        exit_code=report.exit_code if exit_code is None else exit_code,
        n_sources=len(ingested.sources),
        n_failed=ingested.n_failed,
        n_new=ingested.n_new,
        n_updated=ingested.n_updated,
        n_analyzed=report.n_analyzed,
        details={
            "requests": ingested.requests,
            "problems": report.problems,
            "refreshed": report.refreshed,
            "sources": {r.source_id: r.as_dict() for r in ingested.sources},
        },
    )


def _run(
    command: str,
    db_path: str | Path,
    sources_file: SourcesFile,
    *,
    source_ids: tuple[str, ...] | list[str] = (),
    limit: int | None = None,
    pages: int = 1,
    progress: Progress | None = None,
    transport=None,
    analyze: bool = False,
    model_dir: str | Path | None = None,
    analysis_progress: Callable[[int], None] | None = None,
) -> RunReport:
    chosen = sources_file.select(tuple(source_ids))  # unknown ids fail before anything is locked
    if analyze:
        # Imported here: the analysis stack (spaCy, scikit-learn) takes seconds to load and
        # plain ingestion needs none of it.
        from . import library
    with run_lock(db_path):
        # As `tracker init` does (library.init_db), without loading the analysis stack.
        db = store.open_db(db_path)
        store.save_entities(db, gazetteer.load_entities(GAZETTEER_PATH))
        try:
            store.interrupt_stale_runs(db)
            report = RunReport(run_id=store.start_run(db, command), command=command, ingest=IngestReport())
            try:
                report.ingest = ingest(
                    db, chosen, sources_file.fetch, limit=limit, pages=pages, progress=progress, transport=transport
                )
                if analyze:
                    # A failure here is reported with the run (exit 1); what was ingested stays.
                    try:
                        report.n_analyzed = library.analyze(db, model_dir=model_dir, progress=analysis_progress)
                    except Exception as exc:
                        report.problems.append(f"analysis failed: {_reason(exc)}")
                    try:
                        refresh_dependents(db, report)
                    except Exception as exc:
                        report.problems.append(f"refresh failed: {_reason(exc)}")
            except BaseException as exc:  # the row must not stay "running" after Ctrl-C or a bug
                interrupted = isinstance(exc, KeyboardInterrupt)
                _finish(db, report, status="interrupted" if interrupted else "crashed", exit_code=130 if interrupted else 2)
                raise
            _finish(db, report)
            store.checkpoint(db)
            return report
        finally:
            db.close()


def ingest_sources(db_path: str | Path, sources_file: SourcesFile, **options) -> RunReport:
    """``tracker ingest``: fetch and store the sources, under the run lock, recorded in ``runs``."""
    return _run("ingest", db_path, sources_file, **options)


def nightly_run(db_path: str | Path, sources_file: SourcesFile, **options) -> RunReport:
    """``tracker run``: ingest, analyse what is new or changed, refresh what depends on it."""
    return _run("run", db_path, sources_file, analyze=True, **options)
