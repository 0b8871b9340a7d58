"""Relation negatives across sentences (issue 28, neg_cross_sentence_count): their sampling on hand-made
samples, the context they get, and a run with them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spert.model.batch import add_negative_pairs, collate
from spert.model.spans import Sample
from spert.train.sampling import cross_sentence_negatives


def _sample(spans, labels) -> Sample:
    spans = np.array(spans, dtype=np.int64).reshape(-1, 2)
    return Sample(spans, np.array(labels, dtype=np.int64), np.zeros((0, 2), np.int64), np.zeros((0, 5), np.float32))


# sentence 0: 5 words, entities [0,1) and [4,5) (the last word); a negative span [2,3)
# sentence 1: 4 words, entities [0,2) (the first words) and [3,4); the negative [1,2)
SAMPLES = [_sample([[0, 1], [4, 5], [2, 3]], [1, 2, 0]), _sample([[0, 2], [3, 4], [1, 2]], [1, 1, 0])]
WORDS = [5, 4]


def test_pairs_join_gold_entities_of_neighbouring_sentences_never_with_an_empty_context():
    every = cross_sentence_negatives(SAMPLES, WORDS, 100, np.random.default_rng(0))
    # global span indices: sentence 0's entities 0, 1; sentence 1's entities 3, 4 (offset 3)
    # left out: (1, 3), the head [4,5) ends sentence 0 and the tail [0,2) starts sentence 1, and
    # (4, 0), the head [3,4) ends sentence 1 and the tail [0,1) starts sentence 0
    assert sorted(map(tuple, every.tolist())) == [(0, 3), (0, 4), (1, 4), (3, 0), (3, 1), (4, 1)]
    two = cross_sentence_negatives(SAMPLES, WORDS, 2, np.random.default_rng(0))
    assert len(two) == 2 and {tuple(p) for p in two.tolist()} <= {tuple(p) for p in every.tolist()}
    assert (cross_sentence_negatives(SAMPLES, WORDS, 2, np.random.default_rng(0)) == two).all()  # seeded
    assert cross_sentence_negatives(SAMPLES, WORDS, 0, np.random.default_rng(0)).shape == (0, 2)
    assert cross_sentence_negatives(SAMPLES[:1], WORDS[:1], 5, np.random.default_rng(0)).shape == (0, 2)


def test_their_context_is_one_sentences_words_and_every_pooler_agrees(tiny_encoder_dir, conll04_types):
    from spert.data.schema import load_types
    from spert.model.checkpoint import build_model
    from spert.model.encoding import encode_words_batch, load_tokenizer
    from spert.model.network import _cross_context
    from spert.model.settings import ModelSettings

    tok = load_tokenizer(str(tiny_encoder_dir))
    words = [["Ada", "met", "the", "old", "Bob"], ["Paris", "is", "in", "France"]]
    batch = collate(encode_words_batch(tok, words), SAMPLES, tok.pad_token_id)
    add_negative_pairs(batch, np.array([[0, 4], [1, 4], [4, 1]]))
    assert batch.cross_sentence and len(batch.pair_head) == 3 and batch.rel_labels.shape == (3, 5)
    assert float(batch.rel_labels.abs().sum()) == 0
    gh, gt = batch.pair_head, batch.pair_tail
    doc, left, right = _cross_context(batch, gh, gt, batch.span_doc[gh], gh * 0, gh * 0)
    # (0, 4): after "Ada" to sentence 0's end, words [1, 5); (1, 4): "Bob" ends sentence 0, so sentence
    # 1 before the tail "France": words [5, 8) globally; (4, 1): "France" ends sentence 1, so sentence 0
    # before the tail "Bob": words [0, 4)
    assert doc.tolist() == [0, 1, 0] and left.tolist() == [1, 5, 0] and right.tolist() == [5, 8, 4]
    torch.manual_seed(0)
    net = build_model(ModelSettings(encoder=str(tiny_encoder_dir)), load_types(conll04_types), str(tiny_encoder_dir))
    net.eval()
    with torch.no_grad():
        lean = net(batch).rel_logits
        with net.using(pooling_impl="naive"):
            naive = net(batch).rel_logits
    assert torch.allclose(lean, naive, atol=1e-5)


def test_a_run_with_cross_sentence_negatives(tmp_path, tiny_encoder_dir):
    from paths import CONLL04
    from spert.errors import ConfigError
    from spert.train.config import load_config
    from spert.train.loop import train

    base = dict(train_path=str(CONLL04 / "conll04_train.json"), types_path=str(CONLL04 / "conll04_types.json"),
                encoder=str(tiny_encoder_dir), max_train_docs=12, epochs=1, batch_size=2, lr=1e-3, log_every=1,
                neg_entity_count=20, neg_relation_count=20)
    plain = train(load_config(None, {**base, "output_dir": str(tmp_path / "a")}), show_progress=False)
    cross = train(load_config(None, {**base, "output_dir": str(tmp_path / "b"), "neg_cross_sentence_count": 4}),
                  show_progress=False)
    assert plain.output_dir != cross.output_dir
    loss = lambda d: [row.split(",")[2] for row in (tmp_path / d / "log.csv").read_text().splitlines()[1:]]
    assert loss("a") != loss("b")  # the extra negatives change the relation loss
    with pytest.raises(ConfigError, match="neg_cross_sentence_count pairs sentences"):
        load_config(None, {**base, "neg_cross_sentence_count": 4, "context": "syntax", "syntax_model": "x"})
