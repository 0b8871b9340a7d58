"""The ``spert`` Typer application and what every command shares: logging and options.

Command modules import ``app`` from here and register themselves with ``@app.command``;
their bodies import the library lazily, so that ``spert --help`` answers without loading
PyTorch and Transformers (seconds).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="SpERT: span-based joint entity and relation extraction.")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(message)s")
    for noisy in ("transformers", "accelerate", "httpx", "urllib3", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


# Options several commands take, defined once (a Typer option object is only a description).
QUIET = typer.Option(False, "--quiet", "-q", help="no progress bars")
VERBOSE = typer.Option(False, "--verbose", "-v", help="debug logging")
MODEL_DIR: Path = typer.Option(..., "--model", "-m", help="model directory (spert train or spert convert)")
BATCH_SIZE = typer.Option(8, "--batch-size", min=1, help="sentences per batch")
THRESHOLD: Optional[float] = typer.Option(None, "--rel-filter-threshold", min=0, max=1,
                                          help="relation threshold (default: the model's)")
BACKEND: Optional[str] = typer.Option(None, "--backend",
                                      help="torch or onnx (a directory written by spert export onnx; needs the "
                                           "onnx extra); default: what the model directory holds")
NO_OVERLAP = typer.Option(False, "--no-overlap", help="remove overlapping entities (ADE setting)")
