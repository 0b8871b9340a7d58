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


WORDS = [["Unbelievably", "photosynthesis", "in", "Zürich", "overshadowed", "the", "antidisestablishmentarianism"],
         ["Hydroxychloroquine", "nephrotoxicity", "."]]


@pytest.mark.parametrize("mode", ["max", "mean", "sum"])
def test_poolers_against_subword_ranges_from_the_tokenizer(tiny_encoder_dir, mode):
    """Word ranges pooled by the lean and naive poolers (through collate's word map) against subword
    ranges taken independently from the tokenizer's own word ids, over words of several subwords."""
    from spert.model.batch import collate
    from spert.model.encoding import encode_words_batch, load_tokenizer
    from spert.model.spans import inference_sample

    tok = load_tokenizer(str(tiny_encoder_dir))
    encs = encode_words_batch(tok, WORDS)
    batch = collate(encs, [inference_sample(e.num_words, 10) for e in encs], tok.pad_token_id)
    assert max(e.word_end[i] - e.word_start[i] for e in encs for i in range(e.num_words)) >= 3
    B, T, H = batch.input_ids.shape[0], batch.input_ids.shape[1], 5
    h = torch.randn(B, T, H, generator=torch.Generator().manual_seed(3))
    N, longest = int(batch.num_words.sum()), max(len(w) for w in WORDS)
    lean = build_pooler("lean", mode, h, batch.token_word, N, longest)
    naive = NaivePooler(h, batch.token_word, mode)
    doc, left, right, expected = [], [], [], []
    offset = 0
    for b, words in enumerate(WORDS):
        word_ids = tok(words, is_split_into_words=True).word_ids()  # None for [CLS]/[SEP]
        assert list(batch.input_ids[b, :len(word_ids)]) == tok(words, is_split_into_words=True)["input_ids"]
        for l in range(len(words) + 1):
            for r in range(len(words) + 1):
                pos = [t for t, w in enumerate(word_ids) if w is not None and l <= w < r]
                x = h[b, pos]
                ref = torch.zeros(H) if not pos else {"max": x.max(0).values, "sum": x.sum(0),
                                                      "mean": x.mean(0)}[mode]
                doc.append(b), left.append(offset + l), right.append(offset + r), expected.append(ref)
        offset += len(words)
    doc, left, right, expected = torch.tensor(doc), torch.tensor(left), torch.tensor(right), torch.stack(expected)
    torch.testing.assert_close(lean.pool(doc, left, right), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(naive.pool(doc, left, right), expected, rtol=1e-5, atol=1e-6)


def test_attention_pooler_is_a_softmax_within_each_range():
    """pool(l, r) = sum_w softmax(a[l:r])_w x_w, by a loop per query, in values and gradients; empty: zero."""
    from spert.model.pooling import AttentionPooler

    g = torch.Generator().manual_seed(5)
    N, H = 9, 4
    x = torch.randn(N, H, generator=g, requires_grad=True)
    a = (3 * torch.randn(N, generator=g)).requires_grad_()
    left = torch.tensor([0, 2, 4, 8, 5, 3, 0])
    right = torch.tensor([9, 5, 5, 9, 5, 1, 1])  # whole, inner, one word, last word, empty, reversed, first
    out = AttentionPooler(x, a).pool(torch.zeros_like(left), left, right)
    ref = torch.stack([(torch.softmax(a[l:r], 0).unsqueeze(-1) * x[l:r]).sum(0) if r > l else torch.zeros(H)
                       for l, r in zip(left.tolist(), right.tolist())])
    torch.testing.assert_close(out, ref)
    assert torch.equal(out[4], torch.zeros(H)) and torch.equal(out[5], torch.zeros(H))
    assert torch.allclose(out[2], x[4]) and torch.allclose(out[3], x[8])  # one word: its own state
    weights = torch.randn(len(left), H, generator=g)
    got = torch.autograd.grad((out * weights).sum(), (x, a))
    want = torch.autograd.grad((ref * weights).sum(), (x, a))
    for u, v in zip(got, want):
        torch.testing.assert_close(u, v)


def test_attention_pooler_in_groups_of_few_gathered_words_pools_the_same():
    """Bounding the words gathered at once (here 4, so every query but the longest goes alone or in
    pairs) changes neither values nor gradients."""
    from spert.model.pooling import AttentionPooler

    g = torch.Generator().manual_seed(7)
    x = torch.randn(12, 5, generator=g, requires_grad=True)
    a = torch.randn(12, generator=g, requires_grad=True)
    left = torch.tensor([0, 2, 4, 8, 5, 3, 0, 1])
    right = torch.tensor([12, 5, 5, 9, 5, 1, 1, 7])
    doc = torch.zeros_like(left)
    whole = AttentionPooler(x, a).pool(doc, left, right)
    grouped = AttentionPooler(x, a, max_gathered=4).pool(doc, left, right)
    torch.testing.assert_close(grouped, whole, rtol=0, atol=1e-6)
    w = torch.randn(len(left), 5, generator=g)
    for u, v in zip(torch.autograd.grad((grouped * w).sum(), (x, a)), torch.autograd.grad((whole * w).sum(), (x, a))):
        torch.testing.assert_close(u, v)


def test_attention_pooler_is_stable_for_far_apart_scores():
    from spert.model.pooling import AttentionPooler

    x = torch.eye(3)
    a = torch.tensor([1e4, 0.0, -1e4])  # exp would overflow or vanish without the per-range shift
    out = AttentionPooler(x, a).pool(torch.zeros(3, dtype=torch.long), torch.tensor([0, 1, 2]),
                                     torch.tensor([3, 3, 3]))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.eye(3)[[0, 1, 2]])  # the best word of each range takes all
