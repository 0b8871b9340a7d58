"""The ONNX encoder is a drop-in for the PyTorch one at inference."""

from __future__ import annotations

import json

import pytest
import torch

from spert.data.documents import read_documents
from spert.errors import CheckpointError
from spert.infer.runner import predict_documents
from spert.model.checkpoint import load_model
from spert.model.encoding import encode_words_batch
from spert.model.onnx import OnnxEncoder
from spert.tools.bench.calibrate import calibrate_untrained_heads
from spert.tools.bench.inference import encoder_batches
from spert.infer.options import PredictOptions

from paths import CONLL04


def test_onnx_encoder_equals_torch_on_padded_batches(tiny_model_dir, tiny_onnx_dirs):
    torch_model, _, _ = load_model(tiny_model_dir)
    onnx_model, _, _ = load_model(tiny_onnx_dirs["onnx"], backend="onnx")
    assert isinstance(onnx_model.encoder, OnnxEncoder)
    assert not any(k.startswith("encoder.") for k in onnx_model.state_dict())  # heads only
    torch.manual_seed(0)
    for shape in [(1, 5), (3, 17), (8, 40)]:  # dynamic batch and length
        ids = torch.randint(1000, 3000, shape)
        mask = torch.ones_like(ids)
        mask[0, shape[1] // 2:] = 0  # padding in the first row
        with torch.inference_mode():
            ref = torch_model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        got = onnx_model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        assert got.shape == ref.shape and got.dtype == torch.float32
        keep = mask.bool()
        assert torch.allclose(got[keep], ref[keep], atol=1e-4), (got[keep] - ref[keep]).abs().max()


def test_onnx_predictions_equal_torch(tiny_model_dir, tiny_onnx_dirs, conll04_types):
    docs = read_documents(CONLL04 / "conll04_test.json", None)[:24]
    tokens = [d.tokens for d in docs]
    torch_model, tok, inference = load_model(tiny_model_dir)
    onnx_model, _, _ = load_model(tiny_onnx_dirs["onnx"])
    # random heads keep all spans or none: calibrate them to keep a few (biases only), the same in both
    encodings = encode_words_batch(tok, tokens)
    calibrate_untrained_heads(torch_model, encoder_batches(torch_model, encodings, 32, 0)[0], 0.4)
    heads = {k: v for k, v in torch_model.state_dict().items() if not k.startswith("encoder.")}
    onnx_model.load_state_dict(heads)
    preds = {name: predict_documents(m, tok, tokens, PredictOptions(batch_size=8, rel_filter_threshold=0.4))
             for name, m in (("torch", torch_model), ("onnx", onnx_model))}
    assert sum(len(p.entities) for p in preds["torch"]) > 0 and sum(len(p.relations) for p in preds["torch"]) > 0
    for a, b in zip(preds["torch"], preds["onnx"]):
        assert a.to_document() == b.to_document()
        for x, y in zip(a.entities + a.relations, b.entities + b.relations):
            assert abs(x.score - y.score) < 1e-4


def test_backend_mismatch_is_a_clear_error(tiny_model_dir, tiny_onnx_dirs):
    with pytest.raises(CheckpointError, match="spert export onnx"):
        load_model(tiny_model_dir, backend="onnx")
    with pytest.raises(CheckpointError, match="holds a onnx model, not torch"):
        load_model(tiny_onnx_dirs["onnx"], backend="torch")
    with pytest.raises(CheckpointError, match="unknown backend"):
        load_model(tiny_model_dir, backend="tensorflow")


def test_export_records_what_it_holds(tiny_onnx_dirs):
    fp32 = json.loads((tiny_onnx_dirs["onnx"] / "spert.json").read_text())["backend"]
    int8 = json.loads((tiny_onnx_dirs["onnx-int8"] / "spert.json").read_text())["backend"]
    assert fp32["name"] == "onnx" and fp32["quantization"] is None and fp32["opset"] == 17
    assert fp32["onnxruntime"] and fp32["fused_operators"].get("Attention") == 2  # one per layer
    assert fp32["fused_operators"].get("SkipLayerNormalization") == 4
    assert int8["quantization"]["method"] == "dynamic" and int8["quantization"]["name"]
    assert (tiny_onnx_dirs["onnx-int8"] / "encoder.onnx").stat().st_size < (tiny_onnx_dirs["onnx"] / "encoder.onnx").stat().st_size


def test_onnx_encoder_cannot_train(tiny_onnx_dirs):
    model, _, _ = load_model(tiny_onnx_dirs["onnx"])
    with pytest.raises(CheckpointError, match="inference only"):
        model.train()
