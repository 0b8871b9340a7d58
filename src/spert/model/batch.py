"""Collating documents into one flat ("ragged") batch.

Spans and pairs of all documents are concatenated rather than padded per document,
so no work is spent on padding samples and the loss is a plain mean over the
batch's samples (what the reference implementation's masked mean computes).
Word positions are global over the batch: word ``w`` of document ``b`` is
``word_offset[b] + w``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from spert.data.syntax import depths
from spert.model.encoding import Encoding
from spert.model.spans import Sample


@dataclass
class Batch:
    """B documents, T subwords, N words, S spans, P pairs, R relation types."""

    input_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, T)
    token_word: torch.Tensor  # (B, T) global word index; N for start/end/padding tokens
    word_offset: torch.Tensor  # (B,) global index of each document's first word
    num_words: torch.Tensor  # (B,)
    span_doc: torch.Tensor  # (S,) document of each span
    span_start: torch.Tensor  # (S,) global word index
    span_end: torch.Tensor  # (S,) global word index, exclusive
    pair_head: torch.Tensor  # (P,) index into the spans
    pair_tail: torch.Tensor  # (P,)
    word_parent: torch.Tensor | None = None  # (N,) global index of each word's dependency head (context syntax)
    word_depth: torch.Tensor | None = None  # (N,) its distance from its root
    entity_labels: torch.Tensor | None = None  # (S,)
    rel_labels: torch.Tensor | None = None  # (P, R)
    cross_sentence: bool = False  # some pairs join spans of two documents (add_negative_pairs)
    distill_pairs: int = 0  # the last pairs are for the distillation loss alone (add_distillation_pairs)

    def to(self, device: torch.device | str) -> "Batch":
        for name, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.to(device, non_blocking=True))
        return self


def collate(encodings: Sequence[Encoding], samples: Sequence[Sample], pad_id: int) -> Batch:
    B = len(encodings)
    T = max(len(e.input_ids) for e in encodings)
    input_ids = np.full((B, T), pad_id, dtype=np.int64)
    mask = np.zeros((B, T), dtype=np.int64)
    num_words = np.array([e.num_words for e in encodings], dtype=np.int64)
    word_offset = np.concatenate([[0], np.cumsum(num_words)[:-1]]).astype(np.int64)
    N = int(num_words.sum())
    token_word = np.full((B, T), N, dtype=np.int64)
    for b, e in enumerate(encodings):
        input_ids[b, : len(e.input_ids)] = e.input_ids
        mask[b, : len(e.input_ids)] = 1
        # word index of every subword: repeat each word index by its subword count
        counts = np.asarray(e.word_end) - np.asarray(e.word_start)
        token_word[b, e.word_start[0]: e.word_end[-1]] = word_offset[b] + np.repeat(np.arange(e.num_words), counts)

    span_counts = np.array([len(s.spans) for s in samples], dtype=np.int64)
    span_offset = np.concatenate([[0], np.cumsum(span_counts)]).astype(np.int64)
    spans = np.concatenate([s.spans + word_offset[b] for b, s in enumerate(samples)], axis=0)
    span_doc = np.repeat(np.arange(B), span_counts)
    pairs = np.concatenate([s.pairs + span_offset[b] for b, s in enumerate(samples)], axis=0).reshape(-1, 2)

    batch = Batch(
        input_ids=torch.from_numpy(input_ids),
        attention_mask=torch.from_numpy(mask),
        token_word=torch.from_numpy(token_word),
        word_offset=torch.from_numpy(word_offset),
        num_words=torch.from_numpy(num_words),
        span_doc=torch.from_numpy(span_doc),
        span_start=torch.from_numpy(np.ascontiguousarray(spans[:, 0])),
        span_end=torch.from_numpy(np.ascontiguousarray(spans[:, 1])),
        pair_head=torch.from_numpy(np.ascontiguousarray(pairs[:, 0])),
        pair_tail=torch.from_numpy(np.ascontiguousarray(pairs[:, 1])),
    )
    if encodings and all(e.heads is not None for e in encodings):  # the forest of the batch's trees
        batch.word_parent = torch.from_numpy(np.concatenate(
            [np.asarray(e.heads, dtype=np.int64) + word_offset[b] for b, e in enumerate(encodings)] + [np.zeros(0, np.int64)]))
        batch.word_depth = torch.tensor([d for e in encodings for d in depths(e.heads)], dtype=torch.int64)  # type: ignore[arg-type]
    if all(s.entity_labels is not None for s in samples):
        batch.entity_labels = torch.from_numpy(np.concatenate([s.entity_labels for s in samples]))
    if all(s.rel_labels is not None for s in samples):
        R = samples[0].rel_labels.shape[1]
        batch.rel_labels = torch.from_numpy(np.concatenate([s.rel_labels.reshape(len(s.pairs), R) for s in samples]))
    return batch


def add_negative_pairs(batch: Batch, pairs: np.ndarray) -> Batch:
    """Append relation negatives (K, 2) (indices into the batch's spans, any documents) with all-zero
    labels; the batch says it holds pairs across documents."""
    if len(pairs) == 0:
        return batch
    if batch.distill_pairs:
        raise ValueError("negatives go before the pairs for distillation alone")
    _append_pairs(batch, pairs)
    batch.cross_sentence = True
    return batch


def add_distillation_pairs(batch: Batch, pairs: np.ndarray) -> Batch:
    """Append pairs (K, 2) (indices into the batch's spans) that only a distillation loss sees: the
    gold relation loss leaves out the batch's last ``distill_pairs`` pairs."""
    if len(pairs):
        _append_pairs(batch, pairs)
        batch.distill_pairs += len(pairs)
    return batch


def _append_pairs(batch: Batch, pairs: np.ndarray) -> None:
    extra = torch.from_numpy(np.ascontiguousarray(pairs, dtype=np.int64))
    batch.pair_head = torch.cat([batch.pair_head, extra[:, 0].to(batch.pair_head.device)])
    batch.pair_tail = torch.cat([batch.pair_tail, extra[:, 1].to(batch.pair_tail.device)])
    if batch.rel_labels is not None:
        zeros = batch.rel_labels.new_zeros(len(pairs), batch.rel_labels.shape[1])
        batch.rel_labels = torch.cat([batch.rel_labels, zeros])
