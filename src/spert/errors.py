"""The kinds of user-facing error every layer raises: :class:`SpertError` and its subclasses.

Messages are written where the problem is found; a subsystem may add a subclass of its own beside
its code (the Label Studio backend's ``UnknownProject``, ``UnknownVersion``, ``LabelConfigError``),
so catching :class:`SpertError` catches them all. A :class:`SpertError` carries a one-line
message meant for the person who ran the command; the CLI prints it without a traceback and
exits with status 2. Data errors name the file, the document and the field so the user can go
straight to the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable


class SpertError(Exception):
    """An error caused by the user's input or environment, with a one-line message."""


class DataError(SpertError):
    """A problem in a dataset, types file or prediction input."""

    def __init__(self, path: str | Path | None, problem: str, *, doc: int | None = None,
                 field: str | None = None, line: int | None = None) -> None:
        self.path, self.doc, self.field, self.line, self.problem = path, doc, field, line, problem
        where = [str(path) if path is not None else "<input>"]
        if line is not None:
            where.append(f"line {line}")
        if doc is not None:
            where.append(f"document {doc}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(": ".join(where) + ": " + problem)


def raise_or_report(error: DataError, on_error: Callable[[DataError], None] | None) -> None:
    """Raise ``error``, or hand it to ``on_error`` (a skip-and-report policy) when one is given."""
    if on_error is None:
        raise error
    on_error(error)


class ConfigError(SpertError):
    """An invalid configuration file or command-line override."""


class CheckpointError(SpertError):
    """A model directory that is missing, incomplete or of an unknown format."""


class EncoderError(SpertError):
    """An encoder or tokenizer that cannot be loaded or used."""


class TrainingStopped(SpertError):
    """Training stopped on a signal (Ctrl-C, SIGTERM) after writing its resumable checkpoint; the
    message says where and how to go on. ``exit_code`` is the shell's for that signal. (Not a
    KeyboardInterrupt: Typer turns those into a silent exit.) An experiment stops with it."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
