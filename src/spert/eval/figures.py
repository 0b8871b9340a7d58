"""The figures of ``spert report``, one function each, as PNG bytes.

Each takes the plain records it shows (CSV rows, per-type scores, counts, sweep points) and
returns the PNG; :func:`spert.eval.report.make_figures` chooses which a report has.
matplotlib is imported on first use, on the Agg backend (no display needed).
"""

from __future__ import annotations

import io
from typing import Sequence

from spert.eval.metrics import PRF


def _pyplot():
    import matplotlib  # the Agg backend must be chosen before pyplot loads (as in tools/bench/plot.py)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def loss_curves(log_rows: Sequence[dict[str, float]]) -> bytes:
    """Training loss (entity, relation and both) per update on a log scale, the learning rate beside it."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    x = [r["update"] for r in log_rows]
    marker = "o" if len(x) < 30 else None  # a short run's few points stay visible
    for key, label in (("loss", "loss"), ("entity_loss", "entity loss"), ("rel_loss", "relation loss")):
        ax.plot(x, [r.get(key, float("nan")) for r in log_rows], label=label, lw=1.4, marker=marker, ms=3)
    ax.set_xlabel("update")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    lr = ax.twinx()
    lr.plot(x, [r.get("lr", float("nan")) for r in log_rows], color="0.6", ls=":", label="learning rate")
    lr.set_ylabel("learning rate", color="0.4")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = lr.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right")
    ax.set_title("Training loss (log.csv)")
    return _png(fig)


def validation_curves(eval_rows: Sequence[dict[str, float]]) -> bytes:
    """NER, REL+ and REL micro F1 per validated epoch."""
    import matplotlib.ticker

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.0))
    x = [r["epoch"] for r in eval_rows]
    for key, label, style in (("ner_f1", "NER", "-"), ("rel_plus_f1", "REL+", "-"), ("rel_f1", "REL", "--")):
        ax.plot(x, [r.get(key, float("nan")) for r in eval_rows], marker="o", ls=style, label=label)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("micro F1 (%)")
    ax.set_title("Validation scores (eval.csv)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def per_type_scores(per_type: dict[str, PRF], title: str) -> bytes:
    """Precision, recall and F1 bars per type of one task."""
    plt = _pyplot()
    names = list(per_type)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(names) + 1.5), 2.8))
    width = 0.27
    for k, (attr, color) in enumerate((("precision", "#4c72b0"), ("recall", "#dd8452"), ("f1", "#55a868"))):
        ax.bar([i + (k - 1) * width for i in range(len(names))], [getattr(per_type[n], attr) for n in names],
               width, label=attr if attr != "f1" else "F1", color=color)
    ax.set_xticks(range(len(names)), names, rotation=20 if len(names) > 5 else 0, fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title(f"{title} per type")
    ax.legend(fontsize=8, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.15 if len(names) <= 5 else -0.3))
    return _png(fig)


def confusion(labels: Sequence[str], m: Sequence[Sequence[int]]) -> bytes:
    """The entity type confusion matrix: gold rows, predicted columns, the last of each "no entity"
    (their crossing, spans that are no entity on either side, is not counted)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.0 * len(labels) + 2, 0.8 * len(labels) + 1.5))
    ax.imshow([[v ** 0.5 for v in row] for row in m], cmap="Blues")
    top = max(max(row) for row in m) or 1
    for i, row in enumerate(m):
        for j, v in enumerate(row):
            if i == len(labels) - 1 and j == len(labels) - 1:
                ax.text(j, i, "–", ha="center", va="center", color="0.5")
            else:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=9,
                        color="white" if v ** 0.5 > 0.6 * top ** 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title("Entity types: gold (rows) vs predicted (columns)")
    return _png(fig)


def threshold_curves(x: Sequence[float], rel_plus: Sequence[tuple[float, float, float]], rel_f1: Sequence[float],
                     threshold: float, best: tuple[float, float]) -> bytes:
    """REL+ micro (precision, recall, F1) and REL micro F1 at each threshold ``x``; the model's own
    ``threshold`` and the ``best`` (threshold, REL+ F1) marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for k, (label, color) in enumerate((("precision", "#4c72b0"), ("recall", "#dd8452"), ("F1", "#55a868"))):
        ax.plot(x, [p[k] for p in rel_plus], label=f"REL+ {label}", color=color, lw=1.6)
    ax.plot(x, rel_f1, label="REL F1", color="#55a868", ls="--", lw=1)
    ax.axvline(threshold, color="#c44e52", ls=":", lw=1.5)
    ax.annotate(f"model's threshold {threshold:g}", (threshold, 96), color="#c44e52", fontsize=8,
                xytext=(4, 0), textcoords="offset points")
    ax.plot([best[0]], [best[1]], "k*", ms=10, label=f"best REL+ F1 ({best[0]:g})")
    ax.set_xlabel("relation threshold")
    ax.set_ylabel("micro (%)")
    ax.set_ylim(0, 102)
    ax.set_title("Relation threshold sweep")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    return _png(fig)
