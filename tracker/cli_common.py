"""What every ``tracker`` command module shares: help flags, --db, one-line errors."""

from __future__ import annotations

import functools

import click

from .errors import TrackerError
from .settings import default_db_path

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


class UsageFailure(click.ClickException):
    """Bad usage: one ``Error: ...`` line and exit status 2, like click's own usage errors."""

    exit_code = 2


class OneLineErrors(click.Command):
    """A command whose usage errors (bad option values too) print one ``Error: ...`` line."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise UsageFailure(f"{exc.format_message()} (see '{ctx.command_path} -h')") from None


def reports_errors(func):
    """Turn library errors into click's one-line ``Error: ...`` and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except TrackerError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def db_option(func):
    """``--db PATH``, defaulting to ``$TRACKER_DB`` or ``tracker.db``."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False),
        default=default_db_path,
        show_default="$TRACKER_DB or tracker.db",
        help="The tracker database file.",
    )(func)
