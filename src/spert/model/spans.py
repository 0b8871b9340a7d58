"""Candidate spans, the model's unit of input ("suggester" in spaCy's words).

A document's candidates are every word span up to ``max_span_size`` words; a
:class:`Sample` is the spans and pairs of one document that a batch carries, with
labels in training (see ``spert.train.sampling``) and without at inference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def inference_sample(num_words: int, max_span_size: int) -> Sample:
    """Every candidate span; pairs are built after entity filtering."""
    return Sample(candidate_spans(num_words, max_span_size), None, np.zeros((0, 2), dtype=np.int64), None)
