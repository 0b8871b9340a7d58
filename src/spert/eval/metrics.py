"""NER, REL and REL+ scores exactly as the spec defines them (pure functions).

A prediction is an exact match of a tuple that includes its type: an entity of the
right span but the wrong type counts once as a false negative (of the gold type)
and once as a false positive (of the predicted type). Micro scores pool all types;
macro scores average per-type precision, recall and F1 over the types that occur
in gold or prediction. All figures are percentages; an undefined ratio is 0.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from spert.data.documents import Document, remove_overlapping
from spert.data.predictions import DocPrediction, drop_overlapping

Item = tuple  # (...key, type): the type is always the last element


TASKS = ("ner", "rel", "rel_plus")
TASK_TITLES = {"ner": "Entities (NER)", "rel": "Relations (REL: spans and type)",
               "rel_plus": "Relations (REL+: spans, entity types and type)"}


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float
    support: int = 0  # gold items (per type only)

    def to_json(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "PRF":
        return cls(float(obj["precision"]), float(obj["recall"]), float(obj["f1"]), int(obj.get("support", 0)))


@dataclass(frozen=True)
class TaskScores:
    """One task's scores: micro and macro averages and per-type figures."""

    micro: PRF
    macro: PRF
    per_type: dict[str, PRF]

    def to_json(self) -> dict[str, Any]:
        return {"micro": self.micro.to_json(), "macro": self.macro.to_json(),
                "per_type": {str(t): {**v.to_json(), "support": v.support} for t, v in self.per_type.items()}}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "TaskScores":
        return cls(PRF.from_json(obj["micro"]), PRF.from_json(obj["macro"]),
                   {t: PRF.from_json(v) for t, v in obj.get("per_type", {}).items()})


@dataclass(frozen=True)
class Metrics:
    """NER, REL and REL+ scores; serialises to ``metrics.json``'s shape
    (``{"ner"|"rel"|"rel_plus": {"micro"|"macro": {"precision", "recall", "f1"}, "per_type": {...}}}``)."""

    ner: TaskScores
    rel: TaskScores
    rel_plus: TaskScores

    def tasks(self) -> dict[str, TaskScores]:
        return {name: getattr(self, name) for name in TASKS}

    def main_score(self, has_relations: bool) -> float:
        """The score model selection uses: REL+ micro F1, or NER micro F1 for entity-only models."""
        return (self.rel_plus if has_relations else self.ner).micro.f1

    def to_json(self) -> dict[str, Any]:
        return {name: s.to_json() for name, s in self.tasks().items()}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Metrics":
        return cls(**{name: TaskScores.from_json(obj[name]) for name in TASKS})

    def format(self) -> str:
        """Human-readable tables, one per task."""
        lines = []
        for task, s in self.tasks().items():
            lines.append(TASK_TITLES[task])
            lines.append(f"{'type':<24}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
            for t, v in s.per_type.items():
                lines.append(f"{str(t):<24}{v.precision:>10.2f}{v.recall:>10.2f}{v.f1:>10.2f}{v.support:>10}")
            for name, v in (("micro", s.micro), ("macro", s.macro)):
                lines.append(f"{name:<24}{v.precision:>10.2f}{v.recall:>10.2f}{v.f1:>10.2f}")
            lines.append("")
        return "\n".join(lines)


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return 100 * p, 100 * r, 100 * f


def score(gold: Sequence[Iterable[Item]], pred: Sequence[Iterable[Item]]) -> TaskScores:
    """Micro, macro and per-type P/R/F1 over documents (each a collection of typed tuples)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold documents but {len(pred)} predicted")
    tp, fp, fn = Counter(), Counter(), Counter()
    for g, p in zip(gold, pred):
        g, p = set(g), set(p)
        for item in g & p:
            tp[item[-1]] += 1
        for item in p - g:
            fp[item[-1]] += 1
        for item in g - p:
            fn[item[-1]] += 1
    types = sorted(set(tp) | set(fp) | set(fn), key=str)
    per_type = {t: PRF(*_prf(tp[t], fp[t], fn[t]), support=tp[t] + fn[t]) for t in types}
    micro = PRF(*_prf(sum(tp.values()), sum(fp.values()), sum(fn.values())), support=sum((tp + fn).values()))
    if per_type:
        macro = PRF(*(sum(getattr(v, k) for v in per_type.values()) / len(per_type)
                      for k in ("precision", "recall", "f1")))
    else:
        macro = PRF(0.0, 0.0, 0.0)
    return TaskScores(micro, macro, per_type)


def document_tuples(entities: Sequence[tuple[int, int, str]], relations: Sequence[tuple[int, int, str]],
                    no_overlap: bool = False) -> tuple[set, set, set]:
    """NER, REL and REL+ tuples of one document.

    ``entities``: (start, end, type); ``relations``: (head, tail, type) indexing ``entities``.
    """
    ents = [tuple(e) for e in entities]
    rels = [(ents[h], ents[t], rt) for h, t, rt in relations]
    if no_overlap:
        ents, rels = remove_overlapping(ents, rels)
    ner = set(ents)
    rel = {(h[:2], t[:2], rt) for h, t, rt in rels}
    rel_plus = set(rels)
    return ner, rel, rel_plus


def gold_tuples(doc: Document, no_overlap: bool = False) -> tuple[set, set, set]:
    return document_tuples([(e.start, e.end, e.type) for e in doc.entities],
                           [(r.head, r.tail, r.type) for r in doc.relations], no_overlap)


def evaluate(gold: Sequence[Document], pred: Sequence[Document], no_overlap: bool = False) -> Metrics:
    """NER, REL and REL+ scores of predicted documents against gold ones."""
    g = [gold_tuples(d, no_overlap) for d in gold]
    p = [gold_tuples(d, no_overlap) for d in pred]
    return Metrics(*(score([x[i] for x in g], [x[i] for x in p]) for i in range(len(TASKS))))


def evaluate_predictions(gold: Sequence[Document], preds: Sequence[DocPrediction],
                         no_overlap: bool = False) -> tuple[Metrics, list[DocPrediction]]:
    """Score a model's predictions (made without ``no_overlap``) against gold; returns the scores and
    the predictions as they are output. With ``no_overlap`` the ADE rule applies in scoring, as in
    the reference evaluator (an entity overlapping another leaves NER, a relation leaves REL/REL+
    only when its head and tail overlap each other), and the predictions returned are cut to what
    ``spert predict --no-overlap`` outputs (:func:`~spert.data.predictions.drop_overlapping`); those
    given are left as they are. Scoring the cut predictions instead could count an entity the rule
    removes."""
    metrics = evaluate(gold, [p.to_document() for p in preds], no_overlap)
    return metrics, [drop_overlapping(p) for p in preds] if no_overlap else list(preds)
