"""Span and context pooling over subword states.

Shape letters: B documents, T subwords, N words (global over the batch), Q queries,
H hidden, K levels of the range table.

The lean poolers never build a (queries x subwords x hidden) tensor. They pool each
word's subwords once (N x H), then answer "pool over words [l, r)" queries:

* max: a sparse table of maxima over power-of-two word ranges (K x N x H with
  K = floor(log2(longest range)) + 1); a range is the maximum of two overlapping
  table rows. Max is idempotent, so the overlap changes nothing, and the result is
  bit-identical to a direct max over the range's subwords.
* sum / mean: float64 prefix sums over words; a range is a difference of two rows.

A range that is empty (r <= l) pools to the zero vector, as in the reference
implementation. :class:`AttentionPooler` is not the spec's: a learned relation context
(``context_pooling: attention``), a softmax over the range's words of a learned score of
each word, weighting the words' states. :class:`NaivePooler` is the direct implementation of the spec
(a masked max over every subword, as the authors' code does); tests require equal
outputs and gradients, and the benchmark measures both.
"""

from __future__ import annotations

from typing import Literal, Protocol

import torch

from spert.model.settings import PoolingMode



class Pooler(Protocol):
    def pool(self, doc: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """Pool words [left, right) (global word indices) of document ``doc``: (Q,) x3 -> (Q, H)."""


def _word_states(h: torch.Tensor, token_word: torch.Tensor, num_words: int, reduce: str) -> torch.Tensor:
    """Reduce each word's subword states: (B, T, H) -> (N, H). Start/end/padding go to a dropped row."""
    H = h.shape[-1]
    flat = h.reshape(-1, H)  # (B*T, H)
    index = token_word.reshape(-1, 1).expand(-1, H)  # (B*T, H)
    out = flat.new_zeros(num_words + 1, H).scatter_reduce(0, index, flat, reduce=reduce, include_self=False)
    return out[:num_words]  # (N, H)


def _floor_log2(n: torch.Tensor) -> torch.Tensor:
    """floor(log2(n)) for positive integers n (exact: frexp reads the float exponent)."""
    return torch.frexp(n.to(torch.float64)).exponent.to(torch.long) - 1


class RangeMaxPooler:
    """Max over word ranges from a sparse table of per-word maxima."""

    def __init__(self, h: torch.Tensor, token_word: torch.Tensor, num_words: int, longest: int) -> None:
        x = _word_states(h, token_word, num_words, "amax")  # (N, H)
        N, longest = num_words, max(longest, 1)
        K = longest.bit_length()  # levels 0..K-1: floor(log2(longest)) + 1 of them
        if torch.is_grad_enabled():
            levels = [x]
            for k in range(1, K):
                prev, step = levels[-1], 1 << (k - 1)
                # level k holds max over [i, i + 2^k); the tail beyond the last full window is never read
                levels.append(torch.cat([torch.maximum(prev[:-step], prev[step:]), prev[-step:]], dim=0))
            self.table = torch.cat(levels, dim=0)  # (K*N, H)
        else:
            # the same table, written in place: no autograd to serve, so no intermediate copies
            self.table = x.new_empty(K * N, x.shape[-1])  # (K*N, H)
            self.table[:N] = x
            for k in range(1, K):
                prev, cur, step = self.table[(k - 1) * N:k * N], self.table[k * N:(k + 1) * N], 1 << (k - 1)
                torch.maximum(prev[:-step], prev[step:], out=cur[:-step])
                cur[-step:] = prev[-step:]
        self.num_words = N
        # Per range length n (0..longest): the first row of its level, floor(log2 n) * N, and the
        # distance n - 2^floor(log2 n) from the first window to the second; both 0 for n = 0.
        n = torch.arange(longest + 1, device=x.device)
        k = _floor_log2(n.clamp(min=1))
        self.level_row = k * N  # (longest+1,)
        self.second_offset = (n - (torch.ones_like(k) << k)).clamp(min=0)  # (longest+1,)

    def pool(self, doc: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        length = right - left
        empty = length <= 0
        n = length.clamp(min=0)
        lo = self.level_row[n] + torch.where(empty, 0, left)  # empty ranges read row 0, masked below
        hi = lo + self.second_offset[n]
        # index_select, not table[lo]: the same rows, several times faster on the CPU
        out = self.table.index_select(0, lo)  # (Q, H)
        if torch.is_grad_enabled():
            out = torch.maximum(out, self.table.index_select(0, hi))
        else:
            torch.maximum(out, self.table.index_select(0, hi), out=out)
        # On the CPU a check is cheaper than masking (S, H) rows; on a GPU it would cost a sync.
        if out.device.type != "cpu" or bool(empty.any()):
            out = out.masked_fill(empty.unsqueeze(-1), 0.0)
        return out


class RangeSumPooler:
    """Sum or mean over word ranges from float64 prefix sums of per-word sums."""

    def __init__(self, h: torch.Tensor, token_word: torch.Tensor, num_words: int, mean: bool) -> None:
        x = _word_states(h, token_word, num_words, "sum")  # (N, H)
        zero = x.new_zeros(1, x.shape[-1], dtype=torch.float64)
        self.prefix = torch.cat([zero, x.to(torch.float64).cumsum(0)], dim=0)  # (N+1, H)
        self.dtype = h.dtype
        self.mean = mean
        if mean:
            counts = torch.bincount(token_word.reshape(-1), minlength=num_words + 1)[:num_words]  # (N,)
            self.count_prefix = torch.cat([counts.new_zeros(1), counts.cumsum(0)])  # (N+1,)

    def pool(self, doc: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        empty = right <= left
        lo, hi = torch.where(empty, 0, left), torch.where(empty, 0, right)
        out = self.prefix[hi] - self.prefix[lo]  # (Q, H)
        if self.mean:
            n = (self.count_prefix[hi] - self.count_prefix[lo]).clamp(min=1)
            out = out / n.unsqueeze(-1)
        return out.to(self.dtype).masked_fill(empty.unsqueeze(-1), 0.0)


class NaivePooler:
    """The spec taken literally: a masked reduction over all T subwords per query.

    Builds a (Q, T, H) tensor, as the reference implementation does. Kept as the
    reference for tests and the benchmark, never used by default.
    """

    def __init__(self, h: torch.Tensor, token_word: torch.Tensor, mode: PoolingMode) -> None:
        self.h, self.token_word, self.mode = h, token_word, mode

    def pool(self, doc: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        tw = self.token_word[doc]  # (Q, T)
        mask = (tw >= left.unsqueeze(1)) & (tw < right.unsqueeze(1))  # (Q, T)
        h = self.h[doc]  # (Q, T, H)
        m = mask.unsqueeze(-1).to(h.dtype)
        if self.mode == "max":
            out = (h + (1.0 - m) * -1e30).max(dim=1)[0]  # (Q, H)
        else:
            out = (h * m).sum(dim=1)
            if self.mode == "mean":
                out = out / mask.sum(1, keepdim=True).clamp(min=1).to(h.dtype)
        empty = ~mask.any(dim=1)
        return out.masked_fill(empty.unsqueeze(-1), 0.0)


WORD_REDUCE = {"max": "amax", "sum": "sum", "mean": "mean"}  # a word's state from its subwords', per pooling mode


class AttentionPooler:
    """Attention over word ranges: pool(l, r) = sum over words w in [l, r) of softmax(a)[w] * x[w],
    with the softmax taken within the range; an empty range pools to zero.

    Exact and stable: every query's words are gathered (M = the ranges' total length; memory
    M x H, never Q x longest x H) and its scores shifted by their own maximum. Queries are taken
    in groups of at most ``max_gathered`` words (one longer range alone), so that a chunk of
    thousands of pairs over long sentences does not gather them all at once."""

    def __init__(self, word_states: torch.Tensor, scores: torch.Tensor, max_gathered: int = 1 << 16) -> None:
        self.x, self.scores = word_states, scores  # (N, H), (N,)
        self.max_gathered = max_gathered

    def pool(self, doc: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        n = (right - left).clamp(min=0)  # (Q,)
        if len(left) > 1 and int(n.sum()) > self.max_gathered:
            half = len(left) // 2
            return torch.cat([self.pool(doc[:half], left[:half], right[:half]),
                              self.pool(doc[half:], left[half:], right[half:])])
        return self._pool(left, n)

    def _pool(self, left: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        Q, device = len(left), left.device
        query = torch.repeat_interleave(torch.arange(Q, device=device), n)  # (M,)
        start = torch.cumsum(n, 0) - n  # (Q,) where each query's words begin in the flat list
        word = left[query] + torch.arange(len(query), device=device) - start[query]  # (M,)
        a = self.scores[word]  # (M,)
        top = a.new_full((Q,), float("-inf")).scatter_reduce(0, query, a.detach(), "amax", include_self=True)
        e = torch.exp(a - top[query])  # (M,) at most 1; the softmax does not change with the shift
        total = e.new_zeros(Q).index_add(0, query, e)  # (Q,) at least 1 for a non-empty range
        p = e / total[query]  # (M,)
        return self.x.new_zeros(Q, self.x.shape[-1]).index_add(0, query, p.unsqueeze(-1) * self.x[word])  # (Q, H)


def word_states(h: torch.Tensor, token_word: torch.Tensor, num_words: int, mode: PoolingMode) -> torch.Tensor:
    """Each word's state, reduced from its subwords as ``mode`` pools: (B, T, H) -> (N, H)."""
    return _word_states(h, token_word, num_words, WORD_REDUCE[mode])


def build_pooler(impl: Literal["lean", "naive"], mode: PoolingMode, h: torch.Tensor, token_word: torch.Tensor,
                 num_words: int, longest: int) -> Pooler:
    """The pooler for one batch; ``longest`` bounds the widest range that will be asked for."""
    if impl == "naive":
        return NaivePooler(h, token_word, mode)
    if mode == "max":
        return RangeMaxPooler(h, token_word, num_words, longest)
    return RangeSumPooler(h, token_word, num_words, mean=(mode == "mean"))
