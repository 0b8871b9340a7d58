"""Decoding a model's outputs into scored entities and relations (:mod:`spert.data.predictions`).

Decoding follows the reference implementation: a span is an entity when its argmax class is
not "no entity" (score: that class's probability); a pair gets every relation type whose
probability is >= the relation threshold; for a symmetric type the earlier-starting entity
becomes the head and the duplicate that results is dropped (:func:`add_relation`, which the
windows of long sentences share). The ADE setting on a prediction (``--no-overlap``),
:func:`~spert.data.predictions.drop_overlapping`, lives with the records, so scoring
(``spert.eval``) applies it without importing this module.

Torch-free at import: the model's outputs arrive as tensors and are read as NumPy arrays. Running a
model over documents is :mod:`spert.infer.runner`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from spert.data.predictions import DocPrediction, ScoredEntity, ScoredRelation, drop_overlapping
from spert.data.schema import RelationType, TypeSchema

if TYPE_CHECKING:  # torch types, only named in annotations
    from spert.model.batch import Batch
    from spert.model.network import RawPrediction


def decode(raw: RawPrediction, batch: Batch, schema: TypeSchema, tokens: Sequence[Sequence[str]],
           threshold: float, no_overlap: bool = False) -> list[DocPrediction]:
    """Turn a batch's kept spans and pair probabilities into one prediction per document."""
    span_doc = batch.span_doc.cpu().numpy()
    start = (batch.span_start - batch.word_offset[batch.span_doc]).cpu().numpy()
    end = (batch.span_end - batch.word_offset[batch.span_doc]).cpu().numpy()
    idx, klass, score = raw.span_index.cpu().numpy(), raw.span_class.cpu().numpy(), raw.span_score.cpu().numpy()

    preds = [DocPrediction(tuple(t)) for t in tokens]
    slot: dict[int, int] = {}  # candidate span index -> entity index in its document
    order = np.lexsort((end[idx], start[idx], span_doc[idx]))  # entities sorted by position
    for k in order:
        s = int(idx[k])
        d = preds[span_doc[s]]
        slot[s] = len(d.entities)
        d.entities.append(ScoredEntity(schema.entities[klass[k] - 1].name, int(start[s]), int(end[s]),
                                       float(score[k])))

    probs = raw.rel_probs.cpu().numpy()
    hits = np.argwhere(probs >= threshold)  # (M, 2): pair, type
    heads, tails = raw.pair_head.cpu().numpy(), raw.pair_tail.cpu().numpy()
    best: list[dict[tuple[int, int, str], float]] = [dict() for _ in preds]
    for p, r in hits:
        h, t = int(heads[p]), int(tails[p])
        add_relation(best[span_doc[h]], slot[h], slot[t], schema.relations[r], start[h], start[t], float(probs[p, r]))
    for d, rels in zip(preds, best):
        d.relations = [ScoredRelation(rt, h, t, s) for (h, t, rt), s in sorted(rels.items())]
    if no_overlap:
        preds = [drop_overlapping(d) for d in preds]
    return preds


def add_relation(found: dict[tuple[int, int, str], float], head: int, tail: int, rtype: RelationType,
                 head_start: int, tail_start: int, score: float) -> None:
    """Record a relation above the threshold in ``found`` ((head, tail, type) -> score): for a
    symmetric type the earlier-starting entity becomes the head, and of a pair predicted in
    both directions the higher score is kept."""
    if rtype.symmetric and tail_start < head_start:
        head, tail = tail, head
    key = (head, tail, rtype.name)
    found[key] = max(found.get(key, 0.0), score)
