"""``spert report``: a readable page about one training run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from spert.cli.app import BATCH_SIZE, QUIET, VERBOSE, app, setup_logging


@app.command()
def report(run_dir: Path = typer.Argument(..., help="a spert train output directory"),
           output: Optional[Path] = typer.Option(None, "--output", "-o", help="directory for the report "
                                                 "(default: RUN_DIR/report)"),
           data: Optional[Path] = typer.Option(None, "--data", "-d", help="gold data to evaluate on (default: the "
                                               "run's test_path, else valid_path)"),
           max_docs: Optional[int] = typer.Option(None, "--max-docs", min=1, help="only the first N documents "
                                                  "(default: the run's max_eval_docs)"),
           examples: int = typer.Option(5, "--examples", min=0, help="error examples shown per group"),
           sweep: bool = typer.Option(True, "--sweep/--no-sweep", help="sweep the relation threshold"),
           batch_size: int = BATCH_SIZE, quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """One self-contained HTML page (and Markdown) about a training run: learning curves, per-type
    scores, the entity type confusion matrix, a relation threshold sweep and error examples linked to
    the gold-versus-predicted view (comparison.html, as spert render --gold writes it)."""
    import torch
    from tqdm.auto import tqdm

    from spert.eval.report import write_report
    from spert.runtime import set_cpu_threads
    from spert.train.evaluation import report_run

    setup_logging(verbose)
    set_cpu_threads()
    rep = report_run(run_dir, data=data, max_docs=max_docs, examples=examples, sweep=sweep, batch_size=batch_size,
                     device="cuda" if torch.cuda.is_available() else "cpu",
                     progress=None if quiet else (lambda total: tqdm(total=total, desc="predict", unit="sent")))
    for path in write_report(rep, output or run_dir / "report"):
        typer.echo(f"wrote {path}")


@app.command()
def compare(groups: list[str] = typer.Argument(..., metavar="GROUP...", help="a setting's runs: NAME=DIR[,DIR...] "
                                               "or DIR[,DIR...] (each DIR a spert train output directory or a quoted "
                                               "glob); the first group is the baseline"),
            output: Optional[Path] = typer.Option(None, "--output", "-o", help="directory for comparison.json and "
                                                  "comparison.md (default: print only)"),
            data: Optional[Path] = typer.Option(None, "--data", "-d", help="gold data the predictions are of "
                                                "(default: each run's test_path, else valid_path)"),
            resamples: int = typer.Option(10000, "--resamples", min=100, help="bootstrap replicates"),
            level: float = typer.Option(0.95, "--level", min=0.5, max=0.999, help="the interval's coverage"),
            seed: int = typer.Option(0, "--seed", help="the bootstrap's seed"),
            skip_unfinished: bool = typer.Option(False, "--skip-unfinished", help="leave out runs without "
                                                 "predictions.json, with a warning (default: an error)"),
            verbose: bool = VERBOSE) -> None:
    """Settings against a baseline, over seeds: each group's NER, REL and REL+ (mean ± std of its runs,
    scored again from their predictions.json) and each setting's micro F1 difference to the baseline,
    paired by seed, with an interval and P(difference <= 0) from a paired bootstrap over seeds and test
    sentences. A gain whose whole interval is above 0 is marked beyond noise. No model is loaded."""
    from spert.train.comparison import compare as run_compare, parse_group

    setup_logging(verbose)
    result = run_compare([parse_group(g) for g in groups], data=data, resamples=resamples, level=level, seed=seed,
                         skip_unfinished=skip_unfinished)
    typer.echo(result.markdown(), nl=False)
    if output is not None:
        for path in result.write(output):
            typer.echo(f"wrote {path}")
