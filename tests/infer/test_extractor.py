"""The Python API: inputs of every kind, typed results, character offsets, JSON round trip, given entities."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import pytest
import torch

from spert.infer.extractor import SpERT
from spert.data.records import Prediction
from spert.errors import DataError
from spert.infer.options import PredictOptions

TEXT = "John Smith works for Acme Corp. in New York. He was born in London in 1970!"


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir):
    return tiny_model_dir


@pytest.fixture(scope="module")
def model(model_dir) -> SpERT:
    return SpERT.load(model_dir)


def check_offsets(p: Prediction, original: str | None = None) -> None:
    """Character offsets slice the input to the entity's text; relations index the entities."""
    assert original is None or p.text == original
    for e in p.entities:
        assert p.text[e.char_start:e.char_end] == e.text
        assert (e.char_start, e.char_end) == (p.offsets[e.start][0], p.offsets[e.end - 1][1])
        assert e.text.startswith(p.tokens[e.start]) and e.text.endswith(p.tokens[e.end - 1])
    for r in p.relations:
        assert 0 <= r.head < len(p.entities) and 0 <= r.tail < len(p.entities) and r.head != r.tail
        assert 0.0 <= r.score <= 1.0


def test_import_spert_does_not_import_torch():
    code = "import sys, spert; assert 'torch' not in sys.modules; from spert import SpERT; print(SpERT.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "SpERT"


def test_raw_text_becomes_sentences_with_character_offsets(model):
    [p] = model.predict([TEXT])
    assert p.text == TEXT and len(p.sentences) == 2
    assert p.entities and p.relations  # the biased tiny model finds some
    check_offsets(p, TEXT)
    for t in p.triples():
        assert t.head is p.entities[[e for e in p.entities].index(t.head)]
        assert t.relation in model.relation_types


def test_inputs_of_every_kind_in_one_call_keep_their_order(model):
    inputs = [TEXT, "", "   \n ", ["pre", "tokenized", "words"], {"tokens": ["New", "York"], "id": 7},
              {"text": "Paris is nice.", "doc_key": "x"}, "emoji 😀 control \x00\x07 zero\u200bwidth"]
    preds = model.predict(inputs, batch_size=3)
    assert len(preds) == len(inputs)
    assert preds[0].text == TEXT
    assert preds[1].tokens == () and preds[1].entities == [] and preds[1].to_json()["text"] == ""
    assert preds[2].tokens == () and preds[2].text == "   \n "
    assert preds[3].text == "pre tokenized words"
    assert preds[4].extra == {"id": 7} and preds[4].to_json()["id"] == 7
    assert preds[5].extra == {"doc_key": "x"} and preds[5].text == "Paris is nice."
    for p, original in zip(preds, [TEXT, "", "   \n ", None, None, "Paris is nice.", inputs[6]]):
        check_offsets(p, original)


def test_a_single_string_is_one_document(model):
    assert [p.text for p in model.predict(TEXT)] == [TEXT]


def test_offsets_always_slice_random_unicode_input(model):
    rng = random.Random(1)
    pieces = ["Acme", "Corp.", "John", "Smith", "New", "York", " ", "  ", "\n", "\t", ".", ",", "😀", "👍🏽", "\x00",
              "\u200b", "é", "e\u0301", "東京", "Zürich", "\u00a0", "!", "?", "'s", "(", ")", "\ufeff"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 60))) for _ in range(40)]
    for text, p in zip(texts, model.predict(texts, batch_size=16)):
        check_offsets(p, text)


def test_same_results_as_the_evaluation_path(model):
    from spert.infer.runner import predict_documents

    sentences = [TEXT.split(), "He was born in London in 1970 !".split()]
    ours = model.predict([list(s) for s in sentences])
    ref = predict_documents(model.module, model.tokenizer, sentences,
                            PredictOptions(rel_filter_threshold=model.rel_filter_threshold))
    for p, r in zip(ours, ref):
        assert [(e.type, e.start, e.end, e.score) for e in p.entities] == \
            [(e.type, e.start, e.end, e.score) for e in r.entities]
        assert [(x.type, x.head, x.tail, x.score) for x in p.relations] == \
            [(x.type, x.head, x.tail, x.score) for x in r.relations]


def test_threshold_and_no_overlap(model):
    [low] = model.predict(TEXT, rel_filter_threshold=0.2)
    [default] = model.predict(TEXT)
    [high] = model.predict(TEXT, rel_filter_threshold=0.9999)
    assert len(low.relations) > len(default.relations) > len(high.relations)
    assert all(r.score >= 0.2 for r in low.relations)
    [full] = model.predict(TEXT, rel_filter_threshold=0.2)
    [flat] = model.predict(TEXT, rel_filter_threshold=0.2, no_overlap=True)
    spans = [(e.start, e.end) for e in flat.entities]

    def overlap(a, b):
        return a[0] < b[1] and b[0] < a[1]

    # the ADE rule: no relation between overlapping entities; an entity overlapping another
    # stays only as the head or tail of a relation that stays
    assert not any(overlap(spans[r.head], spans[r.tail]) for r in flat.relations)
    arguments = {i for r in flat.relations for i in (r.head, r.tail)}
    assert all(i in arguments or not any(j != i and overlap(s, o) for j, o in enumerate(spans))
               for i, s in enumerate(spans))
    full_spans = [(e.start, e.end) for e in full.entities]
    kept = {(full_spans[r.head], full_spans[r.tail], r.type) for r in full.relations
            if not overlap(full_spans[r.head], full_spans[r.tail])}
    assert {(spans[r.head], spans[r.tail], r.type) for r in flat.relations} == kept


def test_json_round_trip(model):
    for p in model.predict([TEXT, "", ["a", "b"], {"tokens": ["x", "y"], "text": " x  y ", "id": 3}]):
        obj = p.to_json()
        text = json.dumps(obj, ensure_ascii=False)
        back = Prediction.from_json(json.loads(text))
        assert back.to_json() == obj  # scores are rounded to 6 decimals in JSON
        assert (back.text, back.tokens, back.offsets, back.sentences, back.extra) == \
            (p.text, p.tokens, p.offsets, p.sentences, p.extra)
        assert [(e.type, e.start, e.end, e.char_start, e.char_end, e.text) for e in back.entities] == \
            [(e.type, e.start, e.end, e.char_start, e.char_end, e.text) for e in p.entities]
        assert [(r.type, r.head, r.tail) for r in back.relations] == [(r.type, r.head, r.tail) for r in p.relations]
        assert all(abs(a.score - b.score) <= 1e-6 for a, b in zip(back.entities + back.relations,
                                                                  p.entities + p.relations))
        for e in obj["entities"]:
            assert obj["text"][e["char_start"]:e["char_end"]] == e["text"]


def test_from_json_reads_plain_spert_json():
    p = Prediction.from_json({"tokens": ["John", "works", "at", "Acme"], "orig_id": 5,
                              "entities": [{"type": "Peop", "start": 0, "end": 1}, {"type": "Org", "start": 3, "end": 4}],
                              "relations": [{"type": "Work_For", "head": 0, "tail": 1}]})
    assert p.text == "John works at Acme" and p.extra == {"orig_id": 5}
    assert p.entities[1].text == "Acme" and p.entities[1].score is None
    assert [(t.head.text, t.relation, t.tail.text) for t in p.triples()] == [("John", "Work_For", "Acme")]


@pytest.mark.parametrize("record, message", [
    ({"tokens": ["a"], "entities": [{"type": "X", "start": 0, "end": 2}]}, "end 2 is beyond"),
    ({"tokens": ["a", "b"], "entities": [{"type": "X", "start": 0, "end": 1}],
      "relations": [{"type": "R", "head": 0, "tail": 1}]}, "out of range"),
    ({"tokens": ["a"], "text": "b"}, "do not occur in order"),
    ({"tokens": ["a", "b"], "sentences": [[0, 1]]}, "cover 1 words of 2"),
    ({"words": ["a"]}, "needs 'text'"),
])
def test_from_json_errors_name_the_problem(record, message):
    with pytest.raises(DataError, match=message):
        Prediction.from_json(record, path="p.jsonl", line=4)


@pytest.mark.parametrize("item, message", [
    (3, "must be a string, a list of words or a JSON object"),
    ({"tokens": "abc"}, "field 'tokens': must be a list"),
    ({"tokens": ["a", None]}, r"field 'tokens\[1\]': must be a string"),
    ({"text": 5}, "field 'text': must be a string"),
    ({"tokens": ["a", "b"], "sentences": [[0, 1], [2, 2]]}, r"sentences\[1\]"),
])
def test_bad_inputs_raise_data_errors(model, item, message):
    with pytest.raises(DataError, match=message):
        model.predict([item])


def test_sentences_of_a_record_are_respected(model):
    [p] = model.predict([{"tokens": ["A", "b", ".", "C", "d", "."], "sentences": [[0, 3], [3, 6]]}])
    assert p.sentences == ((0, 3), (3, 6))
    # no entity and no relation crosses the sentence boundary
    assert all(e.end <= 3 or e.start >= 3 for e in p.entities)
    assert all((p.entities[r.head].start < 3) == (p.entities[r.tail].start < 3) for r in p.relations)


# -- relations for given entities ------------------------------------------------------------


def test_given_word_entities_come_back_unchanged_with_relations(model):
    record = {"tokens": TEXT.replace(".", " .").replace("!", " !").split(), "id": "d1",
              "entities": [{"type": "Peop", "start": 0, "end": 2}, {"type": "Org", "start": 4, "end": 6},
                           {"type": "Loc", "start": 8, "end": 10}, {"type": "MyOwnType", "start": 15, "end": 16}]}
    [p] = model.predict_relations([record], rel_filter_threshold=0.0)
    assert [(e.type, e.start, e.end, e.score) for e in p.entities] == \
        [(e["type"], e["start"], e["end"], None) for e in record["entities"]]
    # threshold 0: every ordered pair of distinct entities gets every type
    assert len(p.relations) == 4 * 3 * len(model.relation_types)
    check_offsets(p)
    assert p.extra == {"id": "d1"}


def test_given_relations_match_the_models_relation_step(model):
    """For entities the model predicts itself, given-entity mode scores the same pairs the same way."""
    [pred] = model.predict([TEXT.split()])
    given = {"tokens": TEXT.split(), "entities": [{"type": e.type, "start": e.start, "end": e.end}
                                                  for e in pred.entities]}
    [rel] = model.predict_relations([given])
    assert [(r.type, r.head, r.tail) for r in rel.relations] == [(r.type, r.head, r.tail) for r in pred.relations]
    for a, b in zip(rel.relations, pred.relations):
        assert math.isclose(a.score, b.score, rel_tol=1e-5)


def test_given_character_entities_split_words(model):
    text = "Dr. Alice Wong joined WidgetCo Inc. last year. She leads it."
    ents = [{"type": "Peop", "char_start": text.index("Alice"), "char_end": text.index("Wong") + 4},
            {"type": "Org", "char_start": text.index("Widget"), "char_end": text.index("Co ")},  # cuts a word
            {"type": "Org", "char_start": text.index("Inc."), "char_end": text.index("last") - 1},
            {"type": "Peop", "char_start": text.index("She") - 1, "char_end": text.index("She") + 3}]  # a space
    [p] = model.predict_relations([{"text": text, "entities": ents}], rel_filter_threshold=0.0)
    check_offsets(p, text)
    assert [e.text for e in p.entities] == ["Alice Wong", "Widget", "Inc.", "She"]  # trimmed to whole words
    assert "Widget" in p.tokens and "Co" in p.tokens
    # threshold 0: relations exactly between the entities that share a sentence
    sentence = [next(i for i, (s, e) in enumerate(p.sentences) if s <= x.start < e) for x in p.entities]
    expected = {(i, j) for i in range(4) for j in range(4) if i != j and sentence[i] == sentence[j]}
    assert {(r.head, r.tail) for r in p.relations} == expected and expected


def test_entity_across_sentences_merges_them(model):
    text = "It was Mr. Smith. Jones was there. Later, nothing."
    ents = [{"type": "Peop", "char_start": text.index("Smith"), "char_end": text.index("Jones") + 5},
            {"type": "Peop", "char_start": text.index("Later"), "char_end": text.index("Later") + 5}]
    [plain] = model.predict([text])
    [p] = model.predict_relations([{"text": text, "entities": ents}], rel_filter_threshold=0.0)
    assert len(p.sentences) == len(plain.sentences) - 1
    check_offsets(p, text)


@pytest.mark.parametrize("record, message", [
    ("raw text", "need each record's 'entities'"),
    ({"text": "abc"}, "need each record's 'entities'"),
    ({"text": "abc  d", "entities": [{"type": "X", "char_start": 3, "char_end": 5}]}, "hold no word"),
    ({"text": "abc", "entities": [{"type": "X", "char_start": 1, "char_end": 9}]}, "outside the document's 3 characters"),
    ({"tokens": ["a"], "entities": [{"type": "X", "start": 0}]}, r"entities\[0\].end': missing"),
    ({"tokens": ["w"] * 120, "entities": [{"type": "X", "start": 0, "end": 100}]}, "at most 99"),
])
def test_bad_given_entities(model, record, message):
    with pytest.raises(DataError, match=message):
        model.predict_relations([record])


@pytest.mark.parametrize("item,field", [("Ada \ud83d lives", "text"), (["Ada", "\udc00"], "tokens[1]"),
                                        ({"text": "x \ud800"}, "text"), ({"tokens": ["a", "b\udfff"]}, "tokens[1]")])
def test_lone_surrogates_are_a_clear_error(model, item, field):
    with pytest.raises(DataError) as e:
        model.predict([item])
    assert f"field '{field}'" in str(e.value) and "lone surrogate" in str(e.value)


def test_bf16_precision_runs_the_model_in_bf16_and_stays_close(model_dir, model, tmp_path):
    """precision="bf16": the encoder's matrix products run in bf16 under autocast (seen by hooks on its linear
    layers; autocast keeps layer norms in float32), probabilities come out in float32 and close to fp32's;
    an ONNX directory or an unknown precision is refused by name."""
    from spert.errors import CheckpointError

    fast = SpERT.load(model_dir, precision="bf16")
    seen = []
    for layer in fast.module.encoder.modules():
        if isinstance(layer, torch.nn.Linear):
            layer.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    texts = [TEXT, "Ada Lovelace was born in London."]
    ref, got = model.predict(texts), fast.predict(texts)
    assert seen and set(seen) == {torch.bfloat16} and model.module.precision == "fp32"
    for a, b in zip(ref, got):
        check_offsets(b)
        scores = {(e.start, e.end, e.type): e.score for e in a.entities}
        shared = [e for e in b.entities if (e.start, e.end, e.type) in scores]
        assert len(shared) >= 0.8 * max(len(a.entities), 1)  # bf16's 8 bits of mantissa move a few near 0.5
        assert all(abs(e.score - scores[(e.start, e.end, e.type)]) < 0.05 for e in shared)
    with pytest.raises(CheckpointError, match="unknown precision 'fp8'"):
        SpERT.load(model_dir, precision="fp8")


def test_bf16_is_refused_for_an_onnx_export(tiny_onnx_dirs):
    from spert.errors import CheckpointError

    with pytest.raises(CheckpointError, match="ONNX Runtime's own precision"):
        SpERT.load(next(iter(tiny_onnx_dirs.values())), precision="bf16")
