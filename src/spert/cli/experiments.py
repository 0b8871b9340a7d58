"""``spert cv`` and ``spert ablate``: experiments of several resumable training runs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from spert.cli.app import QUIET, SEEDS, VERBOSE, app, finish_experiment, setup_logging

_EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


@app.command(context_settings=_EXTRA)
def cv(ctx: typer.Context,
       config: Path = typer.Option(..., "--config", "-c", help="YAML config file (as for spert train)"),
       folds: Optional[str] = typer.Option(None, "--folds", help="comma-separated folds (default: every fold "
                                           "whose files exist)"),
       seeds: Optional[str] = SEEDS,
       train_pattern: Optional[str] = typer.Option(None, "--train-pattern", help="training file of fold {fold}, "
                                                   "e.g. DIR/ade_split_{fold}_train.json (default: the config's "
                                                   "train_path with its fold number replaced)"),
       test_pattern: Optional[str] = typer.Option(None, "--test-pattern", help="test file of fold {fold} "
                                                  "(default: from the config's test_path)"),
       quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """K-fold cross-validation over split files (the ADE layout NAME_split_K_{train,test}.json, which
    'spert data split --folds K' writes). Each fold and seed trains in OUTPUT_DIR/fold_K/seed_S and is
    resumable (run the same command again); OUTPUT_DIR/summary.{json,md} has the mean and std of NER,
    REL and REL+ (micro and macro F1) and a per-fold table. Other settings: --KEY VALUE."""
    from spert.train.config import load_config, parse_overrides
    from spert.train.experiments import cv_runs, parse_distinct_ints, run_experiment

    setup_logging(verbose)
    cfg = load_config(config, parse_overrides(list(ctx.args)))
    root = cfg.output_dir
    specs = cv_runs(cfg, root, parse_distinct_ints(seeds, "seeds"), parse_distinct_ints(folds, "folds"), train_pattern,
                    test_pattern, source=str(config))
    records = run_experiment(specs, root, f"spert cv: {config}", show_progress=not quiet)
    finish_experiment(records, root)


@app.command(context_settings=_EXTRA, options_metavar="CONFIG... [OPTIONS] [--KEY VALUE ...]")
def ablate(ctx: typer.Context,
           output_dir: Path = typer.Option(Path("runs/ablations"), "--output-dir", "-o",
                                           help="one directory per config and seed goes here, and the table"),
           seeds: Optional[str] = SEEDS, quiet: bool = QUIET, verbose: bool = VERBOSE) -> None:
    """Run ablation configs and write one comparison table: spert ablate configs/ablations/*.yaml
    [--seeds 42,43] [-o DIR] [--KEY VALUE ...]. The config files come first; --KEY VALUE settings
    after them apply to every run (e.g. --epochs 5). Each config and seed trains in DIR/NAME/seed_S and
    is resumable; DIR/summary.{json,md} is the table (mean ± std per config)."""
    from spert.train.config import parse_overrides
    from spert.train.experiments import ablation_runs, parse_distinct_ints, run_experiment

    setup_logging(verbose)
    args = list(ctx.args)  # the config files, then --KEY VALUE settings for every run
    first_option = next((i for i, a in enumerate(args) if a.startswith("--")), len(args))
    configs, overrides = [Path(a) for a in args[:first_option]], parse_overrides(args[first_option:])
    specs = ablation_runs(configs, output_dir, parse_distinct_ints(seeds, "seeds"), overrides)
    records = run_experiment(specs, output_dir, "spert ablate: " + ", ".join(c.stem for c in configs),
                             show_progress=not quiet)
    finish_experiment(records, output_dir)
