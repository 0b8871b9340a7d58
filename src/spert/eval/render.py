"""HTML views of predictions, in the manner of displaCy.

Two self-contained pages (inline CSS; no script, font or other outside resource):

* :func:`render_predictions`: every document's text with its entities highlighted
  by type (one colour per type, label after the text; nested entities nest), and
  its relations as a list ``head -TYPE-> tail`` with scores.
* :func:`render_comparison`: gold above prediction for every document, with the
  errors of the paper's error inspection marked. A predicted entity is
  ``correct`` (span and type in gold), of the ``wrong type`` (a gold entity has
  its span), of the ``wrong span`` (it overlaps a gold entity, none of the same
  span) or ``spurious`` (no gold entity overlaps it); a gold entity that was not
  predicted exactly is ``missed``. A predicted relation is ``correct`` (REL+: type,
  both spans and both entity types), of the ``wrong type`` (gold relates the same
  spans in the same direction by another type), ``reversed`` (gold has it the
  other way round), has ``wrong entities`` (a gold relation of its type links
  overlapping spans, or the same spans with other entity types) or is
  ``spurious``; a gold relation not predicted exactly is ``missed``.

Entities that cross another entity (overlap without nesting) cannot be nested in
HTML; they are listed below the text instead of highlighted in it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Iterable, Iterator

from jinja2 import Environment, PackageLoader, select_autoescape

from spert.data.documents import iter_records
from spert.data.records import Prediction, PredictedEntity
from spert.errors import DataError

# displaCy-like pastel colours, assigned to entity types in sorted order
PALETTE = ("#7aecec", "#feca74", "#aa9cfc", "#bfeeb7", "#ff9561", "#c887fb", "#9cc9cc", "#ffeb80",
           "#ff8197", "#bfe1d9", "#e4e7d2", "#f0d0ff", "#c6e0b4", "#ffd6a5", "#a5d8ff", "#ddd")

ENTITY_ERRORS = ("wrong type", "wrong span", "spurious", "missed")
RELATION_ERRORS = ("wrong type", "reversed", "wrong entities", "spurious", "missed")


@dataclass
class DocComparison:
    """Status of every predicted and gold entity and relation of one document."""

    pred_entities: list[str]  # per predicted entity: "correct" or an error
    gold_entities: list[str]  # per gold entity: "found" or "missed"
    pred_relations: list[str]
    gold_relations: list[str]

    @property
    def has_errors(self) -> bool:
        return any(s not in ("correct", "found") for s in
                   self.pred_entities + self.gold_entities + self.pred_relations + self.gold_relations)


def _overlap(a: PredictedEntity, b: PredictedEntity) -> bool:
    return a.start < b.end and b.start < a.end


def compare(gold: Prediction, pred: Prediction) -> DocComparison:
    """Classify every entity and relation of one document (see the module's docs)."""
    gold_typed = {(e.start, e.end, e.type) for e in gold.entities}
    gold_spans = {(e.start, e.end) for e in gold.entities}
    pred_typed = {(e.start, e.end, e.type) for e in pred.entities}
    pe = []
    for e in pred.entities:
        if (e.start, e.end, e.type) in gold_typed:
            pe.append("correct")
        elif (e.start, e.end) in gold_spans:
            pe.append("wrong type")
        elif any(_overlap(e, g) for g in gold.entities):
            pe.append("wrong span")
        else:
            pe.append("spurious")
    ge = ["found" if (e.start, e.end, e.type) in pred_typed else "missed" for e in gold.entities]

    def key(doc: Prediction, r) -> tuple:
        h, t = doc.entities[r.head], doc.entities[r.tail]
        return (h.start, h.end, h.type, t.start, t.end, t.type, r.type)

    gold_keys = {key(gold, r) for r in gold.relations}
    pred_keys = {key(pred, r) for r in pred.relations}
    pr = []
    for r in pred.relations:
        h, t = pred.entities[r.head], pred.entities[r.tail]
        if key(pred, r) in gold_keys:
            pr.append("correct")
            continue
        status = "spurious"
        for g in gold.relations:
            gh, gt = gold.entities[g.head], gold.entities[g.tail]
            same = (gh.start, gh.end, gt.start, gt.end) == (h.start, h.end, t.start, t.end)
            if same and g.type != r.type:
                status = "wrong type"
                break
            if g.type == r.type and (gt.start, gt.end, gh.start, gh.end) == (h.start, h.end, t.start, t.end):
                status = "reversed"
                break
            if g.type == r.type and _overlap(gh, h) and _overlap(gt, t):
                status = "wrong entities"
        pr.append(status)
    gr = ["found" if key(gold, r) in pred_keys else "missed" for r in gold.relations]
    return DocComparison(pe, ge, pr, gr)


# -- building the view -----------------------------------------------------------------------


@dataclass
class _Mark:
    """A highlighted entity; ``children`` are plain strings and nested marks."""

    index: int
    type: str
    color: str
    status: str | None
    score: float | None
    children: list[Any] = field(default_factory=list)


def type_colors(types: Iterable[str]) -> dict[str, str]:
    """A colour for every entity type, assigned from the palette in sorted order."""
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(sorted(set(types)))}


def _colors(docs: Iterable[Prediction]) -> dict[str, str]:
    return type_colors(e.type for d in docs for e in d.entities)


def _marked_text(doc: Prediction, colors: dict[str, str], status: list[str] | None) -> tuple[list[Any], list[int]]:
    """The text as strings and nested marks, and the entities that cross another (not nestable)."""
    order = sorted(range(len(doc.entities)), key=lambda i: (doc.entities[i].char_start, -doc.entities[i].char_end))
    placed, crossing, open_ends = [], [], []
    for i in order:
        e = doc.entities[i]
        while open_ends and open_ends[-1] <= e.char_start:
            open_ends.pop()
        if open_ends and e.char_end > open_ends[-1]:
            crossing.append(i)
            continue
        placed.append(i)
        open_ends.append(e.char_end)

    def build(lo: int, hi: int, items: list[int]) -> list[Any]:
        out: list[Any] = []
        pos, k = lo, 0
        while k < len(items):
            i = items[k]
            e = doc.entities[i]
            inner = []
            k += 1
            while k < len(items) and doc.entities[items[k]].char_end <= e.char_end \
                    and doc.entities[items[k]].char_start < e.char_end:
                inner.append(items[k])
                k += 1
            if e.char_start > pos:
                out.append(doc.text[pos:e.char_start])
            out.append(_Mark(i, e.type, colors.get(e.type, PALETTE[-1]), status[i] if status else None, e.score,
                             build(e.char_start, e.char_end, inner)))
            pos = e.char_end
        if pos < hi:
            out.append(doc.text[pos:hi])
        return out

    return build(0, len(doc.text), placed), crossing


def _doc_view(doc: Prediction, colors: dict[str, str], ent_status: list[str] | None = None,
              rel_status: list[str] | None = None) -> dict[str, Any]:
    nodes, crossing = _marked_text(doc, colors, ent_status)
    ents = [{"text": e.text, "type": e.type, "color": colors.get(e.type, PALETTE[-1]),
             "status": ent_status[i] if ent_status else None} for i, e in enumerate(doc.entities)]
    rels = [{"type": r.type, "head": ents[r.head], "tail": ents[r.tail], "score": r.score,
             "status": rel_status[k] if rel_status else None} for k, r in enumerate(doc.relations)]
    return {"nodes": nodes, "crossing": [ents[i] for i in crossing], "relations": rels, "extra": doc.extra,
            "empty": not doc.text.strip()}


def _environment():
    env = Environment(loader=PackageLoader("spert.eval", "templates"), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.tests["mark"] = lambda x: isinstance(x, _Mark)
    env.filters["slug"] = lambda s: s.replace(" ", "-")
    return env


def _take(docs: Iterable[Any], limit: int | None) -> tuple[list[Any], int]:
    """The first ``limit`` items, and how many there were in all."""
    shown, total = [], 0
    for d in docs:
        total += 1
        if limit is None or len(shown) < limit:
            shown.append(d)
    return shown, total


def render_predictions(docs: Iterable[Prediction], *, title: str = "SpERT predictions",
                       limit: int | None = None) -> str:
    """One page showing every document's entities and relations (the first ``limit`` documents)."""
    shown, total = _take(docs, limit)
    colors = _colors(shown)
    views = [_doc_view(d, colors) for d in shown]
    stats = {"documents": total, "entities": sum(len(d.entities) for d in shown),
             "relations": sum(len(d.relations) for d in shown)}
    return _environment().get_template("predictions.html.j2").render(
        title=title, docs=views, colors=colors, shown=len(shown), total=total, stats=stats)


def render_documents(docs: Iterable[Prediction], colors: dict[str, str]) -> str:
    """The HTML of documents as the pages show them, without a page around them (for ``spert serve``)."""
    document = _environment().get_template("macros.html.j2").module.document  # type: ignore[attr-defined]
    return "".join(f'<section class="doc">{document(_doc_view(d, colors))}</section>' for d in docs)


def stylesheet() -> str:
    """The CSS of the pages (entity marks, labels, relation chips), for pages that link it."""
    return (files("spert.eval") / "templates" / "render.css").read_text(encoding="utf-8")


def pair_documents(gold: Iterable[Prediction], pred: Iterable[Prediction]) -> Iterator[tuple[Prediction, Prediction]]:
    """Gold and predicted documents side by side; their tokens must agree."""
    gold_it, pred_it = iter(gold), iter(pred)
    for i, g in enumerate(gold_it):
        p = next(pred_it, None)
        if p is None:
            raise DataError(None, f"the predictions end at document {i}; the gold data has more documents")
        if p.tokens != g.tokens:
            raise DataError(None, "gold and predicted tokens differ (predictions of other data?)", doc=i,
                            field="tokens")
        yield g, p
    if next(pred_it, None) is not None:
        raise DataError(None, "there are more predicted documents than gold documents")


def render_comparison(gold: Iterable[Prediction], pred: Iterable[Prediction], *,
                      title: str = "SpERT: gold versus predicted", limit: int | None = None,
                      errors_only: bool = False) -> str:
    """One page with gold above prediction per document and every error marked."""
    counts: dict[str, Counter] = {"entities": Counter(), "relations": Counter()}
    pairs: list[tuple[int, Prediction, Prediction, DocComparison]] = []
    total = 0
    for i, (g, p) in enumerate(pair_documents(gold, pred)):
        total += 1
        c = compare(g, p)
        counts["entities"].update(c.pred_entities + c.gold_entities)
        counts["relations"].update(c.pred_relations + c.gold_relations)
        if (not errors_only or c.has_errors) and (limit is None or len(pairs) < limit):
            pairs.append((i, g, p, c))
    colors = _colors([d for _, g, p, _ in pairs for d in (g, p)])
    views = [{"index": i, "gold": _doc_view(g, colors, c.gold_entities, c.gold_relations),
              "pred": _doc_view(p, colors, c.pred_entities, c.pred_relations), "has_errors": c.has_errors}
             for i, g, p, c in pairs]
    summary = {kind: _scores(counts[kind]) for kind in counts}
    return _environment().get_template("comparison.html.j2").render(
        title=title, docs=views, colors=colors, shown=len(pairs), total=total, counts=counts, summary=summary,
        entity_errors=ENTITY_ERRORS, relation_errors=RELATION_ERRORS, errors_only=errors_only,
        columns=("wrong type", "wrong span", "reversed", "wrong entities", "spurious", "missed"))


def _scores(c: Counter) -> dict[str, float]:
    """Strict micro precision, recall and F1 (percent) from the status counts."""
    predicted = sum(v for k, v in c.items() if k != "found" and k != "missed")
    gold = c["found"] + c["missed"]
    p = 100 * c["correct"] / predicted if predicted else 0.0
    r = 100 * c["found"] / gold if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f}


def read_predictions(path: str | Path) -> Iterator[Prediction]:
    """Documents of a JSON Lines or SpERT JSON file (``spert predict`` output or any SpERT JSON), lazily."""
    for line, i, obj in iter_records(path):
        yield Prediction.from_json(obj, path=path, line=line, doc=i)
