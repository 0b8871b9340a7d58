"""The network against the spec written out by hand (SPERT_SPEC.md), not against a formula
shared with the code: a stub encoder returns known subword states, words have several
subwords, and every expected value below is indexed by subword positions typed in by hand."""

import pytest
import torch
from torch import nn

from spert.data.schema import EntityType, RelationType, TypeSchema
from spert.model.batch import Batch
from spert.model.network import SpERTModel, ordered_pairs
from spert.model.settings import ModelSettings

SCHEMA = TypeSchema((EntityType("A", "A", "A"), EntityType("B", "B", "B")),
                    (RelationType("r", "r", "r"), RelationType("s", "s", "s")))
H = 6
# One document of 6 words; subword layout, written out by hand:
#   position: 0     1  2    3    4  5  6    7  8    9    10 11   12
#   word:     [CLS] w0 w0   w1   w2 w2 w2   w3 w3   w4   w5 w5   [SEP]
N = 6
TOKEN_WORD = [N, 0, 0, 1, 2, 2, 2, 3, 3, 4, 5, 5, N]
SUBWORDS = {0: [1, 2], 1: [3], 2: [4, 5, 6], 3: [7, 8], 4: [9], 5: [10, 11]}  # the same, per word
T = len(TOKEN_WORD)


class StubConfig:
    hidden_size = H
    initializer_range = 0.02
    model_type = "stub"


class StubEncoder(nn.Module):
    """Returns fixed subword states: h (1, T, H)."""

    def __init__(self, h: torch.Tensor) -> None:
        super().__init__()
        self.config = StubConfig()
        self.h = nn.Parameter(h)

    def forward(self, input_ids, attention_mask=None, **kw):
        return type("Out", (), {"last_hidden_state": self.h[:, : input_ids.shape[1]]})()


def _h(seed=0):
    return torch.randn(1, T, H, generator=torch.Generator().manual_seed(seed))


def _model(h, **kw) -> SpERTModel:
    torch.manual_seed(0)
    return SpERTModel(ModelSettings(encoder="stub", width_dim=4, **kw), SCHEMA, StubEncoder(h)).eval()


def _batch(spans, pairs) -> Batch:
    return Batch(input_ids=torch.ones(1, T, dtype=torch.long), attention_mask=torch.ones(1, T, dtype=torch.long),
                 token_word=torch.tensor([TOKEN_WORD]), word_offset=torch.tensor([0]), num_words=torch.tensor([N]),
                 span_doc=torch.zeros(len(spans), dtype=torch.long),
                 span_start=torch.tensor([s for s, _ in spans]), span_end=torch.tensor([e for _, e in spans]),
                 pair_head=torch.tensor([p for p, _ in pairs], dtype=torch.long),
                 pair_tail=torch.tensor([q for _, q in pairs], dtype=torch.long))


def _pool(h, subwords, mode="max"):
    """Pool h over the given subword positions (typed in by hand); the zero vector when there are none."""
    if not subwords:
        return torch.zeros(H)
    x = h[0, subwords]
    return {"max": x.max(0).values, "sum": x.sum(0), "mean": x.mean(0)}[mode]


# (head words, tail words, subwords strictly between them, by hand)
CASES = {
    "distant": ((0, 1), (3, 4), [3, 4, 5, 6]),  # words 1-2 between
    "distant reversed": ((3, 4), (0, 1), [3, 4, 5, 6]),  # direction does not change the context
    "one word between": ((1, 2), (3, 5), [4, 5, 6]),  # word 2 of three subwords
    "wide spans": ((0, 2), (4, 6), [4, 5, 6, 7, 8]),  # words 2-3
    "adjacent": ((0, 1), (1, 2), []),
    "adjacent reversed": ((2, 4), (0, 2), []),
    "overlapping": ((0, 3), (2, 4), []),
    "overlapping reversed": ((2, 4), (0, 3), []),
    "nested": ((0, 4), (2, 3), []),
    "nested reversed": ((2, 3), (0, 4), []),
    "same start": ((1, 3), (1, 2), []),
}


@pytest.mark.parametrize("mode", ["max", "mean", "sum"])
@pytest.mark.parametrize("impl", ["lean", "naive"])
def test_relation_context_by_hand(mode, impl):
    h = _h()
    model = _model(h, pooling=mode)
    model.pooling_impl = impl
    spans = sorted({s for head, tail, _ in CASES.values() for s in (head, tail)})
    pairs = [(spans.index(head), spans.index(tail)) for head, tail, _ in CASES.values()]
    with torch.no_grad():
        out = model(_batch(spans, pairs))
    w, b = model.rel_classifier.weight, model.rel_classifier.bias
    for k, (name, (head, tail, between)) in enumerate(CASES.items()):
        x = torch.cat([_pool(h, between, mode),
                       _pool(h, [p for i in range(*head) for p in SUBWORDS[i]], mode),
                       _pool(h, [p for i in range(*tail) for p in SUBWORDS[i]], mode),
                       model.width_embedding.weight[head[1] - head[0]],
                       model.width_embedding.weight[tail[1] - tail[0]]])
        torch.testing.assert_close(out.rel_logits[k], w @ x + b, rtol=1e-5, atol=1e-5, msg=name)


@pytest.mark.parametrize("context", ["full", "cls", "none"])
def test_other_contexts_by_hand(context):
    h = _h(1)
    model = _model(h, context=context)
    spans, pairs = [(0, 1), (3, 4)], [(0, 1), (1, 0)]
    with torch.no_grad():
        out = model(_batch(spans, pairs))
    ctx = {"full": [_pool(h, list(range(1, 12)))], "cls": [h[0, 0]], "none": []}[context]
    w, b = model.rel_classifier.weight, model.rel_classifier.bias
    p0, p3 = _pool(h, [1, 2]), _pool(h, [7, 8])
    w1 = model.width_embedding.weight[1]
    for k, (a, c) in enumerate([(p0, p3), (p3, p0)]):
        x = torch.cat(ctx + [a, c, w1, w1])
        torch.testing.assert_close(out.rel_logits[k], w @ x + b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("grad", [True, False])  # with gradient: the plain path; without: the split one
def test_span_classifier_input_by_hand(grad):
    h = _h(2)
    model = _model(h)
    spans = [(0, 1), (0, 2), (2, 3), (1, 4), (5, 6)]
    subwords = [[1, 2], [1, 2, 3], [4, 5, 6], [3, 4, 5, 6, 7, 8], [10, 11]]
    with torch.set_grad_enabled(grad):
        out = model(_batch(spans, []))
    w, b = model.entity_classifier.weight, model.entity_classifier.bias
    for k, ((s, e), sub) in enumerate(zip(spans, subwords)):
        # [h_CLS ; max over the span's subwords ; width embedding of the number of WORDS]
        x = torch.cat([h[0, 0], _pool(h, sub), model.width_embedding.weight[e - s]])
        torch.testing.assert_close(out.entity_logits[k], w @ x + b, rtol=1e-5, atol=1e-5)


def test_dropout_only_on_both_classifier_inputs_in_training_and_never_at_inference():
    h = _h(3)
    model = _model(h, dropout=0.5)
    spans, pairs = [(0, 1), (1, 2), (3, 5), (2, 6)], [(0, 2), (2, 0), (1, 3), (3, 1), (0, 3)]
    batch = _batch(spans, pairs)
    seen = {}
    hooks = [layer.register_forward_pre_hook(lambda m, args, name=name: seen.__setitem__(name, args[0].detach()))
             for name, layer in (("entity", model.entity_classifier), ("rel", model.rel_classifier))]
    model.eval()
    ref = model(batch)
    clean = dict(seen)
    with torch.no_grad():  # inference (the split path) equals the plain path without dropout
        ref_nograd = model(batch)
    torch.testing.assert_close(ref_nograd.entity_logits, ref.entity_logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ref_nograd.rel_logits, ref.rel_logits, rtol=1e-5, atol=1e-5)
    model.dropout.p = 0.0
    torch.testing.assert_close(model(batch).rel_logits, ref.rel_logits)  # the rate changes nothing at inference
    model.dropout.p = 0.5

    model.train()
    torch.manual_seed(7)
    model(batch)
    for name in ("entity", "rel"):
        x, x0 = seen[name], clean[name]
        dropped = x == 0
        # inverted dropout on the whole classifier input: each element zeroed or scaled by 1/(1-p);
        # the encoder's states themselves are not dropped (pooling would mix other values in)
        torch.testing.assert_close(x[~dropped], 2 * x0[~dropped])
        assert 0.3 < dropped.float().mean() < 0.7
        blocks = [(0, H), (H, 2 * H), (2 * H, 2 * H + 4)] if name == "entity" else \
            [(0, H), (H, 2 * H), (2 * H, 3 * H), (3 * H, 3 * H + 4), (3 * H + 4, 3 * H + 8)]
        for lo, hi in blocks:  # every block of the input is subject to dropout: context, spans, widths
            assert dropped[:, lo:hi].any() and (~dropped[:, lo:hi]).any(), (name, lo, hi)
    for hook in hooks:
        hook.remove()


def _stub_with_range(std):
    model_h = _h(4)
    enc = StubEncoder(model_h)
    enc.config = type("C", (StubConfig,), {"initializer_range": std})()
    return enc


def test_bert_initialisation_of_new_layers():
    torch.manual_seed(0)
    model = SpERTModel(ModelSettings(encoder="stub", width_dim=25), SCHEMA, _stub_with_range(0.05))
    for layer in (model.width_embedding, model.entity_classifier, model.rel_classifier):
        w = layer.weight.detach()
        assert abs(w.mean().item()) < 0.01
        assert w.std().item() == pytest.approx(0.05, rel=0.15)  # the encoder's initializer_range, not 0.02
    assert torch.equal(model.entity_classifier.bias, torch.zeros_like(model.entity_classifier.bias))
    assert torch.equal(model.rel_classifier.bias, torch.zeros_like(model.rel_classifier.bias))


def test_torch_initialisation_keeps_pytorch_defaults():
    torch.manual_seed(0)
    model = SpERTModel(ModelSettings(encoder="stub", width_dim=25, head_init="torch"), SCHEMA,
                       _stub_with_range(0.05))
    assert model.width_embedding.weight.std().item() == pytest.approx(1.0, rel=0.15)  # N(0, 1)
    fan_in = model.entity_classifier.in_features
    bound = 1 / fan_in ** 0.5  # nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
    assert model.entity_classifier.weight.abs().max() <= bound
    assert model.entity_classifier.weight.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.15)
    assert model.entity_classifier.bias.abs().sum() > 0


def _brute_pairs(group):
    return [(i, j) for i in range(len(group)) for j in range(len(group)) if i != j and group[i] == group[j]]


@pytest.mark.parametrize("seed", [0, 1])
def test_ordered_pairs_many_positions_against_brute_force(seed):
    g = torch.Generator().manual_seed(seed)
    num_groups = 40
    group = torch.sort(torch.randint(0, num_groups, (700,), generator=g)).values  # > 512: the index branch
    group = group[(group != 3) & (group != 7)]  # some groups empty
    head, tail = ordered_pairs(group, num_groups)
    assert list(zip(head.tolist(), tail.tolist())) == _brute_pairs(group.tolist())  # same pairs, same order


def test_ordered_pairs_many_singletons_give_no_pairs():
    group = torch.arange(600)
    head, tail = ordered_pairs(group, 600)
    assert len(head) == len(tail) == 0
