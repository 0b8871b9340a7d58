"""The benchmark end to end on the tiny random encoder: every figure present and positive, ours
and naive agreeing. Speed is never asserted here (BENCHMARKS.md holds the measured figures)."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from spert.cli import app
from spert.data.schema import load_types
from spert.model.checkpoint import build_model, save_model
from spert.model.encoding import load_tokenizer
from spert.model.network import ModelSettings


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
    assert set(r["by_batch_size"][0]["backends"]) == {"torch-int8"}
    (row,) = r["lengths"]
    assert row["words"] == 30 and row["subwords"] == 32
    for impl in ("ours", "naive"):
        assert _positive(row[impl]["peak_mb"]) and _positive(row[impl]["ms"])
    assert (tmp_path / "bench.png").stat().st_size > 0
    assert "spert bench" in res.output and "naive" in res.output and "torch-int8" in res.output


def test_bench_compares_backends_on_the_same_batches(tiny_model_dir, few_docs, tmp_path):
    out = tmp_path / "bench.json"
    res = CliRunner().invoke(app, ["bench", "--model", str(tiny_model_dir), "--data", str(few_docs), "--json", str(out),
                                   "--batch-sizes", "4", "--lengths", "none",
                                   "--train-updates", "0", "--repeats", "1", "--no-naive",
                                   "--backends", "torch,onnx,onnx-int8"])
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    assert r["settings"]["backends"] == ["torch", "onnx", "onnx-int8"]
    assert r["backends"]["onnx"]["quantization"] is None and r["backends"]["onnx-int8"]["quantization"]
    (row,) = r["by_batch_size"]
    for name in ("onnx", "onnx-int8"):
        b = row["backends"][name]
        assert _positive(b["inference"]["sentences_per_s"]) and _positive(b["speedup"])
        assert set(b["f1_change"]) == {"ner", "rel", "rel_plus"}
    assert row["backends"]["onnx"]["same_as_torch"]["identical"]  # fp32 ONNX predicts what PyTorch does
    assert row["backends"]["onnx"]["f1"] == row["f1"]
    assert "onnx-int8 at batch 4" in res.output and "F1 cost" in res.output
