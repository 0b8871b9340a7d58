"""The ``spert`` command line: train, evaluate (and more subcommands as they come).

Every error caused by input is a :class:`SpertError` and ends the command with a
one-line message and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from .errors import SpertError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="SpERT: span-based joint entity and relation extraction.")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(message)s")
    for noisy in ("transformers", "accelerate", "httpx", "urllib3", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def _train_epilog() -> str:
    from .config import settings_help

    return "\b\nSettings (YAML keys, each also a --KEY VALUE option):\n" + settings_help()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             epilog=_train_epilog())
def train(ctx: typer.Context,
          config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file"),
          resume: bool = typer.Option(False, "--resume", help="continue the run in output_dir from its last checkpoint"),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
          verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging")) -> None:
    """Train a model. Any setting of the config can be overridden: --KEY VALUE."""
    from .config import load_config, parse_overrides
    from .training import train as run

    _setup_logging(verbose)
    cfg = load_config(config, parse_overrides(list(ctx.args)))
    run(cfg, resume=resume, show_progress=not quiet)


@app.command()
def evaluate(model: Path = typer.Option(..., "--model", "-m", help="model directory"),
             data: Path = typer.Option(..., "--data", "-d", help="gold data (SpERT JSON or .jsonl)"),
             types: Optional[Path] = typer.Option(None, "--types", help="types file (default: the model's types)"),
             output: Path = typer.Option(..., "--output", "-o", help="directory for metrics.json and predictions.json"),
             batch_size: int = typer.Option(8, "--batch-size", min=1, help="sentences per batch"),
             threshold: Optional[float] = typer.Option(None, "--rel-filter-threshold", min=0, max=1,
                                                       help="relation threshold (default: the model's)"),
             no_overlap: bool = typer.Option(False, "--no-overlap", help="remove overlapping entities (ADE setting)"),
             quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
             verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging")) -> None:
    """Evaluate a model on gold data: NER, REL and REL+ tables; writes metrics and predictions."""
    from tqdm.auto import tqdm

    from .atomic import atomic_write_text
    from .checkpoint import load_model
    from .data import read_documents
    from .evaluation import evaluate as score, format_metrics, metrics_to_json
    from .inference import predict_documents
    from .runtime import set_cpu_threads
    from .schema import load_types

    _setup_logging(verbose)
    set_cpu_threads()
    net, tokenizer, defaults = load_model(model)
    schema = net.schema
    if types is not None:
        given = load_types(types)
        if given.to_json() != schema.to_json():
            raise SpertError(f"{types}: these types differ from the model's ({model}/spert.json); "
                             "evaluate with the types the model was trained on")
    gold = read_documents(data, schema)
    thr = threshold if threshold is not None else defaults.get("rel_filter_threshold", 0.4)
    preds = predict_documents(net, tokenizer, [d.tokens for d in gold], batch_size=batch_size, threshold=thr,
                              no_overlap=no_overlap, path=data,
                              progress=None if quiet else (lambda total: tqdm(total=total, desc="predict",
                                                                              unit="sent")))
    metrics = score(gold, [p.to_document() for p in preds], no_overlap)
    typer.echo(format_metrics(metrics))
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output / "metrics.json", json.dumps(metrics_to_json(metrics), indent=2))
    atomic_write_text(output / "predictions.json", json.dumps([p.to_json() for p in preds], ensure_ascii=False))
    typer.echo(f"wrote {output / 'metrics.json'} and {output / 'predictions.json'}")


def main() -> None:
    try:
        app()
    except SpertError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
