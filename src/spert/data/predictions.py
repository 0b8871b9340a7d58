"""What decoding a model's outputs gives: scored entities and relations per word-tokenized document,
and the ADE setting on it (:func:`drop_overlapping`, ``--no-overlap``).

Torch-free and below both ``infer`` (which decodes into these records) and ``eval`` (which scores
them), so that scoring and the training loop's outputs depend on these records and not on the
model. ``predictions.json`` holds one :meth:`DocPrediction.to_json` per document;
:meth:`DocPrediction.from_json` reads it back. Records with character offsets (what ``spert
predict`` and the API return) are :class:`spert.data.records.Prediction`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spert.data.documents import Document, Entity, Relation, spans_overlap


@dataclass(frozen=True, slots=True)
class ScoredEntity:
    type: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class ScoredRelation:
    type: str
    head: int  # index into the document's predicted entities
    tail: int
    score: float


@dataclass
class DocPrediction:
    tokens: tuple[str, ...]
    entities: list[ScoredEntity] = field(default_factory=list)
    relations: list[ScoredRelation] = field(default_factory=list)

    def to_document(self) -> Document:
        return Document(self.tokens, tuple(Entity(e.type, e.start, e.end) for e in self.entities),
                        tuple(Relation(r.type, r.head, r.tail) for r in self.relations))

    def to_json(self) -> dict[str, Any]:
        return {
            "tokens": list(self.tokens),
            "entities": [{"type": e.type, "start": e.start, "end": e.end, "score": round(e.score, 6)}
                         for e in self.entities],
            "relations": [{"type": r.type, "head": r.head, "tail": r.tail, "score": round(r.score, 6)}
                          for r in self.relations],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "DocPrediction":
        """Read :meth:`to_json` output (a missing score reads as NaN)."""
        return cls(tuple(obj["tokens"]),
                   [ScoredEntity(e["type"], e["start"], e["end"], e.get("score", float("nan")))
                    for e in obj["entities"]],
                   [ScoredRelation(r["type"], r["head"], r["tail"], r.get("score", float("nan")))
                    for r in obj["relations"]])


def drop_overlapping(d: DocPrediction) -> DocPrediction:
    """The ADE setting on a prediction, as the reference evaluator applies it: a new prediction
    without the relations whose head and tail overlap each other, and without the entities that
    overlap another entity -- except the head and tail of a relation that stays. The reference
    keeps such a relation (and scores it in REL and REL+) although its entity is left out of NER;
    a record indexes its entities, so the entity stays in the output to keep the relation. Scores
    must be computed on the prediction before this step (``eval.metrics.evaluate(...,
    no_overlap=True)`` applies the rule itself)."""
    spans = [(e.start, e.end) for e in d.entities]
    rels = [r for r in d.relations if not spans_overlap(spans[r.head], spans[r.tail])]
    needed = {i for r in rels for i in (r.head, r.tail)}
    kept = [i for i, s in enumerate(spans)
            if i in needed or not any(j != i and spans_overlap(s, o) for j, o in enumerate(spans))]
    new_index = {old: new for new, old in enumerate(kept)}
    return DocPrediction(d.tokens, [d.entities[i] for i in kept],
                         [ScoredRelation(r.type, new_index[r.head], new_index[r.tail], r.score) for r in rels])
