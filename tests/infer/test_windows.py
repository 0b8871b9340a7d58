"""Sentences longer than the encoder takes: overlapping windows, merged spans and pairs, nothing truncated."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from spert.infer.extractor import SpERT
from spert.model.encoding import Encoding, encode_words
from spert.infer.runner import predict_documents
from spert.model.spans import candidate_spans
from spert.infer.windows import Window, best_window, plan_windows, predict_windowed, window_encoding
from spert.infer.options import PredictOptions

VOCAB = ("the a of John Smith Acme Corp works for in New York city was born London Paris met her there company "
         "river Washingtonian , . 1970").split()


@pytest.fixture(scope="module")
def model(tiny_model_dir) -> SpERT:
    return SpERT.load(tiny_model_dir)


def sentence(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(VOCAB) for _ in range(n)]


# -- planning -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_windows_fit_cover_and_overlap_by_about_half(seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 5, size=int(rng.integers(1, 600))).tolist()
    budget = int(rng.integers(40, 200))
    wins = plan_windows(counts, budget, min_overlap=10)
    prefix = np.concatenate([[0], np.cumsum(counts)])
    assert wins[0].start == 0 and wins[-1].end == len(counts)
    for a, b in zip(wins, wins[1:]):
        assert a.start < b.start <= a.end <= b.end
        overlap = prefix[a.end] - prefix[b.start]
        # about half a window (words are up to 4 subwords), and at least the longest span
        assert budget // 2 - 4 <= overlap <= budget // 2 or a.end - b.start == 10
        assert a.end - b.start >= 10
    for w in wins:
        assert 0 < prefix[w.end] - prefix[w.start] <= budget
    # every candidate span lies in some window, and is assigned to exactly one
    spans = candidate_spans(len(counts), 10)
    owner = best_window(wins, len(counts), spans[:, 0], spans[:, 1])
    assert (owner >= 0).all()
    for (s, e), k in zip(spans, owner):
        assert wins[k].start <= s and e <= wins[k].end


def test_one_window_when_everything_fits():
    assert plan_windows([1, 2, 3], 6) == [Window(0, 3)]
    assert plan_windows([], 6) == []


def test_a_word_longer_than_a_window_is_cut_not_fatal():
    wins = plan_windows([2, 50, 2, 2], 10)
    assert wins[0] == Window(0, 1) and any(w.start == 1 and w.end == 2 for w in wins) and wins[-1].end == 4
    enc = Encoding(tuple([101] + list(range(1000, 1056)) + [102]), (1, 3, 53, 55), (3, 53, 55, 57))
    cut = window_encoding(enc, Window(1, 2), 10)
    assert cut.input_ids == (101, *range(1002, 1012), 102) and cut.word_start == (1,) and cut.word_end == (11,)


def test_the_most_central_window_wins_and_sentence_edges_cost_nothing():
    wins = [Window(0, 10), Window(5, 15), Window(10, 20)]
    left = np.array([0, 6, 8, 12, 18, 3])
    right = np.array([1, 7, 10, 13, 20, 14])
    # [0,1): only window 0; [6,7): 0 is 3 words from its cut edge, 1 is 1 word -> 0;
    # [8,10): window 1 (3 and 5 from its edges) beats window 0 (0 from its cut end);
    # [12,13): window 1 has 2, window 2 has 2 -> the first; [18,20): window 2; [3,14) fits none
    assert best_window(wins, 20, left, right).tolist() == [0, 0, 1, 1, 2, -1]


def test_window_encoding_is_the_encoding_of_the_window_alone(model):
    words = sentence(50)
    enc = encode_words(model.tokenizer, words)
    assert window_encoding(enc, Window(0, 50), 10_000) is enc
    assert window_encoding(enc, Window(7, 31), 10_000) == encode_words(model.tokenizer, words[7:31])


# -- prediction ---------------------------------------------------------------------------------


def test_one_window_equals_the_evaluation_path(model):
    sents = [sentence(30, seed) for seed in range(4)]
    encs = [encode_words(model.tokenizer, s) for s in sents]
    thr = model.rel_filter_threshold
    ours = predict_windowed(model.module, model.tokenizer, sents, encs,
                            PredictOptions(rel_filter_threshold=thr, batch_size=1), limit=512)
    ref = predict_documents(model.module, model.tokenizer, sents,
                            PredictOptions(rel_filter_threshold=thr, batch_size=1))
    assert sum(len(p.relations) for p in ref) > 0
    for p, r in zip(ours, ref):
        assert [(e.type, e.start, e.end) for e in p.entities] == [(e.type, e.start, e.end) for e in r.entities]
        assert all(math.isclose(a.score, b.score, rel_tol=1e-5) for a, b in zip(p.entities, r.entities))
        assert [(x.type, x.head, x.tail) for x in p.relations] == [(x.type, x.head, x.tail) for x in r.relations]
        assert all(math.isclose(a.score, b.score, rel_tol=1e-5) for a, b in zip(p.relations, r.relations))


def test_windows_merge_exactly_what_each_window_predicts_alone(model):
    """A span's entity decision is the one of the window that owns it; a pair's score that of its window."""
    words = sentence(90, seed=3)
    enc = encode_words(model.tokenizer, words)
    limit = 42
    budget = limit - 2
    wins = plan_windows(np.asarray(enc.word_end) - np.asarray(enc.word_start), budget,
                        model.module.settings.max_span_size)
    assert len(wins) >= 4
    thr = model.rel_filter_threshold
    [merged] = predict_windowed(model.module, model.tokenizer, [words], [enc],
                                PredictOptions(rel_filter_threshold=thr, batch_size=1), limit=limit)
    alone = predict_documents(model.module, model.tokenizer, [words[w.start:w.end] for w in wins],
                              PredictOptions(rel_filter_threshold=thr, batch_size=1))

    spans = candidate_spans(len(words), model.module.settings.max_span_size)
    owner = best_window(wins, len(words), spans[:, 0], spans[:, 1])
    expected = set()
    for (s, e), k in zip(spans, owner):
        w = wins[k]
        expected |= {(x.type, s, e) for x in alone[k].entities if (x.start + w.start, x.end + w.start) == (s, e)}
    assert {(x.type, x.start, x.end) for x in merged.entities} == expected and expected

    checked = 0
    for r in merged.relations:
        h, t = merged.entities[r.head], merged.entities[r.tail]
        lo, hi = min(h.start, t.start), max(h.end, t.end)
        k = int(best_window(wins, len(words), np.array([lo]), np.array([hi]))[0])
        w, a = wins[k], alone[k]
        local = {(x.start + w.start, x.end + w.start): i for i, x in enumerate(a.entities)}
        if (h.start, h.end) in local and (t.start, t.end) in local:
            match = [x for x in a.relations if (x.head, x.tail, x.type) ==
                     (local[(h.start, h.end)], local[(t.start, t.end)], r.type)]
            assert len(match) == 1 and math.isclose(match[0].score, r.score, rel_tol=1e-5)
            checked += 1
    assert checked > 0


def test_a_1500_word_sentence_is_processed_completely(model):
    words = sentence(1500, seed=7)
    text = " ".join(words)  # no sentence-final punctuation only at random: one long spaCy sentence or several
    record = {"tokens": words}  # one sentence, certainly
    enc = encode_words(model.tokenizer, words)
    assert len(enc.input_ids) > 3 * model.max_length  # far beyond the encoder's 512
    [p] = model.predict([record])
    assert len(p.tokens) == 1500 and p.sentences == ((0, 1500),)
    assert p.entities and max(e.end for e in p.entities) > 1400  # the end of the sentence was read
    assert p.relations
    for e in p.entities:
        assert p.text[e.char_start:e.char_end] == e.text == " ".join(words[e.start:e.end])
    # pairs are scored in a window that holds both: never farther apart than a window
    budget = model.max_length - 2
    for r in p.relations:
        h, t = p.entities[r.head], p.entities[r.tail]
        lo, hi = min(h.start, t.start), max(h.end, t.end)
        assert enc.word_end[hi - 1] - enc.word_start[lo] <= budget
    [q] = model.predict([text])
    assert sum(e - s for s, e in q.sentences) == 1500
    for e in q.entities:
        assert q.text[e.char_start:e.char_end] == e.text


def test_given_entities_in_a_long_sentence(model):
    words = sentence(400, seed=11)
    ents = [{"type": "Peop", "start": 5, "end": 7}, {"type": "Org", "start": 12, "end": 13},
            {"type": "Loc", "start": 390, "end": 392}]
    model.max_length, old = 64, model.max_length
    try:
        [p] = model.predict_relations([{"tokens": words, "entities": ents}], rel_filter_threshold=0.0)
    finally:
        model.max_length = old
    assert [(e.start, e.end) for e in p.entities] == [(5, 7), (12, 13), (390, 392)]
    pairs = {(r.head, r.tail) for r in p.relations}
    assert pairs == {(0, 1), (1, 0)}  # the far entity shares no window with the others


def test_a_huge_word_does_not_crash(model):
    rng = random.Random(0)
    monster = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(4000))
    [p] = model.predict([f"John Smith met {monster} in New York ."])
    assert monster in p.tokens
    for e in p.entities:
        assert p.text[e.char_start:e.char_end] == e.text
