"""Untrained heads, made to behave like trained ones for timing.

A model built from an encoder has random heads, which call ~4 spans in 5 an entity; the
relation stage would then score ~10^6 pairs per batch and swamp every figure. Such heads (a
model built from an encoder, or any model keeping over 10% of the candidate spans) are
calibrated to keep about as many spans and relations as a CoNLL04-trained model does; the
JSON says so. A trained model is used as it is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from spert.model.batch import Batch
from spert.model.network import SpERTModel

# What a CoNLL04-trained model keeps: ~3.7 entities among ~250 candidate spans per sentence, and
# about one relation per sentence among ~10 ordered pairs x 5 types.
UNTRAINED_ENTITY_RATE = 0.015
UNTRAINED_RELATION_RATE = 0.025
# A trained model keeps a few percent of the candidate spans (CoNLL04 ~1.5%, SciERC ~3%); heads
# that keep more than this are treated as untrained and calibrated.
UNTRAINED_KEEP_LIMIT = 0.1


@dataclass
class Calibration:
    """How the classifiers' biases were shifted (no weight changes)."""

    entity_rate: float
    relation_rate: float
    no_entity_bias_shift: float
    relation_bias_shift: float
    kept_before: float = 0.0  # share of candidate spans kept, before and after
    kept_after: float = 0.0

    def to_json(self) -> dict[str, float]:
        d = asdict(self)
        return {"kept_before": d.pop("kept_before"), **d, "kept_after": d.pop("kept_after")}


def span_keep_rate(model: SpERTModel, batch: Batch) -> float:
    """The share of the batch's candidate spans the entity classifier keeps."""
    return len(model.predict(batch).span_index) / max(1, len(batch.span_doc))


def needs_calibration(untrained: bool, kept: float) -> bool:
    return untrained or kept > UNTRAINED_KEEP_LIMIT


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


@torch.no_grad()
def calibrate_untrained_heads(model: SpERTModel, batch: Batch, threshold: float,
                              entity_rate: float = UNTRAINED_ENTITY_RATE,
                              relation_rate: float = UNTRAINED_RELATION_RATE) -> Calibration:
    """Shift the classifiers' biases so that they keep about ``entity_rate`` of the candidate spans
    and predict about ``relation_rate`` of the (kept pair, type) combinations. Changes no weight."""
    was_training = model.training
    model.eval()
    kept_before = span_keep_rate(model, batch)
    logits = model(batch).entity_logits.float()  # (S, C)
    margin = logits[:, 1:].max(-1).values - logits[:, 0]  # (S,) best type's lead over "no entity"
    entity_shift = float(torch.quantile(margin, 1 - entity_rate))
    model.entity_classifier.bias[0] += entity_shift
    rel_shift = 0.0
    probs = model.predict(batch).rel_probs.double()  # (P, R)
    if probs.numel():
        rel_logits = torch.log(probs) - torch.log1p(-probs)
        rel_shift = float(torch.quantile(rel_logits.flatten(), 1 - relation_rate)) - _logit(threshold)
        model.rel_classifier.bias -= rel_shift
    model.train(was_training)
    return Calibration(entity_rate, relation_rate, entity_shift, -rel_shift, round(kept_before, 4),
                       round(span_keep_rate(model, batch), 4))
