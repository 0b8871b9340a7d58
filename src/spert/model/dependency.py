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

import torch

from spert.model.settings import PoolingMode


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
