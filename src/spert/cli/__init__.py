"""The ``spert`` command line: a thin layer that parses options, calls the library and prints.

Every error caused by input is a :class:`spert.errors.SpertError` and ends the command with
a one-line message and exit status 2, never a traceback. Each command group lives in its own
module and registers itself on :data:`spert.cli.app.app`.
"""

from __future__ import annotations

import sys

import typer

from spert.cli import data, experiments, export, predict, report, serve, tools, train  # noqa: F401  (registers the commands)
from spert.cli.app import app
from spert.atomic import WriteError
from spert.errors import SpertError, TrainingStopped

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except TrainingStopped as e:  # not an error: the user stopped it, and it can go on
        typer.echo(str(e), err=True)
        sys.exit(e.exit_code)
    except SpertError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except WriteError as e:  # a full disk, a quota, permissions: what the path held before is kept
        typer.echo(f"error: {e.filename}: cannot write it: {e.strerror}; what it held before is kept", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
