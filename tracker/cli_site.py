"""The ``tracker index`` and ``tracker export`` commands (registered on the main group by ``cli``).

Kept apart from ``cli`` so each command module stays small; shared option
helpers live in ``cli_common``.
"""

from __future__ import annotations

import csv
import io
import json
import sys

import click

from . import index, store
from .cli_common import CONTEXT_SETTINGS, OneLineErrors, db_option, reports_errors

@click.command("index", cls=OneLineErrors, context_settings=CONTEXT_SETTINGS)
@db_option
@reports_errors
def index_command(db_path):
    """Rebuild the stance index (day, week, month; all, source, regulator, lender) and the alerts.

    Example: tracker index --db tracker.db
    """
    db = store.open_db(db_path, create=False)
    build = index.refresh_index(db)
    store.checkpoint(db)
    click.echo(
        f"{db_path}: stance index rebuilt from {build.n_documents} documents "
        f"({build.n_rows} rows, {build.n_alerts} alerts, {build.seconds:.2f}s)"
    )


@click.group("export", context_settings=CONTEXT_SETTINGS)
def export_group():
    """Export research data sets from the database."""


def series_text(rows: list[dict], fmt: str) -> str:
    """The series as CSV (header first, CRLF line ends, as the site's .csv) or as a JSON array."""
    columns = index.SERIES_COLUMNS
    if fmt == "json":
        lines = [json.dumps({c: row[c] for c in columns}, ensure_ascii=False) for row in rows]
        return "[\n" + ",\n".join(lines) + ("\n" if lines else "") + "]\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows([row[c] for c in columns] for row in rows)
    return buffer.getvalue()


@export_group.command("series", cls=OneLineErrors, context_settings=CONTEXT_SETTINGS)
@db_option
@click.option("--freq", type=click.Choice(index.FREQS), default="month", show_default=True, help="Period length; weeks start on Monday.")
@click.option("--by", "by", type=click.Choice(index.GROUP_TYPES), default="all", show_default=True, help="Group documents by.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--since", metavar="DATE", help="First day (ISO date); its whole period is included.")
@click.option("--until", metavar="DATE", help="Last day (ISO date); its whole period is included.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to FILE (UTF-8) instead of stdout.")
@reports_errors
def export_series(db_path, freq, by, fmt, since, until, output):
    """Export the stance index: period, group_type, group_id, n_documents, n_sentences,
    stance_mean, stance_low, stance_high, in period then group order.

    Example: tracker export series --by regulator --freq month -o regulators.csv
    """
    db = store.open_db(db_path, create=False)
    rows = index.series(db, freq=freq, by=by, since=since, until=until)
    build = store.last_index_build(db)
    if build and build["stale"]:
        click.echo("warning: documents were analysed after the index was built; run 'tracker index'", err=True)
    text = series_text(rows, fmt)
    if output:
        try:
            with open(output, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
        click.echo(f"{output}: {len(rows)} rows", err=True)
    else:
        # Bytes, so the CSV's CRLF line ends reach the file unchanged on every platform.
        stdout = getattr(sys.stdout, "buffer", None)
        if stdout is None:
            click.echo(text, nl=False)
        else:
            stdout.write(text.encode("utf-8"))
            stdout.flush()


#: The commands for the main ``tracker`` group: ``cli.add_command(cmd)`` for each.
COMMANDS = (index_command, export_group)
