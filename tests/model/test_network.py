"""Model shapes, the loss definition and inference decoding, on a tiny random encoder."""

import pytest
import torch
import torch.nn.functional as F

from spert.model.batch import collate
from spert.model.checkpoint import build_model
from spert.data.documents import Document, Entity, Relation
from spert.model.encoding import encode_words_batch, load_tokenizer
from spert.infer.decoding import decode
from spert.model.network import ordered_pairs
from spert.model.settings import ModelSettings
from spert.model.spans import inference_sample
from spert.train.sampling import seeded_rng, training_sample
from spert.data.schema import EntityType, RelationType, TypeSchema

SCHEMA = TypeSchema((EntityType("A", "A", "A"), EntityType("B", "B", "B")),
                    (RelationType("r", "r", "r"), RelationType("sym", "sym", "sym", symmetric=True)))
DOCS = [Document(tuple("Alice met Bob in Paris yesterday".split()),
                 (Entity("A", 0, 1), Entity("A", 2, 3), Entity("B", 4, 5)),
                 (Relation("r", 0, 2), Relation("sym", 0, 1))),
        Document(tuple("short one".split()), (Entity("B", 0, 2),), ())]


@pytest.fixture(scope="module")
def tok(tiny_encoder_dir):
    return load_tokenizer(str(tiny_encoder_dir))


def _model(tiny_encoder_dir, pack_training=True, **kw):
    torch.manual_seed(0)
    return build_model(ModelSettings(encoder=str(tiny_encoder_dir), **kw), SCHEMA, str(tiny_encoder_dir),
                       pack_training=pack_training)


def _train_batch(tok):
    encs = encode_words_batch(tok, [d.tokens for d in DOCS])
    samples = [training_sample(d, SCHEMA, seeded_rng(0, 0, i), neg_entity_count=5, neg_relation_count=3)
               for i, d in enumerate(DOCS)]
    return collate(encs, samples, tok.pad_token_id), samples


def test_encoding_word_ranges_and_uncased(tok):
    (e,) = encode_words_batch(tok, [["Paris", "", "Zürich"]])
    assert e.input_ids[0] == tok.cls_token_id and e.input_ids[-1] == tok.sep_token_id
    assert e.word_start[0] == 1 and all(s < t for s, t in zip(e.word_start, e.word_end))
    assert list(e.input_ids[e.word_start[1]:e.word_end[1]]) == [tok.unk_token_id]  # empty word -> [UNK]
    # the encoder's own casing: the uncased vocabulary lowercases instead of producing [UNK]
    assert tok.unk_token_id not in e.input_ids[e.word_start[0]:e.word_end[0]]


@pytest.mark.parametrize("context", ["localized", "full", "cls", "none"])
@pytest.mark.parametrize("pooling", ["max", "mean", "sum"])
def test_forward_shapes_and_lean_equals_naive(tiny_encoder_dir, tok, context, pooling):
    model = _model(tiny_encoder_dir, context=context, pooling=pooling, dropout=0.0)
    batch, samples = _train_batch(tok)
    out = model(batch)
    S, P = sum(len(s.spans) for s in samples), sum(len(s.pairs) for s in samples)
    assert out.entity_logits.shape == (S, 3) and out.rel_logits.shape == (P, 2)
    with model.using(pooling_impl="naive"):
        ref = model(batch)
    assert model.pooling_impl == "lean"  # switched back after the block
    torch.testing.assert_close(out.entity_logits, ref.entity_logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.rel_logits, ref.rel_logits, rtol=1e-5, atol=1e-6)


def test_loss_is_mean_ce_plus_mean_bce(tiny_encoder_dir, tok):
    model = _model(tiny_encoder_dir, dropout=0.0)
    batch, _ = _train_batch(tok)
    out = model(batch)
    ent = F.cross_entropy(out.entity_logits, batch.entity_labels, reduction="none").mean()
    rel = F.binary_cross_entropy_with_logits(out.rel_logits, batch.rel_labels, reduction="none").mean(-1).mean()
    torch.testing.assert_close(out.loss, ent + rel)
    out.loss.backward()
    assert model.rel_classifier.weight.grad.abs().sum() > 0
    assert model.encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0


def test_entity_loss_alone_without_relation_samples(tiny_encoder_dir, tok):
    model = _model(tiny_encoder_dir, dropout=0.0)
    encs = encode_words_batch(tok, [DOCS[1].tokens])
    samples = [training_sample(DOCS[1], SCHEMA, seeded_rng(0, 0, 0), neg_entity_count=2)]
    out = model(collate(encs, samples, 0))
    torch.testing.assert_close(out.loss, out.entity_loss)
    out.loss.backward()  # the relation head is in the graph with zero gradient
    assert torch.count_nonzero(model.rel_classifier.weight.grad) == 0


def test_frozen_encoder_gets_no_gradient(tiny_encoder_dir, tok):
    model = _model(tiny_encoder_dir, freeze_encoder=True)
    batch, _ = _train_batch(tok)
    model(batch).loss.backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert model.entity_classifier.weight.grad is not None


def test_random_init_differs_from_pretrained(tiny_encoder_dir):
    a = _model(tiny_encoder_dir).encoder.embeddings.word_embeddings.weight
    torch.manual_seed(123)  # (the tiny encoder itself was saved from a random init with seed 0)
    b = build_model(ModelSettings(random_init=True), SCHEMA, str(tiny_encoder_dir)).encoder
    b = b.embeddings.word_embeddings.weight
    assert not torch.equal(a, b)


def test_ordered_pairs_within_groups():
    head, tail = ordered_pairs(torch.tensor([0, 0, 0, 2, 2]), 3)
    pairs = set(zip(head.tolist(), tail.tolist()))
    assert pairs == {(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (3, 4), (4, 3)}
    h, t = ordered_pairs(torch.tensor([1]), 2)
    assert len(h) == 0


def test_predict_decodes_symmetric_relations_once(tiny_encoder_dir, tok):
    model = _model(tiny_encoder_dir)
    encs = encode_words_batch(tok, [DOCS[0].tokens])
    batch = collate(encs, [inference_sample(encs[0].num_words, 10)], 0)
    with torch.no_grad():  # force spans "Alice" and "Bob" to be entities and every pair to be related
        model.entity_classifier.weight.zero_()
        model.entity_classifier.bias.copy_(torch.tensor([0.0, -5.0, -5.0]))
        model.rel_classifier.weight.zero_()
        model.rel_classifier.bias.fill_(5.0)
    raw = model.predict(batch)
    assert len(raw.span_index) == 0  # nothing but "no entity"
    with torch.no_grad():
        model.entity_classifier.bias.copy_(torch.tensor([0.0, 5.0, -5.0]))
    widths = (batch.span_end - batch.span_start)
    raw = model.predict(batch)
    assert len(raw.span_index) == len(widths)  # every candidate span is an A
    keep = torch.tensor([0, 2])  # "Alice" (0,1) and "Bob" (2,3) are candidates 0 and 2
    raw.span_index, raw.span_class, raw.span_score = keep, raw.span_class[:2], raw.span_score[:2]
    raw.pair_head, raw.pair_tail = torch.tensor([0, 2]), torch.tensor([2, 0])
    raw.rel_probs = torch.tensor([[0.9, 0.8], [0.3, 0.7]])
    (pred,) = decode(raw, batch, model.schema, [DOCS[0].tokens], threshold=0.4)
    assert [(e.start, e.end, e.type) for e in pred.entities] == [(0, 1, "A"), (2, 3, "A")]
    rels = {(r.head, r.tail, r.type): r.score for r in pred.relations}
    # "r" only from Alice to Bob (0.3 < 0.4 the other way); "sym" once, head = earlier entity, best score
    assert rels == {(0, 1, "r"): pytest.approx(0.9), (0, 1, "sym"): pytest.approx(0.8)}


def _no_dropout(model):
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return model


def test_packed_training_batch_equals_padded(tiny_encoder_dir, tok):
    """Packing the documents into one sequence changes nothing but float rounding: same loss and gradients."""
    model = _no_dropout(_model(tiny_encoder_dir)).train()
    batch, _ = _train_batch(tok)
    assert batch.input_ids.shape[0] == 2 and bool((batch.attention_mask == 0).any())  # padding to drop
    results = {}
    for pack in (False, True):
        model.zero_grad()
        with model.using(pack_training=pack):
            out = model(batch)
        out.loss.backward()
        results[pack] = out.loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    assert model._should_pack(batch)
    torch.testing.assert_close(results[True][0], results[False][0], rtol=1e-6, atol=1e-6)
    assert results[True][1].keys() == results[False][1].keys()
    for name, g in results[False][1].items():
        torch.testing.assert_close(results[True][1][name], g, rtol=1e-5, atol=1e-6, msg=name)


def test_packing_only_where_it_is_exact(tiny_encoder_dir, tok):
    from spert.model.encoders import can_pack

    model = _model(tiny_encoder_dir).train()
    batch, _ = _train_batch(tok)
    assert model._should_pack(batch)
    model.eval()
    assert not model._should_pack(batch)  # inference batches stay padded
    model.train()
    with model.using(pooling_impl="naive"):
        assert not model._should_pack(batch)  # the naive reference keeps the authors' padded layout
    assert not _model(tiny_encoder_dir, pack_training=False).train()._should_pack(batch)
    model.encoder.config._attn_implementation = "flash_attention_2"
    assert not model._should_pack(batch)

    from transformers import RobertaConfig, RobertaModel

    roberta = RobertaModel(RobertaConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=32))
    assert not can_pack(roberta.config)  # position ids offset by the padding index: not packed


def test_packed_eager_attention_equals_padded(tiny_encoder_dir, tok):
    model = _no_dropout(_model(tiny_encoder_dir)).train()
    model.encoder.config._attn_implementation = "eager"
    batch, _ = _train_batch(tok)
    with model.using(pack_training=False):
        ref = model(batch).loss
    torch.testing.assert_close(model(batch).loss, ref, rtol=1e-6, atol=1e-6)


def test_spans_and_pairs_for_distillation_alone_leave_the_gold_loss_as_it_was(tiny_encoder_dir, tok):
    """Spans labelled -100 and the pairs add_distillation_pairs appends get logits, not gold loss."""
    import numpy as np

    from spert.model.batch import add_distillation_pairs, add_negative_pairs
    from spert.model.spans import Sample
    from spert.train.sampling import IGNORED

    model = _model(tiny_encoder_dir, dropout=0.0)
    batch, samples = _train_batch(tok)
    plain = model(batch)
    encs = encode_words_batch(tok, [d.tokens for d in DOCS])
    more = [Sample(np.concatenate([s.spans, [[0, 3]]]), np.concatenate([s.entity_labels, [IGNORED]]), s.pairs,
                   s.rel_labels) if i == 0 else s for i, s in enumerate(samples)]
    extended = add_distillation_pairs(collate(encs, more, tok.pad_token_id), np.array([[0, len(samples[0].spans)], [1, 0]]))
    out = model(extended)
    assert extended.distill_pairs == 2 and out.rel_logits.shape[0] == plain.rel_logits.shape[0] + 2
    torch.testing.assert_close(out.entity_loss, plain.entity_loss)
    torch.testing.assert_close(out.rel_loss, plain.rel_loss)
    with pytest.raises(ValueError, match="negatives go before"):
        add_negative_pairs(extended, np.array([[0, 1]]))
