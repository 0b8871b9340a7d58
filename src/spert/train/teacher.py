"""The teacher of a distilled student (``spert distill``): a trained model directory whose outputs
the student's training also learns from.

Spans and pairs are word ranges, so teacher and student may differ in encoder, tokenizer and size:
the teacher reads the same sentences through its own tokenizer (its own encodings, its document or
syntactic context) and classifies every candidate span of them, so that it has an opinion on spans
the student's sample lacks: those it would keep give pairs for the distillation loss
(``distill_teacher_pairs``) and ``distill_spans`` more spans are compared with the student's.

Its outputs come from one of two places (``teacher_outputs``): computed once before training and
read back from disk (:mod:`spert.train.teacher_outputs`, what ``auto`` chooses whenever the student's
pairs all lie inside one sentence and join gold entities or spans the teacher keeps), or online,
beside the student (:meth:`TeacherModel.online`: every candidate span of the batch's sentences,
then exactly the pairs of the student's batch), in eval mode and without gradients. Either way a
resumed run computes the same targets (no dropout, no random numbers drawn). The losses are
:mod:`spert.train.distillation`'s.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from spert.data.documents import Document, read_documents, write_records
from spert.data.silver import swap_mentions, unlabelled_sentences
from spert.data.schema import TypeSchema
from spert.errors import ConfigError
from spert.model.batch import Batch, collate
from spert.model.checkpoint import load_model, read_model_meta
from spert.model.settings import SYNTAX_CONTEXTS
from spert.infer.options import PredictOptions
from spert.infer.runner import predict_documents
from spert.model.context import sentence_encodings
from spert.model.encoders import check_lengths, max_subwords, pad_id
from spert.model.encoding import Encoding
from spert.model.network import Output, SpERTModel
from spert.model.spans import Sample, candidate_spans
from spert.train.config import TrainConfig
from spert.train.distillation import entity_distillation_loss, relation_distillation_loss
from spert.train.evaluation import Dataset, model_dataset
from spert.train.model_card import Teacher as CardTeacher
from spert.train.teacher_outputs import CachedPass, TeacherOutputs, cached_outputs

DISTILLATION_FILE = "distillation.json"  # in a student's model directory: where its targets came from
SILVER_FILE = "silver.json"  # in a run's output directory: the teacher's labels of the silver sentences
SILVER_STREAM = 7_933  # the random stream of silver_swap's mention swaps

log = logging.getLogger(__name__)


def _types(schema_json: dict[str, Any]) -> str:
    return (f"entities {', '.join(schema_json.get('entities', {}))}; "
            f"relations {', '.join(schema_json.get('relations', {})) or 'none'}")


def check_teacher(path: Path, schema: TypeSchema, max_span_size: int, cross_sentence: bool = False,
                  silver: bool = False) -> None:
    """Refuse a teacher before any weights load: a PyTorch model directory of the run's types and
    span-width limit, where the student draws negatives across sentences (``cross_sentence``) one
    that can classify them (no syntactic or document context), and where it labels silver sentences
    one that reads sentences alone (no document context). The error names the setting and both sides."""
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
    if silver and meta.settings.context_words:
        raise ConfigError(f"teacher: {path} reads context_words {meta.settings.context_words} of document "
                          f"context, which silver sentences (silver_path, silver_swap) do not have: use a teacher "
                          f"without it, or no silver data")


@dataclass
class TeacherPass:
    """The teacher's reading of one batch: every candidate span of its sentences classified (and any
    sampled span beyond them: a gold entity wider than the candidates), the encoder's outputs kept for
    the pairs it classifies next (:meth:`TeacherModel.loss`)."""

    batch: Batch  # the teacher's: its own encodings; each sentence's candidates, then its wider sampled spans
    cls: torch.Tensor  # (B, H')
    context: Any  # the context pooler
    pooled: torch.Tensor  # (S', H')
    width: torch.Tensor  # (S', D')
    entity_logits: torch.Tensor  # (S', C)
    index: list[dict[tuple[int, int], int]]  # per sentence: word span -> its row in the teacher's spans
    model: SpERTModel  # the teacher, for the pairs

    def kept(self, b: int) -> np.ndarray:
        """The spans of sentence ``b`` the teacher classifies as entities (what it would keep): (E, 2)."""
        rows = np.array(list(self.index[b].values()), dtype=np.int64)
        spans = np.array(list(self.index[b].keys()), dtype=np.int64).reshape(-1, 2)
        klass = self.entity_logits[torch.from_numpy(rows).to(self.entity_logits.device)].argmax(-1).cpu().numpy()
        return spans[klass != 0]

    def rows(self, samples: Sequence[Sample]) -> torch.Tensor:
        """The teacher's row of each span of the student's batch (``samples`` as collated): (S,)."""
        rows = [self.index[b][span] for b, s in enumerate(samples) for span in map(tuple, s.spans.tolist())]
        return torch.tensor(rows, dtype=torch.int64, device=self.entity_logits.device)

    def targets(self, samples: Sequence[Sample], batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The teacher's logits of the student's batch (``batch``, collated from ``samples``): its
        spans (S, C) and every pair it holds (sampled, across sentences, for distillation alone) (P, R)."""
        rows = self.rows(samples)  # (S,) the teacher's row of each student span
        head, tail = rows[batch.pair_head.to(rows.device)], rows[batch.pair_tail.to(rows.device)]  # (P,)
        self.batch.cross_sentence = batch.cross_sentence
        return self.entity_logits[rows], self.pair_logits(head, tail)

    def pair_logits(self, head: torch.Tensor, tail: torch.Tensor) -> torch.Tensor:
        """The teacher's relation logits of the pairs of its rows ``head`` and ``tail`` (P,): (P, R)."""
        with torch.no_grad():
            return self.model.classify_pairs(self.cls, self.context, self.batch, self.pooled, self.width, head, tail)


@dataclass
class TeacherModel:
    """A loaded teacher and its encodings of the training sentences (in the student's order)."""

    path: Path
    model: SpERTModel | None  # None once its outputs are cached (release)
    tokenizer: Any
    encodings: Sequence[Encoding]
    weight: float
    temperature: float
    threshold: float  # its relation threshold (its model directory's), for labelling silver sentences
    spans: int = 0  # distill_spans
    pairs: int = 0  # distill_teacher_pairs
    silver: int = 0  # silver sentences the student also trains on (their encodings follow the gold ones)
    outputs: TeacherOutputs | None = None  # its outputs over the training sentences, when cached
    encoder: str = ""  # its encoder and model type, for the student's model card
    model_type: str = ""

    def label(self, docs: Sequence[Document], batch_size: int, path: Any = None) -> list[Document]:
        """Silver documents: the teacher's predictions of sentences (its entities and relations at its
        own threshold) as training documents."""
        preds = predict_documents(self.model, self.tokenizer, [d.tokens for d in docs],
                                  PredictOptions(rel_filter_threshold=self.threshold, batch_size=batch_size), path=path)
        return [p.to_document() for p in preds]

    def add_sentences(self, docs: Sequence[Document], path: Any = None) -> None:
        """Read more training sentences (silver ones, each alone), after those it has."""
        limit = max_subwords(self.model.encoder.config, self.tokenizer)
        extra = sentence_encodings(self.tokenizer, [d.tokens for d in docs], None, 0, limit,
                                   self.model.settings.syntax_model)
        check_lengths(extra, limit, path)
        self.encodings = [*self.encodings, *extra]
        self.silver += len(extra)

    def cache(self, docs: Sequence[Document], out_dir: Path | None, *, kept_pairs: bool, batch_size: int,
              device: torch.device) -> None:
        """Compute its outputs over the training sentences ``docs`` once (or read them back from
        ``out_dir``), then let go of the model: the student's batches read them from disk."""
        self.outputs = cached_outputs(self, docs, out_dir, kept_pairs=kept_pairs, batch_size=batch_size,
                                      device=device, max_span_size=self.model.settings.max_span_size)
        self.model = None

    def read(self, ids: Sequence[int], samples: Sequence[Sample], device: torch.device) -> TeacherPass | CachedPass:
        """The teacher's reading of the sentences ``ids`` (the student's ``samples`` of them): cached, or online."""
        return self.outputs.read(ids) if self.outputs is not None else self.online(ids, samples, device)

    def online(self, ids: Sequence[int], samples: Sequence[Sample], device: torch.device) -> TeacherPass:
        """The teacher over the sentences ``ids``: every candidate span classified, in eval mode, no gradient."""
        limit = self.model.settings.max_span_size  # the run's (check_teacher)
        spans, index = [], []
        for j, sample in zip(ids, samples):
            cands = candidate_spans(self.encodings[j].num_words, limit)
            known = {tuple(c): i for i, c in enumerate(cands.tolist())}
            wider = [s for s in map(tuple, sample.spans.tolist()) if s not in known]
            for s in wider:
                known[s] = len(known)
            spans.append(np.concatenate([cands, np.array(wider, dtype=np.int64).reshape(-1, 2)]))
            index.append(known)
        empty = np.zeros((0, 2), dtype=np.int64)
        batch = collate([self.encodings[j] for j in ids], [Sample(sp, None, empty, None) for sp in spans],
                        pad_id(self.tokenizer)).to(device)
        offsets = np.concatenate([[0], np.cumsum([len(sp) for sp in spans])])
        index = [{k: int(offsets[b] + v) for k, v in known.items()} for b, known in enumerate(index)]
        with torch.no_grad():
            cls, pooler, context = self.model.encode(batch)
            pooled, width, logits = self.model.classify_spans(cls, pooler, batch)
        return TeacherPass(batch, cls, context, pooled, width, logits, index, self.model)

    def loss(self, student: Output, batch: Batch, samples: Sequence[Sample],
             seen: TeacherPass | CachedPass) -> torch.Tensor:
        """The distillation loss of a student's batch (``batch``, collated from ``samples``): entity KL
        and relation BCE toward the teacher's logits over the same spans (S, C) and pairs (P, R)."""
        entity, rel = seen.targets(samples, batch)
        t = self.temperature
        return (entity_distillation_loss(student.entity_logits, entity, t)
                + relation_distillation_loss(student.rel_logits, rel, t))

    def card(self) -> CardTeacher:
        """What the student's model card says of it: path, encoder, test scores (its run's metrics.json)."""
        metrics = self.path.parent / "metrics.json"
        scores = json.loads(metrics.read_text()) if metrics.is_file() else None
        return CardTeacher(path=str(self.path), encoder=self.encoder, scores=scores)

    def record(self) -> dict[str, Any]:
        """``distillation.json``: the teacher and the settings a student was trained with."""
        card = self.card()
        return {"teacher": card.path, "teacher_encoder": card.encoder,
                "teacher_model_type": self.model_type,
                "teacher_outputs": "online" if self.outputs is None else "cached",
                "distill_weight": self.weight, "distill_temperature": self.temperature,
                "distill_spans": self.spans, "distill_teacher_pairs": self.pairs, "silver_sentences": self.silver,
                "teacher_scores": card.scores}


def load_teacher(path: Path, train_path: Path, max_docs: int | None, device: torch.device, *, weight: float,
                 temperature: float, spans: int = 0, pairs: int = 0) -> TeacherModel:
    """The teacher in eval mode on ``device``, frozen, with its encodings of the training sentences."""
    with torch.random.fork_rng(devices=[]):  # building its encoder draws random numbers: not the run's
        model, tokenizer, inference = load_model(path, device)
    model.requires_grad_(False)
    data = model_dataset(model, tokenizer, train_path, max_docs)
    return TeacherModel(path, model, tokenizer, data.encodings, weight, temperature,
                        inference.rel_filter_threshold, spans, pairs, encoder=str(model.settings.encoder),
                        model_type=model.encoder.config.model_type)


def with_silver(cfg: TrainConfig, schema: TypeSchema, train_set: Dataset, teacher: TeacherModel, tokenizer, limit: int,
                resume: bool, main: bool) -> Dataset:
    """The training set with silver sentences after the gold ones: ``silver_path``'s sentences and
    ``silver_swap`` mention swaps of the gold ones, labelled by the teacher once and kept in
    ``OUTPUT_DIR/silver.json`` (what a resumed run reads back instead of labelling again)."""
    path = Path(cfg.output_dir) / SILVER_FILE
    if resume and path.is_file():
        docs = read_documents(path, schema)
    else:
        sentences = unlabelled_sentences(cfg.silver_path) if cfg.silver_path else []
        if cfg.silver_swap:
            sentences += swap_mentions(train_set.docs, cfg.silver_swap, np.random.default_rng([cfg.seed, SILVER_STREAM]))
        if main:
            log.info("the teacher labels %d silver sentences", len(sentences))
        docs = teacher.label(sentences, cfg.eval_batch_size, cfg.silver_path)
        if main:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_records(path, [d.to_json() for d in docs])
    teacher.add_sentences(docs, path)
    encodings = sentence_encodings(tokenizer, [d.tokens for d in docs], None, 0, limit, cfg.syntax_model)
    check_lengths(encodings, limit, path)
    return Dataset(train_set.path, [*train_set.docs, *docs], [*train_set.encodings, *encodings])
