"""ONNX Runtime as the encoder's runtime (the ``onnx`` backend; needs the ``onnx`` extra).

An exported model directory (``spert export onnx``) holds the encoder as an ONNX graph
(``encoder.onnx``: inputs ``input_ids`` and ``attention_mask`` (B, T) int64, output
``last_hidden_state`` (B, T, H) float32, batch and length dynamic) next to the usual
``spert.json``, heads' weights, encoder config and tokenizer. :class:`OnnxEncoder` is a
drop-in for the Hugging Face encoder at inference: ``SpERTModel.encode`` calls it exactly as
it calls ``self.encoder(input_ids=..., attention_mask=...).last_hidden_state``. It holds no
parameters and cannot be trained; the heads, pooling and decoding stay in PyTorch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spert.errors import CheckpointError

ENCODER_FILE = "encoder.onnx"
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "last_hidden_state"


@dataclass
class OnnxRecord:
    """What an exported directory holds, stored under ``"backend"`` in its ``spert.json``."""

    name: str = "onnx"
    encoder_file: str = ENCODER_FILE
    quantization: dict[str, Any] | None = None  # None: fp32
    opset: int = 17
    onnxruntime: str = ""  # the version that optimised (and quantized) the graph
    onnx: str = ""
    torch: str = ""  # the version that exported it
    fused_operators: dict[str, int] = field(default_factory=dict)  # ORT transformer optimizer's fusions

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], where: Path) -> "OnnxRecord":
        try:
            return cls(**data)
        except TypeError as e:
            raise CheckpointError(f"{where}: bad 'backend' record: {e}") from None


def import_onnxruntime():
    """onnxruntime, or a one-line error naming the extra that provides it."""
    try:
        import onnxruntime
    except ImportError:
        raise CheckpointError("the onnx backend needs ONNX Runtime: pip install 'spert[onnx]'") from None
    return onnxruntime


class _Output:
    """What the Hugging Face encoder returns, as far as SpERT reads it."""

    __slots__ = ("last_hidden_state",)

    def __init__(self, last_hidden_state: torch.Tensor) -> None:
        self.last_hidden_state = last_hidden_state


class OnnxEncoder(nn.Module):
    """The encoder as an ONNX Runtime session; ``forward(input_ids, attention_mask)`` as Hugging Face's."""

    def __init__(self, path: str | Path, config, *, threads: int | None = None, device: str = "cpu") -> None:
        super().__init__()
        ort = import_onnxruntime()
        self.config = config  # the Hugging Face config: hidden size, position limit, model type
        self.path = Path(path)
        if not self.path.exists():
            raise CheckpointError(f"{self.path}: missing; export the model with 'spert export onnx'")
        opts = ort.SessionOptions()
        # as many threads as PyTorch uses (set_cpu_threads / OMP_NUM_THREADS), so that the backends compare fairly
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No busy-waiting between runs: right after each encoder call PyTorch runs the heads on the same
        # cores, and spinning ORT threads took them away (1.8x slower whole prediction at batch 32, measured)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        if str(device).startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=providers)
        except Exception as e:  # ORT raises its own exception types for a bad or foreign file
            raise CheckpointError(f"{self.path}: ONNX Runtime cannot load it: {str(e).splitlines()[0]}") from None
        self._device = torch.device(device)

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **unused: Any) -> _Output:
        """(B, T) ids and mask -> ``last_hidden_state`` (B, T, H), a float32 tensor on the model's device."""
        if unused.get("position_ids") is not None:
            raise ValueError("the ONNX encoder takes no position ids (packed batches are for training)")
        feeds = {"input_ids": input_ids.detach().cpu().numpy().astype("int64", copy=False),
                 "attention_mask": attention_mask.detach().cpu().numpy().astype("int64", copy=False)}
        (hidden,) = self.session.run([OUTPUT_NAME], feeds)  # (B, T, H) numpy float32
        return _Output(torch.from_numpy(hidden).to(self._device))

    def train(self, mode: bool = True) -> "OnnxEncoder":
        if mode:
            raise CheckpointError("an ONNX encoder runs inference only; train from the PyTorch model directory")
        return super().train(False)
