"""The batched syntactic context equals the reference (spert.data.syntax) on random forests and pairs."""

from __future__ import annotations

import random

import pytest
import torch

from spert.data import syntax
from spert.model.dependency import path_words, pool_words, span_heads, syntax_context


def random_tree(rng: random.Random, n: int) -> tuple[int, ...]:
    """A random tree over n words: each word but the root hangs from an earlier-chosen word."""
    order = list(range(n))
    rng.shuffle(order)
    heads = [0] * n
    heads[order[0]] = order[0]
    for i in range(1, n):
        heads[order[i]] = order[rng.randrange(i)]
    return tuple(heads)


def batch_of(rng: random.Random, sizes: list[int]):
    """Trees of several sentences as one forest over global words, with random span pairs."""
    trees = [random_tree(rng, n) for n in sizes]
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    parent = torch.tensor([o + h for o, t in zip(offsets, trees) for h in t])
    depth = torch.tensor([d for t in trees for d in syntax.depths(t)])
    pairs = []
    for _ in range(40):
        s = rng.randrange(len(sizes))
        n = sizes[s]
        spans = []
        for _ in range(2):
            a = rng.randrange(n)
            spans.append((a, rng.randrange(a + 1, min(n, a + 4) + 1)))
        pairs.append((s, *spans))
    return trees, offsets, parent, depth, pairs


@pytest.mark.parametrize("seed", range(5))
def test_batched_context_equals_the_reference(seed):
    rng = random.Random(seed)
    trees, offsets, parent, depth, pairs = batch_of(rng, [rng.randrange(1, 25) for _ in range(4)])
    o = torch.tensor([offsets[s] for s, _, _ in pairs])
    s1, e1 = torch.tensor([a for _, (a, _), _ in pairs]) + o, torch.tensor([b for _, (_, b), _ in pairs]) + o
    s2, e2 = torch.tensor([a for _, _, (a, _) in pairs]) + o, torch.tensor([b for _, _, (_, b) in pairs]) + o
    heads = span_heads(depth, s1, e1)
    assert heads.tolist() == [offsets[s] + syntax.span_head(trees[s], *x) for s, x, _ in pairs]
    q, w = syntax_context(parent, depth, s1, e1, s2, e2)
    got = [[] for _ in pairs]
    for qi, wi in zip(q.tolist(), w.tolist()):
        got[qi].append(wi)
    want = [[offsets[s] + x for x in syntax.syntax_context(trees[s], a, b)] for s, a, b in pairs]
    assert got == want


def test_path_words_lists_each_word_once():
    heads = (1, 1, 1, 2)  # 0 <- 1 -> 2 -> 3
    parent, depth = torch.tensor(heads), torch.tensor(syntax.depths(heads))
    q, w = path_words(parent, depth, torch.tensor([0, 3, 2]), torch.tensor([3, 0, 2]))
    assert [(a, b) for a, b in zip(q.tolist(), w.tolist())] == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1),
                                                                   (1, 2), (1, 3), (2, 2)]


@pytest.mark.parametrize("mode", ["max", "mean", "sum"])
def test_pooling_over_word_sets_with_an_empty_set(mode):
    x = torch.tensor([[1.0, -2.0], [3.0, 0.5], [-1.0, 4.0]], requires_grad=True)
    query, word = torch.tensor([0, 0, 2]), torch.tensor([0, 2, 1])
    out = pool_words(x, query, word, 3, mode)
    ref = {"max": [[1.0, 4.0], [0.0, 0.0], [3.0, 0.5]], "sum": [[0.0, 2.0], [0.0, 0.0], [3.0, 0.5]],
           "mean": [[0.0, 1.0], [0.0, 0.0], [3.0, 0.5]]}[mode]
    assert out.tolist() == ref  # query 1 has no word: zero, as the localized context of adjacent spans
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


# -- end to end: train with context syntax, save, reload, predict; refused without the parser --------


@pytest.fixture(scope="module")
def parser_dir(tmp_path_factory):
    import syntax_fixtures

    path = tmp_path_factory.mktemp("parser") / "tiny_parser"
    syntax_fixtures.tiny_parser().to_disk(path)
    return path


@pytest.mark.parametrize("context", ["syntax", "localized+syntax"])
def test_a_model_with_syntactic_context_trains_saves_and_predicts(tmp_path, tiny_encoder_dir, parser_dir, context):
    import json
    import shutil

    from paths import CONLL04
    from spert.errors import CheckpointError
    from spert.infer.extractor import SpERT
    from spert.train.config import load_config
    from spert.train.loop import train

    cfg = load_config(None, dict(train_path=str(CONLL04 / "conll04_train.json"),
                                 types_path=str(CONLL04 / "conll04_types.json"),
                                 test_path=str(CONLL04 / "conll04_test.json"), output_dir=str(tmp_path / "run"),
                                 encoder=str(tiny_encoder_dir), max_train_docs=8, max_eval_docs=6, epochs=1,
                                 neg_entity_count=10, neg_relation_count=10, context=context,
                                 syntax_model=str(parser_dir)))
    train(cfg, show_progress=False)
    meta = json.loads((tmp_path / "run" / "model" / "spert.json").read_text())
    assert meta["syntax"] == {"model": str(parser_dir), "version": "0.0.1"}
    assert meta["model"]["context"] == context
    model = SpERT.load(tmp_path / "run" / "model")
    raw, words = model.predict(["Smith works for Acme in Paris .", "Ada met Babbage .".split()])
    assert raw.tokens and words.tokens == ("Ada", "met", "Babbage", ".")
    moved = tmp_path / "elsewhere"
    shutil.move(str(parser_dir), moved)
    from spert.model.dependency import load_parser

    load_parser.cache_clear()
    try:
        with pytest.raises(CheckpointError, match="dependency parses of spaCy pipeline .*cannot be loaded here"):
            SpERT.load(tmp_path / "run" / "model")
    finally:
        shutil.move(str(moved), parser_dir)
        load_parser.cache_clear()


def test_syntactic_context_needs_a_parser_and_a_parser_needs_syntactic_context():
    from pydantic import ValidationError

    from spert.model.settings import ModelSettings

    with pytest.raises(ValidationError, match="give syntax_model"):
        ModelSettings(context="syntax")
    with pytest.raises(ValidationError, match="read only by context syntax"):
        ModelSettings(syntax_model="en_core_web_sm")
    with pytest.raises(ValidationError, match="needs context localized or full"):
        ModelSettings(context="syntax", syntax_model="x", context_pooling="attention")
