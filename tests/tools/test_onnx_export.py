"""``spert export onnx`` end to end: export, then predict and evaluate with --backend onnx."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from spert.cli import app
from spert.errors import SpertError
from spert.tools.onnx_export import DEFAULT_INT8, INT8_RECIPES, resolve_recipe

from paths import CONLL04

pytest.importorskip("onnxruntime")


def test_export_then_predict_and_evaluate_with_onnx(tiny_model_dir, tmp_path):
    out = tmp_path / "int8"
    res = CliRunner().invoke(app, ["export", "onnx", "--model", str(tiny_model_dir), "--output", str(out),
                                   "--quantize", "int8"])
    assert res.exit_code == 0, res.output
    assert "int8: " + DEFAULT_INT8 in res.output and "Attention 2" in res.output
    meta = json.loads((out / "spert.json").read_text())
    assert meta["backend"]["quantization"]["name"] == DEFAULT_INT8
    src = tmp_path / "in.txt"
    src.write_text("John Smith works for Acme Corp. in New York.\nHe was born in London!\n", encoding="utf-8")
    pred = tmp_path / "pred.jsonl"
    res = CliRunner().invoke(app, ["predict", str(src), "--model", str(out), "--backend", "onnx", "-o", str(pred),
                                   "-q"])
    assert res.exit_code == 0, res.output
    assert len(pred.read_text().splitlines()) == 2
    res = CliRunner().invoke(app, ["evaluate", "--model", str(out), "--data", str(CONLL04 / "conll04_test.json"),
                                   "--output", str(tmp_path / "eval"), "-q", "--batch-size", "32"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "eval" / "metrics.json").exists()


def test_recipes():
    assert resolve_recipe(None) is None
    assert resolve_recipe("int8") is INT8_RECIPES[DEFAULT_INT8]
    with pytest.raises(SpertError, match="--quantize"):
        resolve_recipe("int4")
