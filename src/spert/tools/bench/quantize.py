"""PyTorch's dynamic int8 encoder (the ``torch-int8`` backend)."""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from spert.model.network import SpERTModel


def quantize_encoder(model: SpERTModel) -> SpERTModel:
    """A copy of the model whose encoder's linear layers run in int8 (dynamic quantization:
    weights quantized once, activations per call). Heads and pooling stay in float32."""
    from torch.ao.quantization import quantize_dynamic

    q = copy.deepcopy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        q.encoder = quantize_dynamic(q.encoder, {nn.Linear}, dtype=torch.qint8)
    return q.eval()
