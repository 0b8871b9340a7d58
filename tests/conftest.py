"""Shared fixtures: a tiny random BERT encoder (no download), the benchmark data, small configs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

# Tests never reach a model hub: everything is built locally or comes from installed packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from paths import CONLL04, DATASETS, ROOT, SCIERC, SCIERC_DYGIE  # noqa: F401  (re-exported for fixtures)


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT with random weights and the default encoder's (uncased) tokenizer."""
    from transformers import BertConfig, BertModel

    from spert.model.encoding import load_tokenizer, resolve_encoder

    path = tmp_path_factory.mktemp("tiny_encoder")
    tok = load_tokenizer(resolve_encoder(None))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    BertModel(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def conll04_types() -> Path:
    return CONLL04 / "conll04_types.json"


@pytest.fixture
def write_json(tmp_path):
    """Write an object as JSON into tmp_path and return the path."""

    def _write(name: str, obj) -> Path:
        p = tmp_path / name
        p.write_text(json.dumps(obj), encoding="utf-8")
        return p

    return _write


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_encoder_dir, conll04_types, tmp_path_factory) -> Path:
    """A saved tiny random CoNLL04 model whose biases give a few entities and relations per sentence."""
    from spert.model.checkpoint import build_model, save_model
    from spert.model.encoding import load_tokenizer
    from spert.model.settings import ModelSettings
    from spert.data.schema import load_types

    torch.manual_seed(1)
    # PyTorch-default heads: the biases below were tuned for their spread of logits
    net = build_model(ModelSettings(encoder=str(tiny_encoder_dir), head_init="torch"), load_types(conll04_types),
                      str(tiny_encoder_dir))
    with torch.no_grad():
        net.entity_classifier.bias[0] += 2.7
        net.rel_classifier.bias -= 0.8
    path = tmp_path_factory.mktemp("tiny_model") / "model"
    save_model(net, load_tokenizer(str(tiny_encoder_dir)), path)
    return path


@pytest.fixture(scope="session")
def tiny_onnx_dirs(tiny_model_dir, tmp_path_factory) -> dict[str, Path]:
    """The tiny model exported to ONNX: fp32 and int8 (the default recipe), one export for both."""
    pytest.importorskip("onnxruntime")  # the onnx extra; installed in CI by scripts/setup.sh
    from spert.model.checkpoint import load_model
    from spert.tools.onnx_export import build_fp32_graph, resolve_recipe, write_export

    model, tokenizer, inference = load_model(tiny_model_dir)
    root = tmp_path_factory.mktemp("tiny_onnx")
    graph = build_fp32_graph(model, root)
    return {"onnx": write_export(model, tokenizer, inference, graph, root / "fp32", None).output,
            "onnx-int8": write_export(model, tokenizer, inference, graph, root / "int8", resolve_recipe("int8")).output}
