"""The syntactic relation context, batched: dependency paths between span pairs, and their pooling.

:mod:`spert.data.syntax` defines the context one pair at a time in plain Python (the reference);
this module computes it for every pair of a batch at once, on the batch's device, and is held
equal to the reference by tests. Words are global over the batch (``spert.model.batch``): a
batch's trees are one forest, ``parent`` (N,) holding each word's head (a root: itself) and
``depth`` (N,) its distance from the root.

Shape letters: N words, Q pairs (queries), M path words of all pairs together, H hidden size,
K the widest span.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from typing import Any, Sequence

import torch

from spert.data.syntax import parse_words
from spert.errors import CheckpointError, SpertError
from spert.model.encoding import Encoding
from spert.model.settings import PoolingMode

log = logging.getLogger(__name__)


def span_heads(depth: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Each span's word nearest the root, the first of them on a tie: (Q,) from (Q,) starts and ends."""
    K = int((end - start).max()) if len(start) else 1
    offset = torch.arange(K, device=start.device)  # (K,)
    words = start.unsqueeze(1) + offset  # (Q, K)
    inside = words < end.unsqueeze(1)  # (Q, K)
    d = depth[words.clamp(max=len(depth) - 1)].masked_fill(~inside, torch.iinfo(depth.dtype).max)  # (Q, K)
    return start + d.argmin(dim=1)  # argmin gives the first of equal minima


def path_words(parent: torch.Tensor, depth: torch.Tensor, a: torch.Tensor,
               b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The words on the path between words ``a`` and ``b`` of each query, ends included, as
    (query, word) pairs (M,), (M,); each word once per query."""
    Q = len(a)
    query = [torch.arange(Q, device=a.device)] * 2
    word = [a, b]
    while True:
        apart = a != b  # (Q,)
        if not bool(apart.any()):
            break
        da, db = depth[a], depth[b]
        up_a, up_b = apart & (da >= db), apart & (db >= da)  # the deeper climbs; at equal depth both
        a = torch.where(up_a, parent[a], a)
        b = torch.where(up_b, parent[b], b)
        query += [up_a.nonzero().squeeze(1), up_b.nonzero().squeeze(1)]
        word += [a[up_a], b[up_b]]
    q, w = torch.cat(query), torch.cat(word)
    key = torch.unique(q * len(parent) + w)  # each (query, word) once (both climbers land on the meeting word)
    return key // len(parent), key % len(parent)


def syntax_context(parent: torch.Tensor, depth: torch.Tensor, s1: torch.Tensor, e1: torch.Tensor,
                   s2: torch.Tensor, e2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per pair, the words on the path between the two spans' heads that are in neither span, as
    (query, word) pairs (M,), (M,) sorted by query, then word."""
    q, w = path_words(parent, depth, span_heads(depth, s1, e1), span_heads(depth, s2, e2))
    outside = ~(((w >= s1[q]) & (w < e1[q])) | ((w >= s2[q]) & (w < e2[q])))  # (M,)
    return q[outside], w[outside]


def pool_words(x: torch.Tensor, query: torch.Tensor, word: torch.Tensor, num_queries: int,
               mode: PoolingMode) -> torch.Tensor:
    """Pool word states ``x`` (N, H) over each query's words: (Q, H); a query with no word pools to zero."""
    H = x.shape[-1]
    picked = x[word]  # (M, H)
    index = query.unsqueeze(1).expand(-1, H)  # (M, H)
    if mode == "max":
        out = x.new_full((num_queries, H), float("-inf")).scatter_reduce(0, index, picked, "amax", include_self=True)
        return torch.where(torch.isinf(out), torch.zeros_like(out), out)
    out = x.new_zeros(num_queries, H).index_add(0, query, picked)  # (Q, H)
    if mode == "mean":
        count = torch.bincount(query, minlength=num_queries).clamp(min=1).to(x.dtype)  # (Q,)
        out = out / count.unsqueeze(1)
    return out


class WordSetPooler:
    """The relation context of ``context: syntax``: ranges pool as the span pooler does (the
    localized part of localized+syntax), word sets (dependency paths) over the words' states."""

    def __init__(self, ranges: Any, word_states: torch.Tensor, mode: PoolingMode) -> None:
        self.ranges, self.x, self.mode = ranges, word_states, mode  # x: (N, H)

    def pool(self, doc: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return self.ranges.pool(doc, left, right)

    def pool_words(self, query: torch.Tensor, word: torch.Tensor, num_queries: int) -> torch.Tensor:
        return pool_words(self.x, query, word, num_queries, self.mode)


# -- the parser -----------------------------------------------------------------------------------

_PARSER_PARTS = ("tok2vec", "transformer", "parser")  # what a pipeline's parser reads; the rest is not run


@functools.lru_cache(maxsize=4)
def load_parser(name: str) -> Any:
    """An installed spaCy pipeline, with only its parser and what the parser listens to enabled."""
    try:
        import spacy

        nlp = spacy.load(name)
    except (OSError, ImportError) as e:
        raise SpertError(f"syntax_model {name!r}: spaCy cannot load it ({str(e).splitlines()[0]}); install the "
                         "pipeline (a package or a directory) that the model was trained with") from None
    nlp.select_pipes(enable=[p for p in nlp.pipe_names if p in _PARSER_PARTS])
    return nlp


def parser_version(name: str) -> str:
    """The pipeline's version (its meta.json), recorded with a model that reads its parses."""
    return str(load_parser(name).meta.get("version", "unknown"))


def check_parser(name: str, version: str | None, where: object) -> None:
    """A model directory's parser is installed (else one line naming both); another version only warns."""
    try:
        installed = parser_version(name)
    except SpertError as e:
        raise CheckpointError(f"{where}: the model reads dependency parses of spaCy pipeline {name!r}"
                              f"{f' {version}' if version else ''}, which cannot be loaded here: {e}") from None
    if version and installed != version:
        log.warning("%s: the model was trained with %s %s, %s is installed; parses, and so relations, may differ",
                    where, name, version, installed)


def with_heads(encodings: Sequence[Encoding], sentences: Sequence[Sequence[str]],
               syntax_model: str | None) -> list[Encoding]:
    """The encodings with each sentence's dependency tree over its words (``syntax_model``'s parser,
    once per sentence); unchanged when the model reads none."""
    if syntax_model is None:
        return list(encodings)
    trees = parse_words(load_parser(syntax_model), sentences)
    return [replace(e, heads=t) for e, t in zip(encodings, trees)]
