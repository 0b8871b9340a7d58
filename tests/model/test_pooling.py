"""The lean poolers must equal the spec taken literally (NaivePooler) in values and gradients."""

import pytest
import torch

from spert.model.pooling import NaivePooler, build_pooler


def _random_batch(seed: int):
    g = torch.Generator().manual_seed(seed)
    B, H = 3, 8
    words = [5, 9, 2]
    T = 0
    rows = []
    offset = 0
    for n in words:
        counts = torch.randint(1, 4, (n,), generator=g)  # 1..3 subwords per word
        ids = torch.repeat_interleave(torch.arange(n), counts) + offset
        rows.append(ids)
        offset += n
    N = offset
    T = max(len(r) for r in rows) + 2
    tw = torch.full((B, T), N, dtype=torch.long)
    for b, r in enumerate(rows):
        tw[b, 1:1 + len(r)] = r  # position 0 is [CLS], then the words, then [SEP] and padding
    h = torch.randn(B, T, H, generator=g, requires_grad=True)
    # every range within each document, including empty ones
    doc, left, right = [], [], []
    off = 0
    for b, n in enumerate(words):
        for l in range(n + 1):
            for r in range(n + 1):
                doc.append(b), left.append(off + l), right.append(off + r)
        off += n
    return h, tw, N, max(words), torch.tensor(doc), torch.tensor(left), torch.tensor(right)


@pytest.mark.parametrize("mode", ["max", "mean", "sum"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lean_pooling_equals_naive(mode, seed):
    h, tw, N, longest, doc, left, right = _random_batch(seed)
    weights = torch.randn(len(doc), h.shape[-1], generator=torch.Generator().manual_seed(99))

    lean = build_pooler("lean", mode, h, tw, N, longest).pool(doc, left, right)
    (g_lean,) = torch.autograd.grad((lean * weights).sum(), h)
    naive = NaivePooler(h, tw, mode).pool(doc, left, right)
    (g_naive,) = torch.autograd.grad((naive * weights).sum(), h)

    if mode == "max":
        # max is exact: bit-identical values; gradients reach exactly the same subwords and
        # differ only by float summation order (a range's maximum may be read twice, at 1/2 each)
        assert torch.equal(lean, naive)
        assert torch.equal(g_lean != 0, g_naive != 0)
        torch.testing.assert_close(g_lean, g_naive, rtol=1e-6, atol=1e-6)
    else:
        torch.testing.assert_close(lean, naive, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(g_lean, g_naive, rtol=1e-6, atol=1e-6)


def test_empty_range_pools_to_zero():
    h, tw, N, longest, doc, left, right = _random_batch(0)
    out = build_pooler("lean", "max", h, tw, N, longest).pool(doc[:1], left[:1] + 2, left[:1] + 2)
    assert torch.equal(out, torch.zeros_like(out))


def test_lean_never_builds_queries_by_subwords():
    """The lean max pooler's largest tensor is (levels x words x hidden), independent of the query count."""
    h, tw, N, longest, doc, left, right = _random_batch(1)
    pooler = build_pooler("lean", "max", h, tw, N, longest)
    levels = pooler.table.shape[0] // N
    assert pooler.table.shape == (levels * N, h.shape[-1])
    assert levels == longest.bit_length()
