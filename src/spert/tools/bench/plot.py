"""The length plot: time per sentence and peak memory against sentence length, ours and naive."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from spert.tools.bench.memory import LengthRow


def plot_lengths(rows: Sequence[LengthRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    words = [r.words for r in rows]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    series = (([r.ours for r in rows], "spert (lean pooling)", "o-"),
              ([r.naive for r in rows], "naive (Q x T x H)", "s--"))
    for measures, label, style in series:
        if all(m is not None for m in measures):
            ax_t.plot(words, [m.ms for m in measures], style, label=label)
            ax_m.plot(words, [m.peak_mb for m in measures], style, label=label)
    ax_t.set(xlabel="sentence length (words)", ylabel="inference time per sentence (ms)", yscale="log")
    ax_m.set(xlabel="sentence length (words)", ylabel="peak memory above model (MB)", yscale="log")
    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("SpERT inference, one sentence, CPU")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
