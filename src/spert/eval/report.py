"""``spert report``: one page that says how a training run went and where its model errs.

From a ``spert train`` output directory: learning curves (``log.csv``, ``eval.csv``), the
scores with per-type precision, recall and F1, the entity type confusion matrix, a sweep of
the relation threshold (precision, recall and F1 against the threshold, the model's own one
marked) and error examples grouped as the paper's error inspection does (entity boundary
off by one word, wrong entity type, spurious and missed relations...), each linking to the
gold-versus-predicted view (:func:`spert.eval.render.render_comparison`, ``spert render --gold``).

The model predicts the evaluation data once with the lowest threshold of the sweep; every
figure is computed from that one prediction (a relation kept at threshold t is one whose
probability is >= t, exactly what predicting with threshold t gives). Without a model
(an unfinished run) the report uses ``predictions.json`` and has no sweep.

Output: ``report.html`` (self-contained: plots embedded as PNG data URIs, inline CSS, no
script, nothing fetched), ``report.md`` with the PNG files beside it, and ``comparison.html``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from jinja2 import Environment, PackageLoader, select_autoescape

from spert.atomic import atomic_write_text
from spert.data.documents import Document, iter_records, read_documents
from spert.data.schema import load_types
from spert.errors import SpertError
from spert.eval.metrics import TASK_TITLES, TASKS, Metrics, evaluate
from spert.eval.render import compare, pair_documents, render_comparison
from spert.infer.decoding import DocPrediction, ScoredEntity, ScoredRelation, predict_documents
from spert.data.records import Prediction
from spert.model.checkpoint import load_model

log = logging.getLogger(__name__)

NONE = "(none)"  # the confusion matrix's row and column for "no entity"
SWEEP = tuple(round(0.05 * i, 2) for i in range(1, 20))  # 0.05 .. 0.95
ERROR_GROUPS = {  # the paper's error inspection, as far as gold and prediction tell it
    "boundary": "Entity boundary off by one word",
    "span": "Entity span otherwise wrong (overlaps a gold entity)",
    "entity type": "Wrong entity type (right span)",
    "spurious entity": "Spurious entity (overlaps no gold entity)",
    "missed entity": "Missed entity (no predicted entity overlaps it)",
    "spurious relation": "Spurious relation",
    "missed relation": "Missed relation",
    "relation": "Relation of the wrong type, reversed, or between wrong entities",
}


@dataclass
class SweepPoint:
    threshold: float
    scores: dict[str, tuple[float, float, float]]  # "rel" / "rel_plus" -> micro (P, R, F1)


@dataclass
class ErrorExample:
    doc: int
    text: str  # the sentence
    what: str  # the error, e.g. 'predicted Loc "New York City" / gold Loc "New York"'


@dataclass
class Report:
    run_dir: Path
    data: Path
    documents: int
    threshold: float
    no_overlap: bool
    config: dict[str, Any]
    metrics: Metrics
    entity_types: list[str]
    confusion: list[list[int]]  # rows gold (types, then NONE), columns predicted
    sweep: list[SweepPoint] | None
    errors: dict[str, list[ErrorExample]]
    error_counts: dict[str, int]
    log_rows: list[dict[str, float]]
    eval_rows: list[dict[str, float]]
    gold_records: list[Prediction] = field(default_factory=list, repr=False)  # for comparison.html
    pred_records: list[Prediction] = field(default_factory=list, repr=False)
    figures: dict[str, bytes] = field(default_factory=dict)  # name -> PNG

    @property
    def best_sweep(self) -> SweepPoint | None:
        return max(self.sweep, key=lambda p: p.scores["rel_plus"][2]) if self.sweep else None


# -- computing ------------------------------------------------------------------------------------

def read_csv(path: Path) -> list[dict[str, float]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k: float(v) for k, v in row.items() if v not in (None, "")} for row in csv.DictReader(fh)]


def at_threshold(preds: Sequence[DocPrediction], threshold: float) -> list[DocPrediction]:
    """The predictions with only the relations whose probability is >= ``threshold``."""
    return [replace(p, relations=[r for r in p.relations if r.score >= threshold]) for p in preds]


def threshold_sweep(gold: Sequence[Document], preds: Sequence[DocPrediction], thresholds: Sequence[float],
                    no_overlap: bool) -> list[SweepPoint]:
    """REL and REL+ micro precision, recall and F1 at each threshold (predictions made at or below it)."""
    points = []
    for t in thresholds:
        m = evaluate(gold, [p.to_document() for p in at_threshold(preds, t)], no_overlap)
        points.append(SweepPoint(t, {k: (s.micro.precision, s.micro.recall, s.micro.f1)
                                     for k, s in (("rel", m.rel), ("rel_plus", m.rel_plus))}))
    return points


def confusion_matrix(gold: Sequence[Document], pred: Sequence[Document], types: Sequence[str]) -> list[list[int]]:
    """Counts of (gold type, predicted type) over spans that are an entity in gold or prediction;
    NONE (last row and column) for a span that is no entity on that side."""
    index = {t: i for i, t in enumerate(types)}
    n = len(types) + 1
    m = [[0] * n for _ in range(n)]
    for g, p in zip(gold, pred):
        gs = {(e.start, e.end): e.type for e in g.entities}
        ps = {(e.start, e.end): e.type for e in p.entities}
        for span in gs.keys() | ps.keys():
            m[index.get(gs.get(span), n - 1)][index.get(ps.get(span), n - 1)] += 1
    return m


def _quote(doc: Prediction, e) -> str:
    return f'{e.type} "{doc.text[e.char_start:e.char_end]}"'


def _relation(doc: Prediction, r) -> str:
    return f"{_quote(doc, doc.entities[r.head])} -{r.type}-> {_quote(doc, doc.entities[r.tail])}"


def error_examples(gold: Sequence[Prediction], pred: Sequence[Prediction],
                   limit: int) -> tuple[dict[str, list[ErrorExample]], dict[str, int]]:
    """Errors grouped as in :data:`ERROR_GROUPS` (the first ``limit`` examples of each, all counted)."""
    examples: dict[str, list[ErrorExample]] = {k: [] for k in ERROR_GROUPS}
    counts: Counter = Counter()

    def add(group: str, i: int, doc: Prediction, what: str) -> None:
        counts[group] += 1
        if len(examples[group]) < limit:
            examples[group].append(ErrorExample(i, doc.text, what))

    for i, (g, p) in enumerate(pair_documents(gold, pred)):
        c = compare(g, p)
        for e, status in zip(p.entities, c.pred_entities):
            near = [x for x in g.entities if x.start < e.end and e.start < x.end]
            gold_text = " / gold " + ", ".join(_quote(g, x) for x in near) if near else ""
            if status == "wrong span":
                off_by_one = any(abs(e.start - x.start) + abs(e.end - x.end) == 1 for x in near)
                add("boundary" if off_by_one else "span", i, p, f"predicted {_quote(p, e)}{gold_text}")
            elif status == "wrong type":
                add("entity type", i, p, f"predicted {_quote(p, e)}{gold_text}")
            elif status == "spurious":
                add("spurious entity", i, p, f"predicted {_quote(p, e)}")
        for e, status in zip(g.entities, c.gold_entities):
            if status == "missed" and not any(x.start < e.end and e.start < x.end for x in p.entities):
                add("missed entity", i, g, f"gold {_quote(g, e)}")
        for r, status in zip(p.relations, c.pred_relations):
            if status == "spurious":
                add("spurious relation", i, p, f"predicted {_relation(p, r)}")
            elif status != "correct":
                add("relation", i, p, f"predicted {_relation(p, r)} ({status})")
        for r, status in zip(g.relations, c.gold_relations):
            if status == "missed":
                add("missed relation", i, g, f"gold {_relation(g, r)}")
    return examples, {k: counts[k] for k in ERROR_GROUPS}


def _records(docs: Sequence[Any]) -> list[Prediction]:
    return [Prediction.from_json(d if isinstance(d, dict) else d.to_json()) for d in docs]


def _prediction_from_json(obj: dict[str, Any]) -> DocPrediction:
    return DocPrediction(tuple(obj["tokens"]),
                         [ScoredEntity(e["type"], e["start"], e["end"], e.get("score", float("nan")))
                          for e in obj["entities"]],
                         [ScoredRelation(r["type"], r["head"], r["tail"], r.get("score", float("nan")))
                          for r in obj["relations"]])


def build_report(run_dir: Path, *, data: Path | None = None, max_docs: int | None = None, examples: int = 5,
                 sweep: bool = True, batch_size: int = 8, device: str = "cpu",
                 progress: Callable[[int], Any] | None = None) -> Report:
    """Everything the report shows, computed from a ``spert train`` output directory."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.exists():
        raise SpertError(f"{run_dir}: not a spert train output directory (no config.json)")
    config = json.loads(cfg_path.read_text(encoding="utf-8"))
    no_overlap = bool(config.get("no_overlap", False))
    model_dir = run_dir / "model"
    data = Path(data or config.get("test_path") or config.get("valid_path") or "")
    if not str(data) or not data.is_file():
        raise SpertError(f"{run_dir}: no evaluation data to report on ({data or 'none in config.json'}); give --data")
    max_docs = max_docs if max_docs is not None else config.get("max_eval_docs")

    if (model_dir / "model.safetensors").exists():
        model, tokenizer, inference = load_model(model_dir)
        model.to(device)
        schema, threshold = model.schema, inference.rel_filter_threshold
        gold = read_documents(data, schema)[:max_docs]
        floor = min(SWEEP[0], threshold) if sweep else threshold
        log.info("predicting %d documents of %s (relation threshold %.2f)", len(gold), data, floor)
        raw = predict_documents(model, tokenizer, [d.tokens for d in gold], batch_size=batch_size, threshold=floor,
                                device=device, path=data, progress=progress)
    else:
        pred_path = run_dir / "predictions.json"
        if not pred_path.exists():
            raise SpertError(f"{run_dir}: neither a model (model/) nor predictions.json to report on")
        log.warning("%s: no model; using predictions.json (no threshold sweep)", run_dir)
        schema, threshold, sweep = load_types(config["types_path"]), float(config.get("rel_filter_threshold", 0.4)), False
        raw = [_prediction_from_json(o) for _, _, o in iter_records(pred_path)]
        gold = read_documents(data, schema)[:len(raw)]

    preds = at_threshold(raw, threshold)
    pred_docs = [p.to_document() for p in preds]
    metrics = evaluate(gold, pred_docs, no_overlap)
    types = [t.name for t in schema.entities]
    gold_records, pred_records = _records([_doc_json(d) for d in gold]), _records(preds)
    errors, counts = error_examples(gold_records, pred_records, examples)
    return Report(run_dir, data, len(gold), threshold, no_overlap, config, metrics, types,
                  confusion_matrix(gold, pred_docs, types),
                  threshold_sweep(gold, raw, sorted({*SWEEP, threshold}), no_overlap) if sweep else None,
                  errors, counts, read_csv(run_dir / "log.csv"), read_csv(run_dir / "eval.csv"), gold_records,
                  pred_records)


def _doc_json(d: Document) -> dict[str, Any]:
    return {"tokens": list(d.tokens),
            "entities": [{"type": e.type, "start": e.start, "end": e.end} for e in d.entities],
            "relations": [{"type": r.type, "head": r.head, "tail": r.tail} for r in d.relations]}


# -- plotting -------------------------------------------------------------------------------------

def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def make_figures(report: Report) -> dict[str, bytes]:
    import matplotlib  # the Agg backend must be chosen before pyplot loads (as in tools/bench.py)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    figs: dict[str, bytes] = {}
    if report.log_rows:
        fig, ax = plt.subplots(figsize=(7.5, 3.4))
        x = [r["update"] for r in report.log_rows]
        marker = "o" if len(x) < 30 else None  # a short run's few points stay visible
        for key, label in (("loss", "loss"), ("entity_loss", "entity loss"), ("rel_loss", "relation loss")):
            ax.plot(x, [r.get(key, float("nan")) for r in report.log_rows], label=label, lw=1.4, marker=marker, ms=3)
        ax.set_xlabel("update")
        ax.set_ylabel("training loss")
        ax.set_yscale("log")
        lr = ax.twinx()
        lr.plot(x, [r.get("lr", float("nan")) for r in report.log_rows], color="0.6", ls=":", label="learning rate")
        lr.set_ylabel("learning rate", color="0.4")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = lr.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper right")
        ax.set_title("Training loss (log.csv)")
        figs["loss"] = _png(fig)
        plt.close(fig)
    if report.eval_rows:
        fig, ax = plt.subplots(figsize=(7.5, 3.0))
        x = [r["epoch"] for r in report.eval_rows]
        for key, label, style in (("ner_f1", "NER", "-"), ("rel_plus_f1", "REL+", "-"), ("rel_f1", "REL", "--")):
            ax.plot(x, [r.get(key, float("nan")) for r in report.eval_rows], marker="o", ls=style, label=label)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("micro F1 (%)")
        ax.set_title("Validation scores (eval.csv)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        figs["validation"] = _png(fig)
        plt.close(fig)
    for task in ("ner", "rel_plus"):
        per_type = getattr(report.metrics, task).per_type
        if not per_type:
            continue
        names = list(per_type)
        fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(names) + 1.5), 2.8))
        width = 0.27
        for k, (attr, color) in enumerate((("precision", "#4c72b0"), ("recall", "#dd8452"), ("f1", "#55a868"))):
            ax.bar([i + (k - 1) * width for i in range(len(names))], [getattr(per_type[n], attr) for n in names],
                   width, label=attr if attr != "f1" else "F1", color=color)
        ax.set_xticks(range(len(names)), names, rotation=20 if len(names) > 5 else 0, fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_ylabel("%")
        ax.set_title(f"{TASK_TITLES[task]} per type")
        ax.legend(fontsize=8, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.15 if len(names) <= 5 else -0.3))
        figs[f"per_type_{task}"] = _png(fig)
        plt.close(fig)
    labels = report.entity_types + [NONE]
    fig, ax = plt.subplots(figsize=(1.0 * len(labels) + 2, 0.8 * len(labels) + 1.5))
    m = report.confusion
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
    figs["confusion"] = _png(fig)
    plt.close(fig)
    if report.sweep:
        fig, ax = plt.subplots(figsize=(7.5, 3.4))
        x = [p.threshold for p in report.sweep]
        for k, (label, color) in enumerate((("precision", "#4c72b0"), ("recall", "#dd8452"), ("F1", "#55a868"))):
            ax.plot(x, [p.scores["rel_plus"][k] for p in report.sweep], label=f"REL+ {label}", color=color, lw=1.6)
        ax.plot(x, [p.scores["rel"][2] for p in report.sweep], label="REL F1", color="#55a868", ls="--", lw=1)
        ax.axvline(report.threshold, color="#c44e52", ls=":", lw=1.5)
        ax.annotate(f"model's threshold {report.threshold:g}", (report.threshold, 96), color="#c44e52", fontsize=8,
                    xytext=(4, 0), textcoords="offset points")
        best = report.best_sweep
        ax.plot([best.threshold], [best.scores["rel_plus"][2]], "k*", ms=10, label=f"best REL+ F1 ({best.threshold:g})")
        ax.set_xlabel("relation threshold")
        ax.set_ylabel("micro (%)")
        ax.set_ylim(0, 102)
        ax.set_title("Relation threshold sweep")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(alpha=0.3)
        figs["sweep"] = _png(fig)
        plt.close(fig)
    return figs


# -- writing --------------------------------------------------------------------------------------

def _context(report: Report, images: dict[str, str]) -> dict[str, Any]:
    cfg = report.config
    settings = {k: cfg.get(k) for k in ("encoder", "epochs", "batch_size", "lr", "seed", "max_span_size",
                                         "neg_entity_count", "neg_relation_count", "negatives", "context",
                                         "pooling", "freeze_encoder", "random_init", "head_init", "train_path",
                                         "max_train_docs", "valid_path")
                if cfg.get(k) is not None}
    best = report.best_sweep
    return {"title": f"SpERT run report: {report.run_dir.name}", "r": report, "tasks": report.metrics.tasks(),
            "task_titles": TASK_TITLES, "settings": settings, "images": images, "groups": ERROR_GROUPS,
            "labels": report.entity_types + [NONE], "best": best, "task_names": TASKS,
            "metrics_json": (report.run_dir / "metrics.json").exists()}


def _environment(html: bool) -> Environment:
    return Environment(loader=PackageLoader("spert.eval", "templates"),
                       autoescape=select_autoescape(["html.j2"]) if html else False,
                       trim_blocks=True, lstrip_blocks=True)


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """``report.html`` (self-contained), ``report.md`` with its PNGs, and ``comparison.html``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = report.figures or make_figures(report)
    uris = {k: "data:image/png;base64," + base64.b64encode(v).decode("ascii") for k, v in figures.items()}
    html = _environment(True).get_template("report.html.j2").render(**_context(report, uris))
    for name, png in figures.items():
        tmp = out_dir / f".{name}.png.tmp"
        tmp.write_bytes(png)
        tmp.replace(out_dir / f"{name}.png")
    md = _environment(False).get_template("report.md.j2").render(**_context(report, {k: f"{k}.png" for k in figures}))
    atomic_write_text(out_dir / "report.html", html)
    atomic_write_text(out_dir / "report.md", md)
    atomic_write_text(out_dir / "comparison.html", render_comparison(
        report.gold_records, report.pred_records, errors_only=True,
        title=f"SpERT: gold versus predicted, {report.data.name} ({report.run_dir.name})"))
    return [out_dir / "report.html", out_dir / "report.md", out_dir / "comparison.html"]

