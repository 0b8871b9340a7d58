"""The prediction path with document context: what each sentence is encoded with (infer/runner.py) and
the sentences of one input of the Python API (and so of spert predict and spert serve) as one document."""

from __future__ import annotations

import logging

import pytest

from spert.infer.extractor import SpERT
from spert.infer.runner import encode_sentences, predict_documents
from spert.model.checkpoint import load_model
from spert.model.context import context_encodings
from spert.model.encoding import encode_words_batch
from spert.infer.options import PredictOptions

TEXT = "John Smith works for Acme Corp. in New York. He was born in London in 1970. Mary met him in Paris."


def _extractor(model_dir, context_words: int) -> SpERT:
    module, tokenizer, inference = load_model(model_dir)
    module.settings = module.settings.model_copy(update={"context_words": context_words})
    return SpERT(module, tokenizer, inference)


@pytest.fixture(scope="module")
def plain(tiny_model_dir) -> SpERT:
    return _extractor(tiny_model_dir, 0)


@pytest.fixture(scope="module")
def context(tiny_model_dir) -> SpERT:
    return _extractor(tiny_model_dir, 8)


def _scores(p):
    return [(e.start, e.end, e.type, e.score) for e in p.entities], [(r.head, r.tail, r.type, r.score)
                                                                     for r in p.relations]


def test_encode_sentences(plain, context, caplog):
    sentences = [["John", "lives", "here", "."], ["He", "works", "there", "."]]
    tok = plain.tokenizer
    assert encode_sentences(plain.module, tok, sentences, [[0, 1]]) == encode_words_batch(tok, sentences)
    assert encode_sentences(context.module, tok, sentences, [[0, 1]]) == \
        context_encodings(tok, sentences, [[0, 1]], 8, 512)
    with caplog.at_level(logging.WARNING, logger="spert.infer.runner"):
        assert encode_sentences(context.module, tok, sentences, None) == encode_words_batch(tok, sentences)
    assert "come without their documents" in caplog.text


def test_the_sentences_of_one_input_are_one_document(plain, context):
    [p] = context.predict(TEXT)
    sentences = [p.tokens[s:e] for s, e in p.sentences]
    assert len(sentences) == 3
    expected = predict_documents(context.module, context.tokenizer, sentences,
                                 PredictOptions(rel_filter_threshold=0.4), documents=[[0, 1, 2]])
    got = [[(e.start - s, e.end - s, e.type, e.score) for e in p.entities if s <= e.start < t]
           for s, t in p.sentences]
    assert got == [[(e.start, e.end, e.type, e.score) for e in d.entities] for d in expected]
    # the context is read: scores change; one sentence alone is a document of one and changes nothing
    assert _scores(p) != _scores(plain.predict(TEXT)[0])
    alone = "He was born in London in 1970."
    assert _scores(context.predict(alone)[0]) == _scores(plain.predict(alone)[0])
    # separate inputs are separate documents
    parts = ["John Smith works for Acme Corp. in New York.", alone]
    assert [_scores(x) for x in context.predict(parts)] == [_scores(x) for x in plain.predict(parts)]


def test_a_sentence_too_long_alone_is_windowed_without_context(plain, context):
    long = ["word"] * 600  # 602 subwords with start and end tokens; the tiny encoder takes 512
    record = {"tokens": ["Mary", "met", "John", "."] + long + ["He", "left", "."],
              "sentences": [[0, 4], [4, 604], [604, 607]]}
    [p] = context.predict([record])
    [q] = plain.predict([record])
    in_long = [(e.start, e.end, e.type, e.score) for e in p.entities if 4 <= e.start < 604]
    assert in_long == [(e.start, e.end, e.type, e.score) for e in q.entities if 4 <= e.start < 604]
    short = [record["tokens"][0:4], record["tokens"][604:607]]
    expected = predict_documents(context.module, context.tokenizer, short, PredictOptions(rel_filter_threshold=0.4),
                                 encodings=[context_encodings(context.tokenizer, [short[0], long, short[1]],
                                                              [[0, 1, 2]], 8, 512)[k] for k in (0, 2)])
    assert [(e.start, e.end, e.type, e.score) for e in p.entities if e.start < 4] == \
        [(e.start, e.end, e.type, e.score) for e in expected[0].entities]


def test_given_entities_read_the_context_too(plain, context):
    record = {"text": TEXT, "entities": [{"type": "Peop", "char_start": 0, "char_end": 10},
                                         {"type": "Org", "char_start": 21, "char_end": 30},
                                         {"type": "Peop", "char_start": 76, "char_end": 80},
                                         {"type": "Loc", "char_start": 92, "char_end": 97}]}
    [p] = context.predict_relations([record], rel_filter_threshold=0.0)
    [q] = plain.predict_relations([record], rel_filter_threshold=0.0)
    assert [(r.head, r.tail, r.type) for r in p.relations] == [(r.head, r.tail, r.type) for r in q.relations]
    assert [r.score for r in p.relations] != [r.score for r in q.relations]
