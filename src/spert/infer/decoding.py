"""Running a model over documents: batching, pair scoring and decoding into documents.

Documents are sorted by length and batched with dynamic padding; results come back
in input order. Decoding follows the reference implementation: a span is an entity
when its argmax class is not "no entity" (score: that class's probability); a pair
gets every relation type whose probability is >= ``rel_filter_threshold``; for a
symmetric type the earlier-starting entity becomes the head and the duplicate
that results is dropped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from spert.model.batch import Batch, collate
from spert.data.documents import Document, Entity, Relation, spans_overlap
from spert.data.schema import RelationType
from spert.model.encoding import Encoding, encode_words_batch
from spert.errors import DataError
from spert.model.network import RawPrediction, SpERTModel
from spert.model.spans import inference_sample


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


def decode(raw: RawPrediction, batch: Batch, model: SpERTModel, tokens: Sequence[Sequence[str]],
           threshold: float, no_overlap: bool = False) -> list[DocPrediction]:
    """Turn a batch's kept spans and pair probabilities into one prediction per document."""
    schema = model.schema
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
        for d in preds:
            drop_overlapping(d)
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


def drop_overlapping(d: DocPrediction) -> None:
    """The ADE setting on a prediction, as the reference evaluator applies it: drop relations whose
    head and tail overlap each other, and entities that overlap another entity -- except the head
    and tail of a relation that stays. The reference keeps such a relation (and scores it in REL
    and REL+) although its entity is left out of NER; a record indexes its entities, so the
    entity stays in the output to keep the relation. Scores must be computed on the prediction
    before this step (``eval.metrics.evaluate(..., no_overlap=True)`` applies the rule itself)."""
    spans = [(e.start, e.end) for e in d.entities]
    rels = [r for r in d.relations if not spans_overlap(spans[r.head], spans[r.tail])]
    needed = {i for r in rels for i in (r.head, r.tail)}
    kept = [i for i, s in enumerate(spans)
            if i in needed or not any(j != i and spans_overlap(s, o) for j, o in enumerate(spans))]
    new_index = {old: new for new, old in enumerate(kept)}
    d.entities = [d.entities[i] for i in kept]
    d.relations = [ScoredRelation(r.type, new_index[r.head], new_index[r.tail], r.score) for r in rels]


def max_subwords(model: SpERTModel, tokenizer) -> int:
    """Longest sequence the encoder accepts, start and end tokens included."""
    limit = getattr(model.encoder.config, "max_position_embeddings", 512)
    tok_limit = getattr(tokenizer, "model_max_length", limit) or limit
    limit = min(limit, tok_limit) if tok_limit < 1_000_000 else limit
    if getattr(model.encoder.config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        limit = min(limit, getattr(model.encoder.config, "max_position_embeddings", 514) - 2)
    return int(limit)


def check_lengths(encodings: Sequence[Encoding], limit: int, path: Any = None) -> None:
    for i, e in enumerate(encodings):
        if len(e.input_ids) > limit:
            raise DataError(path, f"{len(e.input_ids)} subwords with start and end tokens; the encoder takes "
                            f"at most {limit}. Split the document into shorter sentences", doc=i, field="tokens")


def length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length (longest first)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    for i in range(0, len(order), batch_size):
        yield order[i:i + batch_size].tolist()


def predict_documents(model: SpERTModel, tokenizer, docs: Sequence[Sequence[str]], *, batch_size: int = 8,
                      threshold: float = 0.4, no_overlap: bool = False, device: str | torch.device = "cpu",
                      encodings: Sequence[Encoding] | None = None, path: Any = None,
                      progress: Iterable | None = None) -> list[DocPrediction]:
    """Predict entities and relations for word-tokenized documents, in input order."""
    was_training = model.training
    model.eval()
    if encodings is None:
        encodings = encode_words_batch(tokenizer, docs)
        check_lengths(encodings, max_subwords(model, tokenizer), path)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    out: list[DocPrediction | None] = [None] * len(docs)
    max_span = model.settings.max_span_size
    batches = list(length_batches([len(e.input_ids) for e in encodings], batch_size))
    sample = functools.lru_cache(maxsize=None)(lambda n: inference_sample(n, max_span))  # read-only, shared
    bar = progress(total=len(docs)) if progress is not None else None
    try:
        for ids in batches:
            encs = [encodings[i] for i in ids]
            batch = collate(encs, [sample(e.num_words) for e in encs], pad).to(device)
            raw = model.predict(batch)
            for i, p in zip(ids, decode(raw, batch, model, [docs[i] for i in ids], threshold, no_overlap)):
                out[i] = p
            if bar is not None:
                bar.update(len(ids))
    finally:
        if bar is not None:
            bar.close()
        model.train(was_training)
    return out  # type: ignore[return-value]
