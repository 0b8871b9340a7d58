"""Parity table: our runs beside the authors' code's, per benchmark, with mean and std over runs.

Usage (project root):
    .venv/bin/python scripts/parity_table.py \
        --group "SciERC, ours=RUN_DIR,RUN_DIR" --group "SciERC, authors=LOG_DIR,LOG_DIR" ...

A group is a label and its runs, each a directory: ours, a ``spert train`` output directory (its
``metrics.json``) or a ``spert cv`` fold/seed directory; the authors', a run's log directory of
their ``spert.py train`` (``LOG_PATH/LABEL/TIMESTAMP``, whose ``eval_valid.csv`` ends with the
final evaluation: with ``valid_path`` set to the test file, the test scores). Their names map
onto ours: ``ner`` is NER, ``rel`` REL (boundaries and type of both entities' spans, not their
types) and ``rel_nec`` REL+ (with the entities' types). Prints a Markdown table: one row per
run and one per group with the mean and the sample standard deviation (n - 1) of every column.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

COLUMNS = ("NER micro", "NER macro", "REL micro", "REL macro", "REL+ micro", "REL+ macro")
_OURS = (("ner", "micro"), ("ner", "macro"), ("rel", "micro"), ("rel", "macro"), ("rel_plus", "micro"),
         ("rel_plus", "macro"))
_AUTHORS = ("ner_f1_micro", "ner_f1_macro", "rel_f1_micro", "rel_f1_macro", "rel_nec_f1_micro", "rel_nec_f1_macro")


def scores(run: Path) -> list[float]:
    """A run's six F1 figures (%), from our metrics.json or the authors' eval_valid.csv."""
    if (run / "metrics.json").exists():
        m = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
        return [float(m[task][avg]["f1"]) for task, avg in _OURS]
    logs = sorted(run.glob("eval_valid.csv")) or sorted(run.glob("*/eval_valid.csv"))
    if not logs:
        raise SystemExit(f"{run}: neither metrics.json (ours) nor eval_valid.csv (the authors') found")
    with logs[-1].open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    if not rows:
        raise SystemExit(f"{logs[-1]}: no evaluation yet (the run has not finished)")
    return [float(rows[-1][k]) for k in _AUTHORS]


def spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    return f"{mean:.2f}" if len(values) < 2 else f"{mean:.2f} ({statistics.stdev(values):.2f})"


def table(groups: list[tuple[str, list[Path]]]) -> str:
    lines = ["| run | " + " | ".join(COLUMNS) + " |", "| --- |" + " ---: |" * len(COLUMNS)]
    for label, runs in groups:
        figures = [scores(r) for r in runs]
        for run, f in zip(runs, figures):
            name = f"{run.parent.name}/{run.name}" if run.name.startswith("seed_") else run.name  # spert cv's layout
            lines.append(f"| {label}: {name} | " + " | ".join(f"{x:.2f}" for x in f) + " |")
        columns = list(zip(*figures))
        lines.append(f"| **{label}, mean (std)** | " + " | ".join(spread(list(c)) for c in columns) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", action="append", required=True, metavar="LABEL=DIR[,DIR...]",
                        help="a label and its run directories (repeatable)")
    args = parser.parse_args()
    groups = []
    for g in args.group:
        label, _, dirs = g.rpartition("=")
        if not label or not dirs:
            parser.error(f"--group {g!r}: give LABEL=DIR[,DIR...]")
        groups.append((label, [Path(d) for d in dirs.split(",")]))
    print(table(groups))


if __name__ == "__main__":
    main()
