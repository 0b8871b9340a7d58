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

from spert.infer.options import LoadOptions, PredictOptions, default

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
BATCH_SIZE = typer.Option(default(PredictOptions, "batch_size"), "--batch-size", min=1, help="sentences per batch")
THRESHOLD: Optional[float] = typer.Option(default(PredictOptions, "rel_filter_threshold"), "--rel-filter-threshold", min=0, max=1,
                                          help="relation threshold (default: the model's)")
BACKEND: Optional[str] = typer.Option(None, "--backend",
                                      help="torch or onnx (a directory written by spert export onnx; needs the "
                                           "onnx extra); default: what the model directory holds")
PRECISION: str = typer.Option(default(LoadOptions, "precision"), "--precision",
                              help="fp32, or bf16: predict under bf16 autocast (a GPU's speed-up; PyTorch models "
                                   "only; slower on a CPU without bf16 instructions)")
NO_OVERLAP = typer.Option(default(PredictOptions, "no_overlap"), "--no-overlap", help="ADE setting: drop relations between overlapping entities, and "
                          "entities overlapping another unless a relation that stays needs them (scores follow "
                          "the reference: such an entity leaves NER, its relation counts)")
SEEDS: Optional[str] = typer.Option(None, "--seeds", help="comma-separated seeds, one run each (e.g. 42,43,44)")


def finish_experiment(records, root: Path) -> None:
    """Print an experiment's summary table; exit 1 when a run failed (the others were kept)."""
    typer.echo((root / "summary.md").read_text(encoding="utf-8"))
    typer.echo(f"summary written to {root / 'summary.json'} and {root / 'summary.md'}")
    failed = [r for r in records if r.status == "failed"]
    if failed:
        typer.echo(f"error: {len(failed)} of {len(records)} runs failed (see the summary); "
                   "run the same command again to retry them", err=True)
        raise typer.Exit(1)
