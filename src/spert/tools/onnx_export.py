"""``spert export onnx``: a model directory whose encoder runs in ONNX Runtime.

Steps, each with the library that does it well:

1. **Export** (``torch.onnx.export``, TorchScript exporter, opset 17): the encoder alone, as
   ``SpERTModel.encode`` calls it at inference: ``(input_ids, attention_mask)`` (B, T) int64 to
   ``last_hidden_state`` (B, T, H), batch and length dynamic, eager attention (the pattern
   ONNX Runtime's fusions recognise).
2. **Optimise** (``onnxruntime.transformers.optimizer``, the model type that the encoder's family
   names, :data:`spert.model.encoders.FAMILIES`: ``bert`` for all so far): fuses the
   embeddings and their layer norm, each self-attention block into one ``Attention`` op, bias
   and GELU into ``BiasGelu``, residual add and layer norm into ``SkipLayerNormalization``.
   The fused counts are recorded in ``spert.json``.
3. **Quantize** (optional, ``onnxruntime.quantization``): see :data:`INT8_RECIPES`; the default
   was chosen by measuring F1 on CoNLL04 test (BENCHMARKS.md, "ONNX Runtime and int8").

The heads (span and relation classifiers, width embedding), pooling and decoding stay in
PyTorch: they are a small share of the time and their span logic is data-dependent.
"""

from __future__ import annotations

import copy
import logging
import re
import shutil
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from spert.atomic import atomic_directory
from spert.errors import SpertError
from spert.model.checkpoint import load_model, write_model_files
from spert.model.encoders import encoder_family
from spert.model.onnx import (
    ENCODER_FILE,
    INPUT_NAMES,
    OUTPUT_NAME,
    OnnxRecord,
    import_onnxruntime,
)

log = logging.getLogger(__name__)

OPSET = 17


@dataclass(frozen=True)
class Int8Recipe:
    """One way to quantize the encoder's matrix products to int8 with ONNX Runtime."""

    name: str
    per_channel: bool  # one scale per output column of a weight, not one per matrix
    reduce_range: bool  # 7-bit weights: no int16 saturation in AVX2/AVX-512 kernels without VNNI
    keep_fp32: str | None = None  # regex over node names left in float32
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"method": "dynamic", **asdict(self)}


# Measured on CoNLL04 test (scripts/int8_recipes.py; BENCHMARKS.md, "ONNX Runtime and int8"): per-tensor
# 8-bit weights moved REL+ by +2.9 points and changed 164 of 288 documents; per-channel 7-bit weights
# stayed within 0.5 points (NER -0.23, REL+ -0.43) at the highest encoder speed-up; keeping the
# feed-forward output projections in fp32 was as accurate but ~2.5x slower; per-channel 8-bit weights
# (saturating int16 sums in AVX2 kernels without VNNI) moved REL+ by +0.8. Static QDQ quantization of
# the fused graph left most tensors in fp32 (shape inference fails on the fused ops) and was slower.
INT8_RECIPES = {r.name: r for r in (
    Int8Recipe("dynamic", False, False, None, "dynamic int8, one scale per weight matrix"),
    Int8Recipe("dynamic-per-channel", True, True, None,
               "dynamic int8, per-channel 7-bit weights"),
    Int8Recipe("dynamic-per-channel-ffn-out-fp32", True, True, r"/output/dense/MatMul$",
               "dynamic int8, per-channel 7-bit weights; each layer's feed-forward output projection "
               "(the input after GELU has the widest range) stays float32"),
)}
DEFAULT_INT8 = "dynamic-per-channel"


@dataclass
class ExportReport:
    output: Path
    record: OnnxRecord
    seconds: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        q = self.record.quantization
        fused = ", ".join(f"{k} {v}" for k, v in self.record.fused_operators.items() if v)
        return (f"wrote {self.output}: encoder as ONNX (opset {self.record.opset}, "
                f"{'int8: ' + q['name'] if q else 'fp32'}); fused {fused or 'nothing'}; "
                f"onnxruntime {self.record.onnxruntime}")


@contextmanager
def _quiet() -> Iterator[None]:
    """ONNX Runtime's optimizer and quantizer log every step and tensor at INFO, some on the root logger."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


class _EncoderOnly(nn.Module):
    """The encoder as SpERTModel.encode calls it at inference."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, H)


def export_graph(encoder: nn.Module, path: Path) -> None:
    """Step 1: the encoder as an ONNX graph with dynamic batch and length (``encoder`` is changed:
    pass a copy)."""
    if hasattr(encoder, "set_attn_implementation"):
        encoder.set_attn_implementation("eager")  # the attention pattern ORT's fusion recognises
    ids = torch.full((2, 8), 100, dtype=torch.long)  # (B, T) example; B and T are dynamic in the graph
    mask = torch.ones_like(ids)
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's tracer warnings about Python control flow
        torch.onnx.export(_EncoderOnly(encoder).eval(), (ids, mask), str(path), dynamo=False, opset_version=OPSET,
                          input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAMES[0]: axes, INPUT_NAMES[1]: axes, OUTPUT_NAME: axes},
                          do_constant_folding=True)


def optimize_graph(raw: Path, path: Path, config) -> dict[str, int]:
    """Step 2: ONNX Runtime's transformer fusions; returns the fused operator counts."""
    import_onnxruntime()
    from onnxruntime.transformers import optimizer

    with _quiet():
        opt = optimizer.optimize_model(str(raw), model_type=encoder_family(config).onnx_optimizer,
                                       num_heads=config.num_attention_heads,
                                       hidden_size=config.hidden_size, opt_level=0, use_gpu=False)
    opt.save_model_to_file(str(path))
    return {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}


def quantize_graph(fp32: Path, path: Path, recipe: Int8Recipe) -> None:
    """Step 3: dynamic int8 (weights quantized once, activations per call) of the matrix products."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    nodes = [n.name for n in onnx.load(str(fp32), load_external_data=False).graph.node]
    exclude = [n for n in nodes if recipe.keep_fp32 and re.search(recipe.keep_fp32, n)]
    with _quiet():
        quantize_dynamic(str(fp32), str(path), per_channel=recipe.per_channel, reduce_range=recipe.reduce_range,
                         weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Attention"],
                         nodes_to_exclude=exclude,
                         # the fused contrib ops (SkipLayerNormalization...) defeat ONNX shape inference:
                         # their outputs are float32
                         extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT})


@dataclass
class Fp32Graph:
    """The exported and optimised encoder graph, from which each export is written."""

    path: Path
    fused_operators: dict[str, int]
    seconds: dict[str, float]


def build_fp32_graph(model, workdir: Path) -> Fp32Graph:
    """Steps 1 and 2 on a copy of the model's encoder (the model itself is left as it is)."""
    t0 = time.perf_counter()
    export_graph(copy.deepcopy(model.encoder), workdir / "raw.onnx")
    t1 = time.perf_counter()
    fused = optimize_graph(workdir / "raw.onnx", workdir / "fp32.onnx", model.encoder.config)
    return Fp32Graph(workdir / "fp32.onnx", fused, {"export": round(t1 - t0, 1),
                                                    "optimize": round(time.perf_counter() - t1, 1)})


def resolve_recipe(quantize: str | None) -> Int8Recipe | None:
    """``None`` (fp32), ``"int8"`` (the default recipe) or a recipe's name."""
    if quantize is None:
        return None
    name = DEFAULT_INT8 if quantize == "int8" else quantize
    if name not in INT8_RECIPES:
        raise SpertError(f"--quantize: unknown {quantize!r}; choose int8 (= {DEFAULT_INT8}) or one of "
                         f"{', '.join(INT8_RECIPES)}")
    return INT8_RECIPES[name]


def write_export(model, tokenizer, inference, graph: Fp32Graph, output: str | Path,
                 recipe: Int8Recipe | None) -> ExportReport:
    """Step 3 and the directory: encoder graph (quantized by ``recipe``), heads, settings, tokenizer."""
    ort = import_onnxruntime()
    import onnx

    record = OnnxRecord(opset=OPSET, onnxruntime=ort.__version__, onnx=onnx.__version__, torch=torch.__version__,
                        fused_operators=graph.fused_operators)
    report = ExportReport(Path(output), record, dict(graph.seconds))
    with atomic_directory(output) as out:
        t0 = time.perf_counter()
        if recipe is None:
            shutil.copyfile(graph.path, out / ENCODER_FILE)
        else:
            quantize_graph(graph.path, out / ENCODER_FILE, recipe)
            record.quantization = recipe.to_json()
            report.seconds["quantize"] = round(time.perf_counter() - t0, 1)
        write_model_files(model, tokenizer, out, inference, onnx=record)
    return report


def export_onnx(model_dir: str | Path, output: str | Path, quantize: str | None = None) -> ExportReport:
    """Write ``output``: a model directory with the encoder in ONNX (fp32, or int8 by ``quantize``:
    ``"int8"`` for the default recipe or a recipe's name)."""
    import_onnxruntime()
    recipe = resolve_recipe(quantize)
    model, tokenizer, inference = load_model(model_dir, backend="torch")
    with tempfile.TemporaryDirectory(prefix="spert-export-") as tmp:
        graph = build_fp32_graph(model, Path(tmp))
        report = write_export(model, tokenizer, inference, graph, output, recipe)
    log.info("exported %s in %s", report.output, report.seconds)
    return report
