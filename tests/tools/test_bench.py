"""The benchmark on the tiny random encoder: every figure present and positive, ours and naive
agreeing. Speed is never asserted here (BENCHMARKS.md holds the measured figures)."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from spert.tools.bench import (BenchSettings, calibrate_untrained_heads, encoder_batches, format_report,
                         load_bench_model, parse_int_list, single_subword_words, synthetic_sentence)
from spert.model.checkpoint import build_model, save_model
from spert.cli import app
from spert.data.documents import read_documents
from spert.model.encoding import encode_words_batch, load_tokenizer
from spert.errors import SpertError
from spert.model.settings import ModelSettings
from spert.data.schema import load_types

from paths import CONLL04


@pytest.fixture(scope="module")
def few_docs(tmp_path_factory):
    """Ten CoNLL04 test sentences, with their annotations."""
    docs = json.loads((CONLL04 / "conll04_test.json").read_text(encoding="utf-8"))[:10]
    path = tmp_path_factory.mktemp("bench_data") / "few.json"
    path.write_text(json.dumps(docs), encoding="utf-8")
    return path


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and x > 0


def test_bench_cli_writes_every_figure(tiny_encoder_dir, conll04_types, few_docs, tmp_path):
    # a model directory, as `spert train` writes it (untrained heads, but loaded as a trained model)
    torch.manual_seed(0)
    model = build_model(ModelSettings(encoder=str(tiny_encoder_dir)), load_types(conll04_types),
                        str(tiny_encoder_dir))
    model_dir = tmp_path / "model"
    save_model(model, load_tokenizer(str(tiny_encoder_dir)), model_dir)
    out = tmp_path / "bench.json"
    res = CliRunner().invoke(app, ["bench", "--model", str(model_dir), "--data", str(few_docs), "--json", str(out),
                                   "--batch-sizes", "1,4", "--lengths", "30", "--train-updates", "2",
                                   "--repeats", "1", "--length-repeats", "1", "--quantize"])
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    for key in ("inference", "encoder_only"):
        assert _positive(r[key]["sentences_per_s"])
    assert _positive(r["overhead_ratio"])
    assert _positive(r["naive"]["inference"]["sentences_per_s"])
    assert _positive(r["train"]["sentences_per_s"]) and _positive(r["naive"]["train"]["sentences_per_s"])
    assert [row["batch_size"] for row in r["by_batch_size"]] == [1, 4]
    assert all(row["predictions_identical"] for row in r["by_batch_size"])
    assert r["predictions_identical"] and r["f1"] == r["naive"]["f1"]
    assert r["train"]["max_loss_difference_vs_naive"] < 1e-4  # same loss with dropout off
    assert _positive(r["int8"]["inference"]["sentences_per_s"]) and "f1_change" in r["int8"]
    (row,) = r["lengths"]
    assert row["words"] == 30 and row["subwords"] == 32
    for impl in ("ours", "naive"):
        assert _positive(row[impl]["peak_mb"]) and _positive(row[impl]["ms"])
    assert (tmp_path / "bench.png").stat().st_size > 0
    assert "spert bench" in res.output and "naive" in res.output


def test_untrained_heads_are_calibrated(tiny_encoder_dir, conll04_types, few_docs):
    model, tok, threshold, description = load_bench_model(str(tiny_encoder_dir), conll04_types, few_docs, 0)
    assert "untrained" in description
    docs = read_documents(few_docs, model.schema)
    encodings = encode_words_batch(tok, [d.tokens for d in docs])
    batch = encoder_batches(model, encodings, 32, 0)[0]
    before = model.state_dict()["encoder.embeddings.word_embeddings.weight"].clone()
    calibrate_untrained_heads(model, batch, threshold, entity_rate=0.05)
    kept = len(model.predict(batch).span_index)
    assert 0 < kept <= 0.1 * len(batch.span_doc)
    assert torch.equal(before, model.state_dict()["encoder.embeddings.word_embeddings.weight"])


def test_encoder_needs_types_when_ambiguous(tiny_encoder_dir, few_docs):
    with pytest.raises(SpertError, match="--types"):
        load_bench_model(str(tiny_encoder_dir), None, few_docs, 0)


def test_synthetic_sentence_is_one_subword_a_word(tiny_encoder_dir, conll04_types, few_docs):
    tok = load_tokenizer(str(tiny_encoder_dir))
    words = single_subword_words(tok, read_documents(few_docs, load_types(conll04_types)))
    sentence = synthetic_sentence(words, 300)
    assert len(sentence) == 300
    assert len(encode_words_batch(tok, [sentence])[0].input_ids) == 302


def test_parse_int_list():
    assert parse_int_list("1,8,32", "--batch-sizes") == (1, 8, 32)
    assert parse_int_list("none", "--lengths") == ()
    with pytest.raises(SpertError, match="--lengths"):
        parse_int_list("25,x", "--lengths")
    with pytest.raises(SpertError):
        parse_int_list("0", "--batch-sizes")


def test_settings_defaults_match_the_issue():
    s = BenchSettings(model="m")
    assert s.batch_sizes == (1, 8, 32) and s.lengths == (25, 50, 100, 200, 300)
    assert str(s.data).endswith("conll04/conll04_test.json")
    assert callable(format_report)
