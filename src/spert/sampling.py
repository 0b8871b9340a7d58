"""Span candidates and training samples, exactly as the spec defines them.

Pure functions: the only randomness comes from the generator passed in. Training
draws per sentence, with a generator seeded by (seed, epoch, document index), so
the samples a document gets do not depend on batch size, data order, the number
of processes or on resuming.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .data import Document
from .errors import DataError
from .schema import TypeSchema

MAX_WIDTH_EMBEDDINGS = 100  # rows of the width embedding table; widths 0..99 words


@dataclass(frozen=True, slots=True)
class Sample:
    """Entity and relation samples of one document (word spans, local indices).

    S spans, P pairs, R relation types.
    """

    spans: np.ndarray  # (S, 2) int64 word [start, end)
    entity_labels: np.ndarray | None  # (S,) int64 class index, 0 = no entity
    pairs: np.ndarray  # (P, 2) int64 indices into ``spans`` (head, tail)
    rel_labels: np.ndarray | None  # (P, R) float32 multi-hot, all zero for negatives


def candidate_spans(num_words: int, max_span_size: int) -> np.ndarray:
    """All word spans of width 1..max_span_size, ordered by width then start: (S, 2)."""
    out = []
    for width in range(1, min(max_span_size, num_words) + 1):
        starts = np.arange(0, num_words - width + 1, dtype=np.int64)
        out.append(np.stack([starts, starts + width], axis=1))
    if not out:
        return np.zeros((0, 2), dtype=np.int64)
    return np.concatenate(out, axis=0)


def seeded_rng(seed: int, epoch: int, doc_index: int) -> np.random.Generator:
    """The generator for one document in one epoch, independent of everything else."""
    return np.random.default_rng([seed, epoch, doc_index])


def training_sample(doc: Document, schema: TypeSchema, rng: np.random.Generator, *,
                    neg_entity_count: int = 100, neg_relation_count: int = 100,
                    max_span_size: int = 10, negatives: Literal["strong", "weak"] = "strong",
                    doc_index: int | None = None) -> Sample:
    """Gold entities plus random negative spans; gold relation pairs plus negative pairs."""
    n_rel = schema.num_relation_types
    gold_spans = np.array([e.span for e in doc.entities], dtype=np.int64).reshape(-1, 2)
    gold_labels = np.array([schema.entity_class(e.type) for e in doc.entities], dtype=np.int64)
    widths = gold_spans[:, 1] - gold_spans[:, 0]
    if len(widths) and widths.max() >= MAX_WIDTH_EMBEDDINGS:
        i = int(widths.argmax())
        raise DataError(None, f"entity of {widths[i]} words; at most {MAX_WIDTH_EMBEDDINGS - 1} are supported",
                        doc=doc_index, field=f"entities[{i}]")

    # Negative entities: candidate spans that are no gold span, drawn without replacement.
    cands = candidate_spans(len(doc.tokens), max_span_size)
    gold_set = {tuple(s) for s in gold_spans.tolist()}
    is_neg = np.array([tuple(s) not in gold_set for s in cands.tolist()], dtype=bool)
    neg = cands[is_neg] if len(cands) else cands
    k = min(len(neg), neg_entity_count)
    neg = neg[rng.choice(len(neg), size=k, replace=False)] if k else neg[:0]
    spans = np.concatenate([gold_spans, neg], axis=0)
    labels = np.concatenate([gold_labels, np.zeros(len(neg), dtype=np.int64)])

    # Positive relations: one sample per ordered entity pair, multi-hot over types.
    pos: dict[tuple[int, int], np.ndarray] = {}
    for r in doc.relations:
        target = pos.setdefault((r.head, r.tail), np.zeros(n_rel, dtype=np.float32))
        target[schema.relation_index(r.type)] = 1.0
    pos_span_pairs = {(tuple(gold_spans[h]), tuple(gold_spans[t])) for h, t in pos}

    # Negative relations: ordered pairs of distinct spans with no relation in that
    # direction; "strong" pairs gold entities only, "weak" all entity samples.
    pool = len(gold_spans) if negatives == "strong" else len(spans)
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


def inference_sample(num_words: int, max_span_size: int) -> Sample:
    """Every candidate span; pairs are built after entity filtering."""
    return Sample(candidate_spans(num_words, max_span_size), None, np.zeros((0, 2), dtype=np.int64), None)
