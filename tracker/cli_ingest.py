"""The ingestion commands: ``tracker ingest``, ``tracker sources`` and ``tracker run``.

Registered on the main group in ``cli.py``. Exit codes, shared by ``ingest``
and ``run``: 0 when every source worked, 1 when some failed, 2 when all failed,
on bad usage, a bad sources file, or when another run holds the lock.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from . import store
from .cli_common import CONTEXT_SETTINGS, db_option
from .errors import TrackerError
from .nightly import RunReport, ingest_sources, nightly_run
from .settings import SOURCES_PATH
from .sources import load_sources



class _Failed(click.ClickException):
    """A one-line ``Error: ...`` with exit status 2 (bad usage, bad sources file, lock held)."""

    exit_code = 2


def _common_options(func):
    """--db and --sources, shared by the three commands."""
    func = click.option(
        "--sources",
        "sources_path",
        type=click.Path(dir_okay=False),
        default=str(SOURCES_PATH),
        show_default="seeds/sources.toml",
        help="The sources file.",
    )(func)
    return db_option(func)


def _selection_options(func):
    """--source, --limit and --pages, shared by ingest and run."""
    func = click.option("--pages", type=click.IntRange(min=1), default=1, show_default=True, help="Listing pages to read, following 'next' links (back-fill).")(func)
    func = click.option("--limit", type=click.IntRange(min=1), help="At most N entries per source.")(func)
    return click.option("--source", "source_ids", multiple=True, metavar="ID", help="Only this source (repeatable).")(func)


class _Progress:
    """A rich progress bar when stderr is a terminal, plain time-stamped log lines otherwise."""

    def __init__(self, command: str, total: int):
        self.command = command
        self.analysed_so_far = 0
        self.bar = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            )
            self.task = self.bar.add_task(f"{command}: sources", total=total)

    def __enter__(self):
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()

    def log(self, message: str) -> None:
        stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{stamp} {self.command}: {message}", err=True)

    def __call__(self, event: str, source, report) -> None:
        if self.bar:
            if event == "done":
                self.bar.update(self.task, advance=1, description=f"{self.command}: {source.id}")
            return
        if event == "start":
            self.log(f"{source.id}: fetching {source.url}")
        else:
            self.log(f"{report.summary()} ({report.seconds:.1f} s)")

    def analysed(self, n: int) -> None:
        self.analysed_so_far += n
        if not self.bar and self.analysed_so_far % 50 == 0:
            self.log(f"analysed {self.analysed_so_far} documents")


def _echo_report(report: RunReport) -> None:
    for source in report.ingest.sources:
        click.echo(source.summary())
    for problem in report.problems:
        click.echo(f"{report.command}: {problem}")
    ingested = report.ingest
    line = (
        f"{report.command}: {len(ingested.sources)} sources, {ingested.n_failed} failed, "
        f"{ingested.n_new} new, {ingested.n_updated} updated"
    )
    if report.command == "run":
        line += f", {report.n_analyzed} analysed"
    click.echo(f"{line} (run {report.run_id}, exit {report.exit_code})")


def _execute(command: str, db_path, sources_path, source_ids, limit, pages, **extra) -> None:
    try:
        sources_file = load_sources(sources_path)
        chosen = sources_file.select(tuple(source_ids))
        with _Progress(command, len(chosen)) as progress:
            runner = nightly_run if command == "run" else ingest_sources
            report = runner(
                db_path,
                sources_file,
                source_ids=source_ids,
                limit=limit,
                pages=pages,
                progress=progress,
                **({"analysis_progress": progress.analysed} if command == "run" else {}),
                **extra,
            )
    except TrackerError as exc:
        raise _Failed(str(exc)) from None
    _echo_report(report)
    click.get_current_context().exit(report.exit_code)


@click.command(context_settings=CONTEXT_SETTINGS)
@_common_options
@_selection_options
def ingest(db_path, sources_path, source_ids, limit, pages):
    """Fetch the sources and store new or changed documents (each source in its own transaction).

    Exit status: 0 every source worked, 1 some failed, 2 all failed or bad usage.

    Example: tracker ingest --source pboc-news-en --limit 20
    """
    _execute("ingest", db_path, sources_path, source_ids, limit, pages)


@click.command(context_settings=CONTEXT_SETTINGS)
@_common_options
@_selection_options
@click.option("--model", "model_dir", type=click.Path(file_okay=False), help="Stance model directory (English).")
def run(db_path, sources_path, source_ids, limit, pages, model_dir):
    """The nightly job: ingest, analyse the new documents, refresh what depends on them.

    Takes a lock next to the database, so two runs never overlap, and records a
    row in the runs table. Exit status as for ingest.

    Example: tracker run --db /srv/tracker/tracker.db
    """
    _execute("run", db_path, sources_path, source_ids, limit, pages, model_dir=model_dir)


@click.command(context_settings=CONTEXT_SETTINGS)
@_common_options
def sources(db_path, sources_path):
    """One line per source: last fetch time, status, documents, last error.

    Example: tracker sources --db tracker.db
    """
    try:
        listed = load_sources(sources_path).sources
        statuses = store.source_statuses(store.open_db(db_path, create=False)) if Path(db_path).exists() else {}
    except TrackerError as exc:
        raise _Failed(str(exc)) from None
    width = max(len(s.id) for s in listed)
    click.echo(f"{'id':<{width}}  {'last fetch (UTC)':<25}  {'status':<8}  {'docs':>6}  last error")
    for source in listed:
        row = statuses.get(source.id, {})
        status = row.get("last_status") or ("never" if source.enabled else "disabled")
        click.echo(
            f"{source.id:<{width}}  {row.get('last_fetched_at') or '-':<25}  {status:<8}  "
            f"{row.get('n_documents') or 0:>6}  {row.get('last_error') or ''}".rstrip()
        )

#: For ``cli.py`` to register: ``for command in COMMANDS: cli.add_command(command)``.
COMMANDS = [ingest, sources, run]
