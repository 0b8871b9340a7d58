"""``spert export onnx``: a model directory whose encoder runs in ONNX Runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from spert.cli.app import MODEL_DIR, VERBOSE, app, setup_logging

export_app = typer.Typer(no_args_is_help=True, help="Export a model for another runtime.")
app.add_typer(export_app, name="export")


@export_app.command("onnx")
def onnx(model: Path = MODEL_DIR,
         output: Path = typer.Option(..., "--output", "-o", help="model directory to write"),
         quantize: Optional[str] = typer.Option(None, "--quantize",
                                                help="int8: the default int8 recipe (measured to keep NER and REL+ "
                                                     "within 0.5 F1 points on CoNLL04), or a recipe's name"),
         verbose: bool = VERBOSE) -> None:
    """The encoder as an optimised ONNX graph (dynamic batch and length); heads, tokenizer and settings
    copied. Load the result like any model directory (--backend onnx)."""
    from spert.tools.onnx_export import export_onnx

    setup_logging(verbose)
    typer.echo(export_onnx(model, output, quantize).describe())
