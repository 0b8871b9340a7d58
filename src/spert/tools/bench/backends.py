"""The model under test and the runtimes it is timed in.

``torch`` is the reference (the model as loaded); ``torch-int8`` its encoder with PyTorch's
dynamic int8 linear layers; ``onnx`` and ``onnx-int8`` the encoder exported to ONNX Runtime
(fp32, and int8 with the export's default quantization), heads and decoding unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from spert.data.schema import load_types
from spert.errors import SpertError
from spert.model.checkpoint import META, build_model, load_model
from spert.model.encoding import load_tokenizer, resolve_encoder
from spert.model.network import SpERTModel
from spert.model.settings import InferenceSettings, ModelSettings
from spert.tools.bench.quantize import quantize_encoder
from spert.tools.onnx_export import build_fp32_graph, resolve_recipe, write_export


@dataclass
class Subject:
    """The model to benchmark, as loaded."""

    model: SpERTModel
    tokenizer: Any
    threshold: float  # relation threshold
    description: str
    untrained: bool  # heads built fresh from an encoder


@dataclass
class Backend:
    """One runtime for the same weights."""

    name: str
    model: SpERTModel
    details: dict[str, Any]  # what it is (quantization, versions), for the JSON


def _default_types(data: Path) -> Path:
    found = sorted(data.parent.glob("*_types.json"))
    if len(found) != 1:
        raise SpertError(f"--model is an encoder, so the types are needed: pass --types FILE "
                         f"(found {len(found)} *_types.json files next to {data})")
    return found[0]


def load_subject(model: str, types: Path | None, data: Path, seed: int) -> Subject:
    """The model from a model directory, or one with fresh heads from an encoder."""
    path = Path(model)
    if (path / META).exists():
        net, tokenizer, inference = load_model(path)
        if types is not None and load_types(types).to_json() != net.schema.to_json():
            raise SpertError(f"{types}: these types differ from the model's ({path / META})")
        return Subject(net.eval(), tokenizer, inference.rel_filter_threshold, f"model {path}", False)
    schema = load_types(types if types is not None else _default_types(data))
    source = resolve_encoder(model)
    torch.manual_seed(seed)  # the heads' initialisation
    net = build_model(ModelSettings(encoder=model), schema, source).eval()
    return Subject(net, load_tokenizer(source), InferenceSettings().rel_filter_threshold,
                   f"encoder {model} with untrained, calibrated heads", True)


def build_backends(subject: Subject, names: tuple[str, ...], workdir: Path) -> list[Backend]:
    """The backends in ``names`` (torch first), built from the subject's current weights (the ONNX ones
    exported into ``workdir``, one fp32 graph for both)."""
    out = []
    graph = None
    for name in names:
        if name in ("onnx", "onnx-int8"):
            if graph is None:
                graph = build_fp32_graph(subject.model, workdir)
            recipe = resolve_recipe("int8") if name == "onnx-int8" else None
            report = write_export(subject.model, subject.tokenizer, InferenceSettings(), graph, workdir / name, recipe)
            model, _, _ = load_model(report.output, backend="onnx")
            out.append(Backend(name, model, {"runtime": f"onnxruntime {report.record.onnxruntime}",
                                             **report.record.to_json(), "export_seconds": report.seconds}))
            continue
        if name == "torch":
            out.append(Backend(name, subject.model, {"runtime": f"torch {torch.__version__}"}))
        elif name == "torch-int8":
            out.append(Backend(name, quantize_encoder(subject.model),
                               {"runtime": f"torch {torch.__version__}", "quantization": "dynamic int8 (nn.Linear)"}))
        else:
            raise SpertError(f"unknown backend {name!r}")
    return out
