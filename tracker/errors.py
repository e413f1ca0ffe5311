"""One catalogue of the errors the library raises.

Every error carries a short code and a one-line message that says what to do
next; the CLI prints ``message`` and exits non-zero without a traceback.
"""

from __future__ import annotations


class TrackerError(Exception):
    """Base class: a problem the user can fix, reported in one line."""

    code = "T000"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # one line, always
        return " ".join(self.message.split())


class InputError(TrackerError):
    """A file or value given by the user cannot be used."""

    code = "T100"


class ConfigError(TrackerError):
    """A seeds or settings file is malformed."""

    code = "T200"


class ModelError(TrackerError):
    """A model is missing, stale, or fails its safety check."""

    code = "T300"


class StoreError(TrackerError):
    """The database cannot be opened or written as asked."""

    code = "T400"


class FetchError(TrackerError):
    """A source could not be fetched or parsed."""

    code = "T500"


class LockedError(TrackerError):
    """Another run holds the lock."""

    code = "T600"


class BackfillError(TrackerError):
    """A back-fill engine failed (the Dask cluster could not be reached, a worker died)."""

    code = "T700"
