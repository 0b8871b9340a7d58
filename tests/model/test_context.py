"""Document context (model/context.py): which words a window holds, and that nothing the model
pools or classifies reaches outside the sentence (a stub encoder with known states per position,
on subword layouts typed in by hand, as in test_network_spec.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from spert.data.schema import EntityType, RelationType, TypeSchema
from spert.model.batch import collate
from spert.model.context import context_encodings, fit_context, split_budget
from spert.model.encoding import Encoding, encode_words_batch, load_tokenizer, resolve_encoder
from spert.model.network import SpERTModel
from spert.model.settings import ModelSettings
from spert.model.spans import Sample, candidate_spans


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(resolve_encoder(None))


# -- which words a window holds ------------------------------------------------------------

@pytest.mark.parametrize("n, left, right, expected", [
    (6, 100, 100, (3, 3)),  # a sentence in the middle: half each side
    (5, 100, 100, (3, 2)),  # the odd word goes left
    (6, 0, 100, (0, 6)),  # a document's first sentence: the right side fills up
    (6, 100, 0, (6, 0)),  # its last sentence: the left side fills up
    (6, 1, 100, (1, 5)),
    (6, 100, 2, (4, 2)),
    (10, 3, 2, (3, 2)),  # a short document: all of it
    (0, 5, 5, (0, 0)),
])
def test_split_budget(n, left, right, expected):
    assert split_budget(n, left, right) == expected


@pytest.mark.parametrize("counts, left, right, limit, expected", [
    ([1, 1, 1, 2, 2, 1, 1, 1], 3, 3, 100, (3, 3)),  # everything fits
    ([1, 1, 1, 2, 2, 1, 1, 1], 3, 3, 2 + 4 + 3, (2, 1)),  # nearest first, left before right: L1, R1, L2
    ([1, 1, 1, 2, 2, 1, 1, 1], 3, 3, 2 + 4, (0, 0)),  # room for the sentence only
    ([1, 1, 1, 2, 2, 1, 1, 1], 3, 3, 2 + 3, (0, 0)),  # the sentence alone does not fit
    ([1, 5, 1, 2, 2, 1, 1, 1], 3, 3, 2 + 4 + 4, (1, 3)),  # the left side stops at its first word that does not fit
    ([2, 2], 0, 0, 3, (0, 0)),
])
def test_fit_context(counts, left, right, limit, expected):
    assert fit_context(counts, left, right, limit) == expected


DOC = [["Graph", "parsing", "is", "hard", "."],
       ["We", "propose", "a", "method", "."],
       ["It", "outperforms", "earlier", "parsers", "on", "treebanks", "."]]


def _expect(tok, left: list[str], sentence: list[str], right: list[str]) -> Encoding:
    """The spec: the window's words encoded as one document, word ranges of the sentence only."""
    e = encode_words_batch(tok, [left + sentence + right])[0]
    a, b = len(left), len(left) + len(sentence)
    return Encoding(e.input_ids, e.word_start[a:b], e.word_end[a:b])


def test_windows_at_a_documents_first_middle_and_last_sentence(tok):
    encs = context_encodings(tok, DOC, [[0, 1, 2]], 6, 512)
    assert encs[0] == _expect(tok, [], DOC[0], DOC[1] + DOC[2][:1])  # first: 6 words on the right
    assert encs[1] == _expect(tok, DOC[0][-3:], DOC[1], DOC[2][:3])  # middle: 3 and 3
    assert encs[2] == _expect(tok, DOC[0][-1:] + DOC[1], DOC[2], [])  # last: 6 words on the left
    alone = encode_words_batch(tok, DOC)
    for e, a in zip(encs, alone):  # the sentence's own subwords, as without context
        assert e.num_words == a.num_words
        assert [e.input_ids[s:t] for s, t in zip(e.word_start, e.word_end)] == \
            [a.input_ids[s:t] for s, t in zip(a.word_start, a.word_end)]
        assert (e.input_ids[0], e.input_ids[-1]) == (a.input_ids[0], a.input_ids[-1])
    # more context than the document holds: all of it
    encs = context_encodings(tok, DOC, [[0, 1, 2]], 1000, 512)
    assert encs[1] == _expect(tok, DOC[0], DOC[1], DOC[2])


def test_document_order_and_boundaries(tok):
    # documents are given as sentence indices in order; context never crosses into another document
    sentences = [DOC[2], DOC[0], ["Unrelated", "text", "."], DOC[1]]
    encs = context_encodings(tok, sentences, [[1, 3, 0], [2]], 4, 512)
    assert encs[3] == _expect(tok, DOC[0][-2:], DOC[1], DOC[2][:2])
    assert encs[2] == encode_words_batch(tok, [sentences[2]])[0]


def test_the_limit_drops_the_outermost_context_words_first(tok):
    plain = encode_words_batch(tok, [DOC[1]])[0]
    n = len(plain.input_ids)  # the sentence with start and end tokens
    words = [w for s in DOC for w in s]
    counts = [len(p) for p in tok(words, add_special_tokens=False)["input_ids"]]
    assert counts[3:5] == [1, 1] and counts[10] == 1  # 'hard', '.', 'It': one subword each
    encs = context_encodings(tok, DOC, [[0, 1, 2]], 6, n + 3)
    assert encs[1] == _expect(tok, DOC[0][-2:], DOC[1], DOC[2][:1])  # L1, R1, L2 fit; R2 and L3 do not
    assert len(encs[1].input_ids) == n + 3


def test_a_sentence_longer_than_the_limit_on_its_own_gets_no_context(tok):
    sentences = [DOC[0], DOC[2], DOC[1]]  # the longest in the middle
    plain = encode_words_batch(tok, sentences)
    limit = len(plain[1].input_ids) - 1
    assert all(len(e.input_ids) <= limit for e in plain[::2])
    encs = context_encodings(tok, sentences, [[0, 1, 2]], 6, limit)
    assert encs[1] == plain[1] and len(encs[1].input_ids) > limit  # the caller errs or windows it
    assert all(len(e.input_ids) <= limit for k, e in enumerate(encs) if k != 1)


def test_sentences_without_a_document_are_encoded_alone(tok):
    plain = encode_words_batch(tok, DOC)
    assert context_encodings(tok, DOC, [], 50, 512) == plain
    assert context_encodings(tok, DOC, [[0], [1], [2]], 50, 512) == plain
    assert context_encodings(tok, DOC, [[0, 1, 2]], 0, 512) == plain


# -- nothing pooled or classified reaches outside the sentence -------------------------------

SCHEMA = TypeSchema((EntityType("A", "A", "A"), EntityType("B", "B", "B")),
                    (RelationType("r", "r", "r"), RelationType("s", "s", "s")))
H = 6
CONTEXT = 1000.0  # every context subword's state: any pooled or classified value it reached would show
# Two sentences with context, their subword layouts written out by hand (ids are positions + 100*doc):
#   sentence 0   position: 0     1   2   3  4   5   6  7  8   9   10
#                          [CLS] L   L   w0 w0  w1  w2 w2 w2  R   [SEP]      L/R: context words
#   sentence 1   position: 0     1   2  3   4   5   6
#                          [CLS] w0  w1 w1  R   R   [SEP]                    (a document's first sentence)
ENCODINGS = [Encoding(tuple(range(100, 111)), (3, 5, 6), (5, 6, 9)),
             Encoding(tuple(range(200, 207)), (1, 2), (2, 4))]
SUBWORDS = [{0: [3, 4], 1: [5], 2: [6, 7, 8]}, {0: [1], 1: [2, 3]}]  # per word, by hand
CONTEXT_POSITIONS = [[1, 2, 9], [4, 5]]


class StubConfig:
    """A BERT-like config, so that training batches are packed (SpERTModel._should_pack)."""

    hidden_size = H
    initializer_range = 0.02
    model_type = "bert"
    position_embedding_type = "absolute"
    _attn_implementation = "sdpa"
    is_decoder = False


class StubEncoder(nn.Module):
    """Each subword's state is a fixed vector per token id (no attention between positions)."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.config = StubConfig()
        self.table = nn.Parameter(table)

    def forward(self, input_ids, attention_mask=None, **kw):
        return type("Out", (), {"last_hidden_state": self.table[input_ids]})()


def _table() -> torch.Tensor:
    table = torch.randn(300, H, generator=torch.Generator().manual_seed(0))
    for b, positions in enumerate(CONTEXT_POSITIONS):
        for p in positions:
            table[ENCODINGS[b].input_ids[p]] = CONTEXT + p
    return table


def _state(table, b, positions):
    return table[[ENCODINGS[b].input_ids[p] for p in positions]]  # (len, H)


def _pool(table, b, positions, mode):
    if not positions:
        return torch.zeros(H)
    x = _state(table, b, positions)
    return {"max": x.max(0).values, "sum": x.sum(0), "mean": x.mean(0)}[mode]


def _sample(num_words: int) -> Sample:
    spans = candidate_spans(num_words, 10)
    pairs = np.array([(i, j) for i in range(len(spans)) for j in range(len(spans)) if i != j], dtype=np.int64)
    return Sample(spans, np.zeros(len(spans), dtype=np.int64), pairs, np.zeros((len(pairs), 2), dtype=np.float32))


def test_context_subwords_map_to_no_word():
    batch = collate(ENCODINGS, [_sample(e.num_words) for e in ENCODINGS], pad_id=0)
    N = 5
    assert batch.token_word.tolist() == [[N, N, N, 0, 0, 1, 2, 2, 2, N, N],
                                         [N, 3, 4, 4, N, N, N, N, N, N, N]]
    assert batch.num_words.tolist() == [3, 2] and batch.attention_mask.sum(1).tolist() == [11, 7]


@pytest.mark.parametrize("context", ["localized", "full", "cls", "none"])
@pytest.mark.parametrize("pooling", ["max", "mean", "sum"])
@pytest.mark.parametrize("path", ["packed", "padded", "naive", "inference"])
def test_spans_pooling_and_relation_context_stay_inside_the_sentence(context, pooling, path):
    table = _table()
    torch.manual_seed(0)
    model = SpERTModel(ModelSettings(encoder="stub", width_dim=4, dropout=0.0, context=context, pooling=pooling,
                                     context_words=10), SCHEMA, StubEncoder(table),
                       pack_training=(path == "packed"), pooling_impl="naive" if path == "naive" else "lean")
    samples = [_sample(e.num_words) for e in ENCODINGS]
    batch = collate(ENCODINGS, samples, pad_id=0)
    model.train(path != "inference")
    assert model._should_pack(batch) == (path == "packed")
    with torch.set_grad_enabled(path != "inference"):
        out = model(batch)
    width = model.width_embedding.weight
    x_ent, x_rel = [], []  # the classifiers' inputs, by hand
    for b, sample in enumerate(samples):
        sub = SUBWORDS[b]
        cls = table[ENCODINGS[b].input_ids[0]]
        pooled = [_pool(table, b, [p for w in range(s, e) for p in sub[w]], pooling) for s, e in sample.spans]
        x_ent += [torch.cat([cls, pooled[k], width[e - s]]) for k, (s, e) in enumerate(sample.spans)]
        for i, j in sample.pairs:
            (s1, e1), (s2, e2) = sample.spans[i], sample.spans[j]
            if context == "localized":
                lo, hi = (e1, s2) if e1 <= s2 else (e2, s1)
                ctx = [_pool(table, b, [p for w in range(lo, hi) for p in sub[w]], pooling)]
            elif context == "full":
                ctx = [_pool(table, b, [p for w in sub for p in sub[w]], pooling)]
            else:
                ctx = {"cls": [cls], "none": []}[context]
            x_rel.append(torch.cat(ctx + [pooled[i], pooled[j], width[e1 - s1], width[e2 - s2]]))
    x_ent, x_rel = torch.stack(x_ent), torch.stack(x_rel)  # (S, 2H + D), (P, [H] + 2H + 2D)
    assert x_ent.abs().max() < CONTEXT and x_rel.abs().max() < CONTEXT  # typed in from sentence positions only
    torch.testing.assert_close(out.entity_logits, model.entity_classifier(x_ent), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out.rel_logits, model.rel_classifier(x_rel), rtol=1e-4, atol=1e-4)

@pytest.mark.parametrize("context", ["localized", "full"])
@pytest.mark.parametrize("pooling", ["max", "mean"])
@pytest.mark.parametrize("path", ["packed", "inference"])
def test_attention_relation_context_by_hand_stays_inside_the_sentence(context, pooling, path):
    """context_pooling attention: the relation context is a softmax, by the learned scorer, over the
    context's words (each word's state its subwords' ``pooling``), of those words' states."""
    table = _table()
    torch.manual_seed(0)
    model = SpERTModel(ModelSettings(encoder="stub", width_dim=4, dropout=0.0, context=context, pooling=pooling,
                                     context_words=10, context_pooling="attention"), SCHEMA, StubEncoder(table),
                       pack_training=(path == "packed"))
    with torch.no_grad():
        model.context_scorer.weight.normal_(0, 1)  # far from uniform, so that the weights matter
    samples = [_sample(e.num_words) for e in ENCODINGS]
    batch = collate(ENCODINGS, samples, pad_id=0)
    model.train(path != "inference")
    with torch.set_grad_enabled(path != "inference"):
        out = model(batch)
    width, x_rel = model.width_embedding.weight, []
    for b, sample in enumerate(samples):
        sub = SUBWORDS[b]
        words = torch.stack([_pool(table, b, sub[w], pooling) for w in sorted(sub)])  # (n, H)
        pooled = [_pool(table, b, [p for w in range(s, e) for p in sub[w]], pooling) for s, e in sample.spans]
        for i, j in sample.pairs:
            (s1, e1), (s2, e2) = sample.spans[i], sample.spans[j]
            lo, hi = ((e1, s2) if e1 <= s2 else (e2, s1)) if context == "localized" else (0, len(sub))
            if hi > lo:
                p = torch.softmax(model.context_scorer(words[lo:hi]).squeeze(-1), 0)
                ctx = (p.unsqueeze(-1) * words[lo:hi]).sum(0)
            else:
                ctx = torch.zeros(H)
            x_rel.append(torch.cat([ctx, pooled[i], pooled[j], width[e1 - s1], width[e2 - s2]]))
    x_rel = torch.stack(x_rel)
    assert x_rel.abs().max() < CONTEXT  # nothing typed in from the context positions
    torch.testing.assert_close(out.rel_logits, model.rel_classifier(x_rel), rtol=1e-4, atol=1e-4)
    if path == "packed" and context == "full":  # the scorer learns (localized: one word at most here, weight 1)
        out.rel_logits.sum().backward()
        assert model.context_scorer.weight.grad.abs().sum() > 0


def test_attention_context_needs_a_context_of_words():
    with pytest.raises(ValueError, match="needs context localized or full, not cls"):
        ModelSettings(context="cls", context_pooling="attention")


def test_the_encoder_sees_the_window(tiny_encoder_dir, tok):
    """With a real encoder the context changes h_CLS and the sentence's states (through attention)."""
    from spert.model.network import load_encoder

    encoder = load_encoder(str(tiny_encoder_dir)).eval()
    alone = encode_words_batch(tok, [DOC[1]])[0]
    window = context_encodings(tok, DOC, [[0, 1, 2]], 6, 512)[1]
    with torch.no_grad():
        h_alone = encoder(input_ids=torch.tensor([alone.input_ids])).last_hidden_state[0]
        h_window = encoder(input_ids=torch.tensor([window.input_ids])).last_hidden_state[0]
    assert not torch.allclose(h_alone[0], h_window[0])
    assert not torch.allclose(h_alone[alone.word_start[0]], h_window[window.word_start[0]])
