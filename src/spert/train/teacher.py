"""The teacher of a distilled student (``spert distill``): a trained model directory whose outputs
the student's training also learns from.

Spans and pairs are word ranges, so teacher and student may differ in encoder, tokenizer and size:
the teacher reads the same sentences through its own tokenizer (its own encodings, its document or
syntactic context) and classifies exactly the spans and pairs the student's sampling drew for the
batch, in the same order (:func:`spert.model.batch.collate` of the same samples). Its logits are
computed online, beside the student, in eval mode and without gradients: nothing is cached, so
memory stays that of one more model whatever the corpus's length, and a resumed run computes the
same targets (no dropout, no random numbers drawn). The losses are
:mod:`spert.train.distillation`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from spert.data.schema import TypeSchema
from spert.errors import ConfigError
from spert.model.batch import add_negative_pairs, collate
from spert.model.checkpoint import load_model, read_model_meta
from spert.model.settings import SYNTAX_CONTEXTS
from spert.model.encoders import pad_id
from spert.model.encoding import Encoding
from spert.model.network import Output, SpERTModel
from spert.train.distillation import entity_distillation_loss, relation_distillation_loss
from spert.train.evaluation import model_dataset
from spert.train.model_card import Teacher as CardTeacher

DISTILLATION_FILE = "distillation.json"  # in a student's model directory: where its targets came from


def _types(schema_json: dict[str, Any]) -> str:
    return (f"entities {', '.join(schema_json.get('entities', {}))}; "
            f"relations {', '.join(schema_json.get('relations', {})) or 'none'}")


def check_teacher(path: Path, schema: TypeSchema, max_span_size: int, cross_sentence: bool = False) -> None:
    """Refuse a teacher before any weights load: a PyTorch model directory of the run's types and
    span-width limit, and where the student draws negatives across sentences (``cross_sentence``) one
    that can classify them (no syntactic or document context). The error names the setting and both sides."""
    meta = read_model_meta(path)  # a missing or foreign directory: its own one line
    if meta.onnx is not None:
        raise ConfigError(f"teacher: {path} is an ONNX export; name the PyTorch model directory it was exported from")
    theirs, ours = meta.schema.to_json(), schema.to_json()
    if theirs != ours:
        raise ConfigError(f"teacher: {path} has other types than the types file ({_types(theirs)} against "
                          f"{_types(ours)}); a student learns the teacher's types")
    if meta.settings.max_span_size != max_span_size:
        raise ConfigError(f"teacher: {path} has max_span_size {meta.settings.max_span_size}, the run "
                          f"{max_span_size}; spans the teacher never saw have no target")
    if cross_sentence and (meta.settings.context in SYNTAX_CONTEXTS or meta.settings.context_words):
        raise ConfigError(f"teacher: {path} has context {meta.settings.context} and context_words "
                          f"{meta.settings.context_words}; it cannot classify the run's negatives across "
                          f"sentences (neg_cross_sentence_count): use a teacher without them, or set it to 0")


@dataclass
class TeacherModel:
    """A loaded teacher and its encodings of the training sentences (in the student's order)."""

    path: Path
    model: SpERTModel
    tokenizer: Any
    encodings: Sequence[Encoding]
    weight: float
    temperature: float

    def loss(self, student: Output, ids: Sequence[int], samples: Sequence[Any], device: torch.device,
             extra_pairs: np.ndarray | None = None) -> torch.Tensor:
        """The distillation loss of a student's batch: entity KL and relation BCE toward the teacher's
        logits over the same spans (S, C) and pairs (P, R), the samples' pairs then ``extra_pairs``
        (the student's negatives across sentences, :func:`spert.model.batch.add_negative_pairs`)."""
        batch = collate([self.encodings[j] for j in ids], samples, pad_id(self.tokenizer))
        if extra_pairs is not None:
            add_negative_pairs(batch, extra_pairs)
        batch = batch.to(device)
        with torch.no_grad():
            target = self.model(batch)
        t = self.temperature
        return (entity_distillation_loss(student.entity_logits, target.entity_logits, t)
                + relation_distillation_loss(student.rel_logits, target.rel_logits, t))

    def card(self) -> CardTeacher:
        """What the student's model card says of it: path, encoder, test scores (its run's metrics.json)."""
        metrics = self.path.parent / "metrics.json"
        scores = json.loads(metrics.read_text()) if metrics.is_file() else None
        return CardTeacher(path=str(self.path), encoder=str(self.model.settings.encoder), scores=scores)

    def record(self) -> dict[str, Any]:
        """``distillation.json``: the teacher and the settings a student was trained with."""
        card = self.card()
        return {"teacher": card.path, "teacher_encoder": card.encoder,
                "teacher_model_type": self.model.encoder.config.model_type,
                "distill_weight": self.weight, "distill_temperature": self.temperature,
                "teacher_scores": card.scores}


def load_teacher(path: Path, train_path: Path, max_docs: int | None, device: torch.device, *, weight: float,
                 temperature: float) -> TeacherModel:
    """The teacher in eval mode on ``device``, frozen, with its encodings of the training sentences."""
    with torch.random.fork_rng(devices=[]):  # building its encoder draws random numbers: not the run's
        model, tokenizer, _ = load_model(path, device)
    model.requires_grad_(False)
    data = model_dataset(model, tokenizer, train_path, max_docs)
    return TeacherModel(path, model, tokenizer, data.encodings, weight, temperature)
