"""The ``tracker backfill`` command (registered on the main group by ``cli``)."""

from __future__ import annotations

from datetime import datetime

import click

from .backfill import DEFAULT_PARTITION_SIZE, ENGINES, BackfillReport, Partition, backfill
from .cli_common import CONTEXT_SETTINGS, OneLineErrors, UsageFailure, db_option, reports_errors


def _log(message: str) -> None:
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
    click.echo(f"{stamp} backfill: {message}", err=True)


def _progress(report: BackfillReport, partition: Partition, counts: dict) -> None:
    _log(
        f"{partition.archive}: partition {partition.index} (lines {partition.first_line}-"
        f"{partition.first_line + len(partition.lines) - 1}) stored: {counts['new']} new, "
        f"{counts['updated']} updated, {counts['unchanged']} unchanged "
        f"[{report.skipped + report.stored}/{report.partitions} partitions]"
    )


@click.command("backfill", cls=OneLineErrors, context_settings=CONTEXT_SETTINGS)
@click.argument("archives", nargs=-1, required=True, type=click.Path(dir_okay=False))
@db_option
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="local: in this process; dask: on a dask.distributed cluster.")
@click.option("--scheduler", metavar="ADDRESS",
              help="A running Dask scheduler (tcp://host:8786); default: a LocalCluster on this machine.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes of the LocalCluster (default: one per CPU).")
@click.option("--partition-size", type=click.IntRange(min=1), default=DEFAULT_PARTITION_SIZE, show_default=True,
              help="Archive lines per partition (the unit of work, of commit and of resumption).")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), help="Stance model directory (English).")
@reports_errors
def backfill_command(archives, db_path, engine, scheduler, workers, partition_size, model_dir):
    """Analyse JSON Lines archives into the database in partitions, here or on a Dask cluster.

    One article per line, {"url", "title", "published", "text", "source"}, gzipped or not;
    a bad line stops everything before any work. A re-run skips the partitions stored.

    Example: tracker backfill archive-2019.jsonl.gz --engine dask --scheduler tcp://10.0.0.5:8786
    """
    if engine == "local" and (scheduler or workers):
        raise UsageFailure("--scheduler and --workers need --engine dask")
    if scheduler and workers:
        raise UsageFailure("--workers sizes the local Dask cluster; with --scheduler the cluster's own workers are used")
    report = backfill(
        db_path, list(archives), engine=engine, scheduler=scheduler, workers=workers,
        partition_size=partition_size, model_dir=model_dir, progress=_progress,
    )
    for archive in report.archives:
        click.echo(f"{archive.name}: {archive.n_records} records in {archive.n_lines} lines")
    click.echo(
        f"backfill ({report.engine}): {report.stored} partitions stored, {report.skipped} already done; "
        f"{report.records} records analysed: {report.new} new, {report.updated} updated, "
        f"{report.unchanged} unchanged; stance index: {report.index.get('mode', 'not updated')}; "
        f"{report.seconds:.1f} s in all"
    )


#: For ``cli.py`` to register: ``cli.add_command(command)`` for each.
COMMANDS = [backfill_command]
