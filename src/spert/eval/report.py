"""``spert report``: one page that says how a training run went and where its model errs.

From a ``spert train`` output directory: learning curves (``log.csv``, ``eval.csv``), the
scores with per-type precision, recall and F1, the entity type confusion matrix, a sweep of
the relation threshold (precision, recall and F1 against the threshold, the model's own one
marked) and error examples grouped as the paper's error inspection does (entity boundary
off by one word, wrong entity type, spurious and missed relations...), each linking to the
gold-versus-predicted view (:func:`spert.eval.render.render_comparison`, ``spert render --gold``).

Pure: this module reads the run directory's files and computes from records; it never loads
a model. The caller hands it the model's predictions of the evaluation data
(:func:`spert.train.evaluation.report_run` predicts once, with the lowest threshold of the
sweep): every figure is computed from that one prediction (a relation kept at threshold t is
one whose probability is >= t, exactly what predicting with threshold t gives). Without a
model (an unfinished run) the report uses ``predictions.json`` and has no sweep.

Output: ``report.html`` (self-contained: plots embedded as PNG data URIs, inline CSS, no
script, nothing fetched; the figures are :mod:`spert.eval.figures`), ``report.md`` with the
PNG files beside it, and ``comparison.html``.
"""

from __future__ import annotations

import base64
import csv
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

from jinja2 import Environment, PackageLoader, select_autoescape

from spert.atomic import atomic_write_text
from spert.data.documents import Document, iter_records
from spert.data.predictions import DocPrediction
from spert.data.records import Prediction
from spert.data.schema import TypeSchema
from spert.errors import SpertError
from spert.eval import figures
from spert.eval.metrics import TASK_TITLES, TASKS, Metrics, evaluate
from spert.eval.render import compare, pair_documents, render_comparison

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
    settings: dict[str, Any]  # the run's settings the report lists (RunDirectory.settings)
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


def error_counts(gold: Sequence[Document], pred: Sequence[Document | DocPrediction]) -> dict[str, int]:
    """How many errors of each :data:`ERROR_GROUPS` group predictions make (no examples kept)."""
    return error_examples(_records(gold), _records(pred), 0)[1]


def _records(docs: Iterable[Document | DocPrediction]) -> list[Prediction]:
    return [Prediction.from_json(d.to_json()) for d in docs]


# the run's settings the report lists (those its config.json sets and that are not None)
REPORTED_SETTINGS = ("encoder", "epochs", "batch_size", "lr", "seed", "max_span_size", "neg_entity_count",
                     "neg_relation_count", "negatives", "context", "pooling", "freeze_encoder", "random_init",
                     "head_init", "train_path", "max_train_docs", "valid_path")


@dataclass(frozen=True)
class RunDirectory:
    """A ``spert train`` output directory and the evaluation data its report is about, with what the
    report needs of the run's settings (``spert.train.config.read_run_config`` reads them typed)."""

    path: Path
    data: Path
    max_docs: int | None
    no_overlap: bool
    settings: dict[str, Any]  # REPORTED_SETTINGS -> value, for the settings line

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def has_model(self) -> bool:
        return (self.model_dir / "model.safetensors").exists()


def saved_predictions(run: RunDirectory) -> list[DocPrediction]:
    """The run's ``predictions.json`` (for a run without a model)."""
    pred_path = run.path / "predictions.json"
    if not pred_path.exists():
        raise SpertError(f"{run.path}: neither a model (model/) nor predictions.json to report on")
    log.warning("%s: no model; using predictions.json (no threshold sweep)", run.path)
    return [DocPrediction.from_json(o) for _, _, o in iter_records(pred_path)]


def lowest_threshold(threshold: float, sweep: bool) -> float:
    """The relation threshold to predict with for a report: with a sweep, its lowest point too."""
    return min(SWEEP[0], threshold) if sweep else threshold


def build_report(run: RunDirectory, schema: TypeSchema, gold: Sequence[Document], raw: Sequence[DocPrediction], *,
                 threshold: float, sweep: bool, examples: int = 5) -> Report:
    """Everything the report shows, from the gold documents and the model's predictions of them.

    ``raw`` is predicted with the relation threshold :func:`lowest_threshold` gives for
    ``threshold`` (the model's) and ``sweep``.
    """
    preds = at_threshold(raw, threshold)
    pred_docs = [p.to_document() for p in preds]
    metrics = evaluate(gold, pred_docs, run.no_overlap)
    types = [t.name for t in schema.entities]
    # the gold view shows no input fields (an orig_id), as the predicted view has none
    gold_records, pred_records = _records(replace(d, extra={}) for d in gold), _records(preds)
    errors, counts = error_examples(gold_records, pred_records, examples)
    return Report(run.path, run.data, len(gold), threshold, run.no_overlap, run.settings, metrics, types,
                  confusion_matrix(gold, pred_docs, types),
                  threshold_sweep(gold, raw, sorted({*SWEEP, threshold}), run.no_overlap) if sweep else None,
                  errors, counts, read_csv(run.path / "log.csv"), read_csv(run.path / "eval.csv"), gold_records,
                  pred_records)


# -- plotting -------------------------------------------------------------------------------------

def make_figures(report: Report) -> dict[str, bytes]:
    """The report's figures (:mod:`spert.eval.figures`) by name, those it has data for."""
    figs: dict[str, bytes] = {}
    if report.log_rows:
        figs["loss"] = figures.loss_curves(report.log_rows)
    if report.eval_rows:
        figs["validation"] = figures.validation_curves(report.eval_rows)
    for task in ("ner", "rel_plus"):
        per_type = getattr(report.metrics, task).per_type
        if per_type:
            figs[f"per_type_{task}"] = figures.per_type_scores(per_type, TASK_TITLES[task])
    figs["confusion"] = figures.confusion(report.entity_types + [NONE], report.confusion)
    best = report.best_sweep
    if report.sweep and best is not None:
        figs["sweep"] = figures.threshold_curves([p.threshold for p in report.sweep],
                                                 [p.scores["rel_plus"] for p in report.sweep],
                                                 [p.scores["rel"][2] for p in report.sweep], report.threshold,
                                                 (best.threshold, best.scores["rel_plus"][2]))
    return figs


# -- writing --------------------------------------------------------------------------------------

def _context(report: Report, images: dict[str, str]) -> dict[str, Any]:
    best = report.best_sweep
    return {"title": f"SpERT run report: {report.run_dir.name}", "r": report, "tasks": report.metrics.tasks(),
            "task_titles": TASK_TITLES, "settings": report.settings, "images": images, "groups": ERROR_GROUPS,
            "labels": report.entity_types + [NONE], "best": best, "task_names": TASKS,
            "metrics_json": (report.run_dir / "metrics.json").exists()}


def _environment(html: bool) -> Environment:
    return Environment(loader=PackageLoader("spert.eval", "templates"),
                       autoescape=select_autoescape(["html.j2"]) if html else False,
                       trim_blocks=True, lstrip_blocks=True)


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """``report.html`` (self-contained), ``report.md`` with its PNGs, and ``comparison.html``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = report.figures or make_figures(report)
    uris = {k: "data:image/png;base64," + base64.b64encode(v).decode("ascii") for k, v in pngs.items()}
    html = _environment(True).get_template("report.html.j2").render(**_context(report, uris))
    for name, png in pngs.items():
        tmp = out_dir / f".{name}.png.tmp"
        tmp.write_bytes(png)
        tmp.replace(out_dir / f"{name}.png")
    md = _environment(False).get_template("report.md.j2").render(**_context(report, {k: f"{k}.png" for k in pngs}))
    atomic_write_text(out_dir / "report.html", html)
    atomic_write_text(out_dir / "report.md", md)
    atomic_write_text(out_dir / "comparison.html", render_comparison(
        report.gold_records, report.pred_records, errors_only=True,
        title=f"SpERT: gold versus predicted, {report.data.name} ({report.run_dir.name})"))
    return [out_dir / "report.html", out_dir / "report.md", out_dir / "comparison.html"]

