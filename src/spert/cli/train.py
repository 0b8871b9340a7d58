"""``spert train`` and ``spert evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from spert.cli.app import (BACKEND, BATCH_SIZE, MODEL_DIR, NO_OVERLAP, PRECISION, QUIET, SEEDS, THRESHOLD, VERBOSE, app,
                           finish_experiment, setup_logging)


def _train_epilog() -> str:
    from spert.train.config import settings_help

    return "\b\nSettings (YAML keys, each also a --KEY VALUE option):\n" + settings_help()


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             epilog=_train_epilog())
def train(ctx: typer.Context,
          config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file"),
          resume: bool = typer.Option(False, "--resume", help="continue the run in output_dir from its last checkpoint"),
          seeds: Optional[str] = SEEDS, quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """Train a model. Any setting of the config can be overridden: --KEY VALUE.

    With --seeds 42,43,44: one run per seed in OUTPUT_DIR/seed_S (each resumable: finished runs are
    reused, interrupted ones resume) and OUTPUT_DIR/summary.{json,md} with mean and std."""
    _train(ctx, config, resume, seeds, quiet, verbose)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             epilog=_train_epilog())
def distill(ctx: typer.Context,
            teacher: Path = typer.Option(..., "--teacher", help="the trained spert model directory whose outputs the "
                                         "student learns from (its types and max_span_size the run's)"),
            config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML config file"),
            resume: bool = typer.Option(False, "--resume", help="continue the run in output_dir from its last "
                                        "checkpoint"),
            seeds: Optional[str] = SEEDS, quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """Distil a trained model into a student: spert train's run (every setting, --KEY VALUE, --resume,
    --seeds) whose loss is (1 - distill_weight) x the gold loss + distill_weight x the loss toward the
    teacher's outputs over the same spans and pairs, at distill_temperature. The student may have
    another encoder and tokenizer; its model directory is an ordinary one, with distillation.json and
    its model card naming the teacher."""
    _train(ctx, config, resume, seeds, quiet, verbose, teacher=teacher)


def _train(ctx: typer.Context, config: Optional[Path], resume: bool, seeds: Optional[str], quiet: bool,
           verbose: bool, **settings) -> None:
    from spert.train.config import load_config, parse_overrides
    from spert.train.experiments import parse_distinct_ints, run_experiment, seed_runs
    from spert.train.loop import train as run

    setup_logging(verbose)
    cfg = load_config(config, {**parse_overrides(list(ctx.args)), **{k: str(v) for k, v in settings.items()}})
    if seeds is not None:
        root = cfg.output_dir
        records = run_experiment(seed_runs(cfg, parse_distinct_ints(seeds, "seeds"), root), root,
                                 f"spert train, seeds {seeds}", show_progress=not quiet)
        finish_experiment(records, root)
        return
    result = run(cfg, resume=resume, show_progress=not quiet)
    if result.metrics is not None:
        typer.echo(result.metrics.format())
        typer.echo(f"{result.split} scores written to {result.output_dir / 'metrics.json'}")


@app.command()
def evaluate(model: Path = MODEL_DIR, backend: Optional[str] = BACKEND, precision: str = PRECISION,
             data: Path = typer.Option(..., "--data", "-d", help="gold data (SpERT JSON or .jsonl)"),
             types: Optional[Path] = typer.Option(None, "--types", help="types file (default: the model's types)"),
             output: Path = typer.Option(..., "--output", "-o", help="directory for metrics.json and predictions.json"),
             batch_size: int = BATCH_SIZE, threshold: Optional[float] = THRESHOLD, no_overlap: bool = NO_OVERLAP,
             quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """Evaluate a model on gold data: NER, REL and REL+ tables; writes metrics and predictions."""
    from tqdm.auto import tqdm

    from spert.infer.options import LoadOptions, PredictOptions
    from spert.runtime import set_cpu_threads
    from spert.train.evaluation import evaluate_directory

    setup_logging(verbose)
    set_cpu_threads()
    options = PredictOptions.make(rel_filter_threshold=threshold, no_overlap=no_overlap, batch_size=batch_size)
    result = evaluate_directory(model, data, output, options, load=LoadOptions.make(backend=backend, precision=precision),
                                types=types, progress=None if quiet else (lambda total: tqdm(total=total, desc="predict",
                                                                                             unit="sent")))
    typer.echo(result.metrics.format())
    typer.echo(f"wrote {output / 'metrics.json'} and {output / 'predictions.json'}")
