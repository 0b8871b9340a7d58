"""Learning curves of several training runs side by side: test (or validation) F1 per epoch.

Usage (project root):
    .venv/bin/python scripts/learning_curves.py --run "MiniLM=RUN_DIR" --run "mpnet=RUN_DIR" \
        [--plot curves.png] [--title TEXT]

Each run is a ``spert train`` output directory whose ``eval.csv`` has one row per evaluated epoch
(``--eval_every 1``; with ``--valid_path`` set to the test file these are test scores). Prints a
Markdown table, one row per epoch and NER / REL / REL+ micro F1 per run (a run that has not reached
an epoch yet shows "-"); ``--plot`` also draws NER and REL+ per epoch, one line per run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from spert.eval.report import read_csv

TASKS = (("ner_f1", "NER"), ("rel_f1", "REL"), ("rel_plus_f1", "REL+"))


def curves(runs: list[tuple[str, Path]]) -> dict[str, dict[int, dict[str, float]]]:
    """Each run's eval.csv rows by epoch."""
    out = {}
    for label, run in runs:
        path = run / "eval.csv"
        if not path.exists():
            raise SystemExit(f"{path}: not found (train with --eval_every 1 for a learning curve)")
        out[label] = {int(row["epoch"]): row for row in read_csv(path)}
    return out


def table(by_run: dict[str, dict[int, dict[str, float]]]) -> str:
    epochs = sorted({e for rows in by_run.values() for e in rows})
    head = [f"{label} {name}" for label in by_run for _, name in TASKS]
    lines = ["| epoch | " + " | ".join(head) + " |", "| ---: |" + " ---: |" * len(head)]
    for e in epochs:
        cells = [f"{by_run[label][e][key]:.2f}" if e in by_run[label] else "-" for label in by_run for key, _ in TASKS]
        lines.append(f"| {e} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(by_run: dict[str, dict[int, dict[str, float]]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharex=True)
    for ax, (key, name) in zip(axes, (TASKS[0], TASKS[2])):
        for label, rows in by_run.items():
            epochs = sorted(rows)
            ax.plot(epochs, [rows[e][key] for e in epochs], marker="o", ms=3, label=label)
        ax.set_title(f"{name} micro F1")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("F1 (%)")
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="LABEL=DIR", help="a run (repeatable)")
    parser.add_argument("--plot", type=Path, help="write the curves as a PNG")
    parser.add_argument("--title", default="Learning curves (eval.csv)")
    args = parser.parse_args()
    runs = []
    for r in args.run:
        label, _, run = r.rpartition("=")
        if not label or not run:
            parser.error(f"--run {r!r}: give LABEL=DIR")
        runs.append((label, Path(run)))
    by_run = curves(runs)
    print(table(by_run))
    if args.plot:
        plot(by_run, args.plot, args.title)


if __name__ == "__main__":
    main()
