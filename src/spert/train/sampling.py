"""Training samples (gold plus negative spans and pairs), exactly as the spec defines them.

Pure functions: the only randomness comes from the generator passed in. Training
draws per sentence, with a generator seeded by (seed, epoch, document index), so
the samples a document gets do not depend on batch size, data order, the number
of processes or on resuming.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from spert.data.documents import Document
from spert.errors import DataError
from spert.model.spans import MAX_WIDTH_EMBEDDINGS, Sample, candidate_spans
from spert.data.schema import TypeSchema
from spert.model.settings import default_of
from spert.train.config import TrainConfig


def seeded_rng(seed: int, epoch: int, doc_index: int) -> np.random.Generator:
    """The generator for one document in one epoch, independent of everything else."""
    return np.random.default_rng([seed, epoch, doc_index])


def gold_spans(doc: Document) -> np.ndarray:
    """The document's entity spans, in its order: (E, 2)."""
    return np.array([e.span for e in doc.entities], dtype=np.int64).reshape(-1, 2)


def training_sample(doc: Document, schema: TypeSchema, rng: np.random.Generator, *,
                    neg_entity_count: int = default_of(TrainConfig, "neg_entity_count"),
                    neg_relation_count: int = default_of(TrainConfig, "neg_relation_count"),
                    max_span_size: int = default_of(TrainConfig, "max_span_size"),
                    negatives: Literal["strong", "weak"] = default_of(TrainConfig, "negatives"),
                    doc_index: int | None = None) -> Sample:
    """Gold entities plus random negative spans; gold relation pairs plus negative pairs (counts and
    span limit: :class:`~spert.train.config.TrainConfig`'s, by default)."""
    n_rel = schema.num_relation_types
    gold = gold_spans(doc)  # (E, 2)
    gold_labels = np.array([schema.entity_class(e.type) for e in doc.entities], dtype=np.int64)
    widths = gold[:, 1] - gold[:, 0]
    if len(widths) and widths.max() >= MAX_WIDTH_EMBEDDINGS:
        i = int(widths.argmax())
        raise DataError(None, f"entity of {widths[i]} words; at most {MAX_WIDTH_EMBEDDINGS - 1} are supported",
                        doc=doc_index, field=f"entities[{i}]")

    # Negative entities: candidate spans that are no gold span, drawn without replacement.
    cands = candidate_spans(len(doc.tokens), max_span_size)
    gold_set = {tuple(s) for s in gold.tolist()}
    is_neg = np.array([tuple(s) not in gold_set for s in cands.tolist()], dtype=bool)
    neg = cands[is_neg] if len(cands) else cands
    k = min(len(neg), neg_entity_count)
    neg = neg[rng.choice(len(neg), size=k, replace=False)] if k else neg[:0]
    spans = np.concatenate([gold, neg], axis=0)
    labels = np.concatenate([gold_labels, np.zeros(len(neg), dtype=np.int64)])

    # Positive relations: one sample per ordered entity pair, multi-hot over types.
    pos: dict[tuple[int, int], np.ndarray] = {}
    for r in doc.relations:
        target = pos.setdefault((r.head, r.tail), np.zeros(n_rel, dtype=np.float32))
        target[schema.relation_index(r.type)] = 1.0
    pos_span_pairs = {(tuple(gold[h]), tuple(gold[t])) for h, t in pos}

    # Negative relations: ordered pairs of distinct spans with no relation in that
    # direction; "strong" pairs gold entities only, "weak" all entity samples.
    pool = len(gold) if negatives == "strong" else len(spans)
    span_tuples = [tuple(s) for s in spans.tolist()]
    neg_pairs = [(i, j) for i in range(pool) for j in range(pool)
                 if span_tuples[i] != span_tuples[j] and (span_tuples[i], span_tuples[j]) not in pos_span_pairs]
    k = min(len(neg_pairs), neg_relation_count)
    chosen = [neg_pairs[i] for i in rng.choice(len(neg_pairs), size=k, replace=False)] if k else []

    pairs = np.array(list(pos) + chosen, dtype=np.int64).reshape(-1, 2)
    rel_labels = np.zeros((len(pairs), n_rel), dtype=np.float32)
    if pos:
        rel_labels[: len(pos)] = np.stack(list(pos.values()))
    return Sample(spans, labels, pairs, rel_labels)


def cross_sentence_negatives(samples: Sequence[Sample], num_words: Sequence[int], count: int,
                             rng: np.random.Generator) -> np.ndarray:
    """Relation negatives across sentences (``neg_cross_sentence_count``): up to ``count`` ordered
    pairs of gold entities of two neighbouring documents of a batch (b, b + 1), in either direction,
    as indices into the batch's spans (the order :func:`spert.model.batch.collate` concatenates
    them in): (K, 2). In sentence-level data they are unrelated by construction.

    Their localized context (:meth:`spert.model.network.SpERTModel.classify_pairs`) is the words
    after the head to its sentence's end, or where the head ends its sentence the words of the
    tail's sentence before the tail: never empty, so these negatives cannot teach that an empty
    context means no relation (adjacent entities of one sentence have one and are often related).
    A pair with both empty (the head ends its sentence and the tail starts its own) is not drawn."""
    if count <= 0 or len(samples) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(s.spans) for s in samples])])
    out = []
    for b in range(len(samples) - 1):
        ents = [[(int(offsets[d] + i), s.spans[i]) for i in np.flatnonzero(s.entity_labels > 0)]
                for d, s in ((b, samples[b]), (b + 1, samples[b + 1]))]
        sizes = (num_words[b], num_words[b + 1])
        cands = [(h, t) for side in (0, 1) for h, hs in ents[side] for t, ts in ents[1 - side]
                 if hs[1] < sizes[side] or ts[0] > 0]  # a context on one side at least
        k = min(count, len(cands))
        if k:
            out += [cands[i] for i in sorted(rng.choice(len(cands), size=k, replace=False))]
    return np.array(out, dtype=np.int64).reshape(-1, 2)


IGNORED = -100  # the entity label of a span only the distillation loss sees (torch's cross-entropy skips it)


def distillation_spans(sample: Sample, num_words: int, max_span_size: int, count: int,
                       rng: np.random.Generator) -> Sample:
    """``sample`` with up to ``count`` more candidate spans (``distill_spans``), drawn without
    replacement among those it does not hold, labelled :data:`IGNORED`: the gold loss skips them and
    the distillation loss takes the teacher's distribution over them. Its pairs are unchanged."""
    if count <= 0:
        return sample
    held = {tuple(s) for s in sample.spans.tolist()}
    cands = candidate_spans(num_words, max_span_size)
    free = cands[np.array([tuple(s) not in held for s in cands.tolist()], dtype=bool)] if len(cands) else cands
    k = min(count, len(free))
    if not k:
        return sample
    extra = free[np.sort(rng.choice(len(free), size=k, replace=False))]
    return _with_spans(sample, extra)


def teacher_pairs(sample: Sample, kept: np.ndarray, count: int, rng: np.random.Generator) -> tuple[Sample, np.ndarray]:
    """Pairs of the spans the teacher would keep (``kept``: (E, 2) word spans it classifies as entities):
    up to ``count`` ordered pairs of two of them that ``sample`` has no pair of, drawn without
    replacement (``distill_teacher_pairs``). Returns the sample with the kept spans it lacked appended
    (labelled :data:`IGNORED`) and the pairs as indices into its spans: (K, 2), for the distillation
    loss alone."""
    none = np.zeros((0, 2), dtype=np.int64)
    if count <= 0 or len(kept) < 2:
        return sample, none
    held = {tuple(s): i for i, s in enumerate(sample.spans.tolist())}
    missing = np.array([s for s in kept.tolist() if tuple(s) not in held], dtype=np.int64).reshape(-1, 2)
    out = _with_spans(sample, missing) if len(missing) else sample
    index = {tuple(s): i for i, s in enumerate(out.spans.tolist())}
    ids = [index[tuple(s)] for s in kept.tolist()]
    sampled = {(int(h), int(t)) for h, t in sample.pairs.tolist()}
    cands = [(h, t) for h in ids for t in ids if h != t and (h, t) not in sampled]
    k = min(count, len(cands))
    if not k:
        return out, none
    return out, np.array([cands[i] for i in np.sort(rng.choice(len(cands), size=k, replace=False))], dtype=np.int64)


def _with_spans(sample: Sample, extra: np.ndarray) -> Sample:
    labels = None if sample.entity_labels is None else \
        np.concatenate([sample.entity_labels, np.full(len(extra), IGNORED, dtype=np.int64)])
    return Sample(np.concatenate([sample.spans, extra.astype(np.int64)]), labels, sample.pairs, sample.rel_labels)
