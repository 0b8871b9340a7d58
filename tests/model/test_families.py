"""Every encoder family end to end, on tiny random models built in the test (no download).

For each family (``family_fixtures.FAMILIES``: BERT, RoBERTa, DeBERTa-v2/v3, ELECTRA,
DistilBERT, MPNet, XLM-RoBERTa, ALBERT): the word-to-subword ranges equal the tokenizer's own
``word_ids`` on the words; the start token is the family's first special token and its vector
the [CLS] context; the longest input is the family's; a few training steps, evaluation, save
and reload; ``spert predict`` on raw text with exact character offsets; a sentence longer than
the encoder through the windows; ``spert export onnx`` with equal predictions; one request
through the server. Encoders that cannot work are refused with a message naming them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from transformers import AutoTokenizer
from typer.testing import CliRunner

from family_fixtures import FAMILIES, POSITIONS, bias_heads, build_encoder, short_documents, write_documents
from paths import CONLL04
from spert.errors import EncoderError
from spert.infer.extractor import SpERT
from spert.model.batch import collate
from spert.model.checkpoint import build_model, load_model, save_model
from spert.model.encoders import FAMILIES as ENCODER_FAMILIES
from spert.model.encoders import can_pack, check_encoder, max_subwords
from spert.model.encoding import encode_words_batch, load_tokenizer
from spert.model.settings import ModelSettings
from spert.model.spans import Sample
from spert.train.config import load_config
from spert.train.loop import train
from spert.train.sampling import seeded_rng, training_sample
from spert.data.documents import read_documents
from spert.data.schema import load_types

TYPES = CONLL04 / "conll04_types.json"
TEXT = "Ada Lovelace was born in London. She met Charles Babbage at the University of Cambridge in 1833."
WORDS = [["Ada", "Lovelace", "was", "born", "in", "London", "."],
         ["Zoë", "met", "José", "in", "Zürich", "(", "1833", ")", "—", "naïve", "Straße", "!"],
         ["Smith", ",", "42", ",", "said", "the", "company's", "shares", "rose", "3.5%", "."],
         ["Angela", "Merkel", "lebt", "in", "Berlin", ";", "北京", "l'Élysée"]]


def _long_text() -> str:
    """One sentence with more subwords than any tiny encoder takes (64 positions)."""
    return " ".join(["Charles Babbage worked in London with Ada Lovelace ,"] * 7) + " and then left."


@dataclass
class Trained:
    name: str
    encoder: Path  # the tiny random encoder
    run: Path  # spert train's output directory
    model: Path  # the trained model with heads biased to find entities and relations (family_fixtures.bias_heads)
    extractor: SpERT  # that model, loaded


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request, tmp_path_factory) -> Trained:
    """A tiny encoder of the family, trained a few steps, evaluated, saved; then biased and saved again."""
    name = request.param
    root = tmp_path_factory.mktemp(name.replace("-", "_"))
    encoder = build_encoder(name, root / "encoder")
    train_file = write_documents(root / "train.json", short_documents("train", 4))
    test_file = write_documents(root / "test.json", short_documents("dev", 2))
    cfg = load_config(None, dict(train_path=str(train_file), types_path=str(TYPES), test_path=str(test_file),
                                 output_dir=str(root / "run"), encoder=str(encoder), epochs=1, batch_size=2, lr=1e-3,
                                 eval_every=0, neg_entity_count=10, neg_relation_count=10))
    train(cfg, show_progress=False)
    model, tokenizer, inference = load_model(root / "run" / "model")
    bias_heads(model)
    save_model(model, tokenizer, root / "biased", inference)
    return Trained(name, encoder, root / "run", root / "biased", SpERT.load(root / "biased"))


def _reference(family: Trained, words: list[str]):
    """The tokenizer's own encoding of the words, as transformers splits them (``is_split_into_words``):
    byte-level BPE with ``add_prefix_space=True``, which its docs require for words."""
    kwargs = {"add_prefix_space": True} if FAMILIES[family.name].kind == "bpe" else {}
    return AutoTokenizer.from_pretrained(str(family.encoder), **kwargs)(words, is_split_into_words=True)


def test_word_ranges_equal_the_tokenizers_word_ids(family):
    tok = load_tokenizer(str(family.encoder))
    for words, enc in zip(WORDS, encode_words_batch(tok, WORDS)):
        ref = _reference(family, words)
        assert list(enc.input_ids) == ref["input_ids"], words  # subwords, start and end tokens alike
        ids = ref.word_ids()
        for i in range(len(words)):
            assert [t for t, w in enumerate(ids) if w == i] == list(range(enc.word_start[i], enc.word_end[i])), words[i]


def test_start_token_is_the_families_first_special_token_and_the_context(family):
    model, tok = family.extractor.module, family.extractor.tokenizer
    spec = FAMILIES[family.name]
    (enc,) = encode_words_batch(tok, [WORDS[0]])
    assert tok.convert_ids_to_tokens([enc.input_ids[0], enc.input_ids[-1]]) == [spec.start, spec.end]
    batch = collate([enc], [Sample(np.array([[0, 1]]), None, np.zeros((0, 2), dtype=np.int64), None)],
                    tok.pad_token_id)
    with torch.no_grad():
        cls, _, _ = model.encode(batch)
        h = model.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
    torch.testing.assert_close(cls, h[:, 0])


def test_longest_input_is_the_families(family):
    model, tok = family.extractor.module, family.extractor.tokenizer
    limit = max_subwords(model.encoder.config, tok)
    assert limit == POSITIONS == family.extractor.max_length
    ids = torch.full((1, limit), tok.unk_token_id)
    with torch.no_grad():  # the longest input runs: every position it needs exists
        assert model.encoder(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state.shape[1] == limit


def test_training_evaluates_and_the_model_loads_again(family):
    metrics = json.loads((family.run / "metrics.json").read_text())
    assert {"ner", "rel", "rel_plus"} <= set(metrics)
    assert len(json.loads((family.run / "predictions.json").read_text())) == 2
    again = SpERT.load(family.model)
    first, second = family.extractor.predict([TEXT, WORDS[1]]), again.predict([TEXT, WORDS[1]])
    assert [p.to_json() for p in first] == [p.to_json() for p in second]
    assert first[0].entities and first[0].relations  # the biased heads find some


def _check_offsets(record: dict) -> None:
    """Each entity's characters are its words, in order, from the first word's first character to the last's last."""
    text = record["text"]
    for e in record["entities"]:
        span = text[e["char_start"]:e["char_end"]]
        assert span == e["text"]
        words, pos = record["tokens"][e["start"]:e["end"]], 0
        assert span.startswith(words[0]) and span.endswith(words[-1])
        for w in words:
            pos = span.index(w, pos) + len(w)
        assert pos == len(span)


def test_spert_predict_raw_text_with_exact_offsets(family, tmp_path):
    from spert.cli import app

    source = tmp_path / "in.txt"
    source.write_text(TEXT + "\n" + WORDS[1][0] + " " + " ".join(WORDS[3]) + "\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["predict", str(source), "--model", str(family.model), "-o",
                                   str(tmp_path / "out.jsonl"), "-q"])
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in records] == source.read_text(encoding="utf-8").splitlines()
    for r in records:
        assert r["entities"]
        _check_offsets(r)


def test_a_sentence_longer_than_the_encoder_goes_through_the_windows(family):
    ex = family.extractor
    text = _long_text()
    (pred,) = ex.predict(text)
    (enc,) = encode_words_batch(ex.tokenizer, [list(pred.tokens)])
    assert len(pred.sentences) == 1 and len(enc.input_ids) > ex.max_length  # too long for one pass
    assert all(text[a:b] == w for w, (a, b) in zip(pred.tokens, pred.offsets))
    _check_offsets(pred.to_json())
    assert max(e.end for e in pred.entities) > len(pred.tokens) - 5  # found up to the end, past the first window
    assert pred.relations


# Exporting and optimising takes a few seconds a family: CI exports one family of each tokenizer kind (the
# default BERT's WordPiece, RoBERTa's byte-level BPE, XLM-R's SentencePiece); -m slow exports every family.
ONNX_IN_CI = ("bert", "roberta", "xlm-roberta")


@pytest.mark.parametrize("family", [pytest.param(n, marks=() if n in ONNX_IN_CI else pytest.mark.slow)
                                    for n in FAMILIES], indirect=True)
def test_onnx_export_predicts_the_same(family, tmp_path):
    pytest.importorskip("onnxruntime")
    from spert.tools.onnx_export import export_onnx

    export_onnx(family.model, tmp_path / "onnx")
    onnx = SpERT.load(tmp_path / "onnx")
    inputs = [TEXT, _long_text(), WORDS[1]]
    expected, got = family.extractor.predict(inputs), onnx.predict(inputs)
    for e, g in zip(expected, got):
        assert [(x.type, x.start, x.end) for x in g.entities] == [(x.type, x.start, x.end) for x in e.entities]
        assert [(r.type, r.head, r.tail) for r in g.relations] == [(r.type, r.head, r.tail) for r in e.relations]
        assert [x.score for x in g.entities] == pytest.approx([x.score for x in e.entities], abs=1e-4)


def test_one_request_through_the_server(family):
    from spert.serve.server import create_app
    from spert.serve.settings import ServeSettings

    with TestClient(create_app(ServeSettings(model=family.model), family.extractor)) as client:
        response = client.post("/v1/extract", json={"texts": [TEXT]})
    assert response.status_code == 200, response.text
    assert response.json()["documents"] == json.loads(json.dumps([family.extractor.predict(TEXT)[0].to_json()]))


def test_packed_training_only_where_exact_and_then_equal(family):
    """Families marked packable train packed batches; the loss and gradients equal the padded batch's."""
    docs = read_documents(family.run.parent / "train.json", load_types(TYPES))[:2]
    tok = load_tokenizer(str(family.encoder))
    torch.manual_seed(0)
    model = build_model(ModelSettings(encoder=str(family.encoder), dropout=0.0), load_types(TYPES), str(family.encoder))
    model.encoder.config.hidden_dropout_prob = 0.0
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    samples = [training_sample(d, model.schema, seeded_rng(0, 0, i), neg_entity_count=5, neg_relation_count=3)
               for i, d in enumerate(docs)]
    batch = collate(encode_words_batch(tok, [d.tokens for d in docs]), samples, tok.pad_token_id)
    model.train()
    assert model._should_pack(batch) == can_pack(model.encoder.config) == ENCODER_FAMILIES[family.name].packable
    if not model._should_pack(batch):
        return
    losses = {}
    for pack in (False, True):
        with model.using(pack_training=pack):
            losses[pack] = model(batch).loss
    torch.testing.assert_close(losses[True], losses[False], rtol=1e-5, atol=1e-6)


# -- encoders that cannot work ---------------------------------------------------------------


def test_every_tested_family_has_its_entry():
    assert set(FAMILIES) <= set(ENCODER_FAMILIES)


def test_a_decoder_only_model_is_refused_by_name(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2Model, GPT2TokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.train_from_iterator([TEXT], trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"]))
    tok = GPT2TokenizerFast(tokenizer_object=raw)
    GPT2Model(GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=1, n_head=2, n_positions=32)).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    with pytest.raises(EncoderError, match=rf"encoder '{tmp_path}' \(model type 'gpt2'\) is a decoder-only"):
        build_model(ModelSettings(encoder=str(tmp_path)), load_types(TYPES), str(tmp_path))


def test_an_encoder_decoder_model_is_refused():
    from transformers import T5Config

    with pytest.raises(EncoderError, match=r"'t5-small' \(model type 't5'\) is an encoder-decoder"):
        check_encoder(T5Config(), "t5-small")


def test_a_tokenizer_without_a_fast_version_is_refused(monkeypatch):
    import spert.model.encoding as encoding

    class Slow:
        is_fast = False

    monkeypatch.setattr(encoding.AutoTokenizer, "from_pretrained", lambda *a, **k: Slow())
    with pytest.raises(EncoderError, match=r"encoder 'some/model' has no fast \(Rust\) tokenizer"):
        load_tokenizer("some/model")
