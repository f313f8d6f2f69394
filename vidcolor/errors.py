"""Domain errors and messages. Each error carries the bad value in its message; only :mod:`vidcolor.cli.app` maps
them to exit codes. Notes and warnings go to a :data:`Log` the caller gives; the CLI decides what
reaches the terminal (``--quiet`` keeps every ``warning:``)."""

from __future__ import annotations

from collections.abc import Callable

Log = Callable[[str], None]  # where a module says a ``note:`` or a ``warning:``


class VidcolorError(Exception):
    """Base class: a problem the user can fix, reported as one line without a traceback."""

    exit_code = 1


class BadInputError(VidcolorError):
    """The input (file, option value, data folder) is unusable: exit code 2."""

    exit_code = 2


class ModelFileError(BadInputError):
    """A weights file is missing, corrupt, a pickle, or of another architecture."""


class BusyError(VidcolorError):
    """Another live run holds what this one needs (a batch shard's lease): exit code 1."""


class ProcessingError(VidcolorError):
    """Work started but failed part-way: exit code 1."""


def describe(e: BaseException) -> str:
    """First line of an exception's message (FFmpeg and OS errors carry a strerror), for one-line reports."""
    text = getattr(e, "strerror", None) or str(e)
    text = text.strip().splitlines()[0][:160] if text and text.strip() else ""
    return text or type(e).__name__
