"""Inference throughput per batch size: SpERT against its encoder alone, the naive pooling
reference, and every backend, interleaved on the same batches."""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from spert.data.documents import Document
from spert.data.predictions import DocPrediction
from spert.eval.metrics import evaluate
from spert.infer.runner import length_batches, predict_documents
from spert.model.batch import Batch, collate
from spert.model.encoders import pad_id
from spert.model.encoding import Encoding
from spert.model.network import SpERTModel
from spert.model.spans import inference_sample
from spert.tools.bench.backends import Backend
from spert.tools.bench.settings import BenchSettings
from spert.tools.bench.timing import Rate, median_ratio, timed
from spert.infer.options import PredictOptions

log = logging.getLogger(__name__)

SCORE_TOLERANCE = 1e-4  # fp32 ONNX scores may differ from PyTorch's by float rounding only


@dataclass
class F1:
    """Micro F1 (%) of NER, REL and REL+."""

    ner: float
    rel: float
    rel_plus: float

    @classmethod
    def of(cls, gold: Sequence[Document], preds: Sequence[DocPrediction]) -> "F1":
        m = evaluate(gold, [p.to_document() for p in preds])
        return cls(round(m.ner.micro.f1, 2), round(m.rel.micro.f1, 2), round(m.rel_plus.micro.f1, 2))

    def minus(self, other: "F1") -> "F1":
        return F1(round(self.ner - other.ner, 2), round(self.rel - other.rel, 2),
                  round(self.rel_plus - other.rel_plus, 2))

    def to_json(self) -> dict[str, float]:
        return {"ner": self.ner, "rel": self.rel, "rel_plus": self.rel_plus}


@dataclass
class Agreement:
    """Do two backends predict the same entity and relation sets, with scores within a tolerance?"""

    identical: bool  # same sets in every document and every score within SCORE_TOLERANCE
    documents_differing: int  # documents whose entity or relation sets differ
    max_score_difference: float  # over entities and relations present in both

    @classmethod
    def of(cls, a: Sequence[DocPrediction], b: Sequence[DocPrediction]) -> "Agreement":
        differing, worst = 0, 0.0
        for pa, pb in zip(a, b):
            if pa.to_document() != pb.to_document():
                differing += 1
                continue
            scores = [(x.score, y.score) for x, y in zip(pa.entities, pb.entities)]
            scores += [(x.score, y.score) for x, y in zip(pa.relations, pb.relations)]
            worst = max([worst] + [abs(x - y) for x, y in scores])
        return cls(differing == 0 and worst <= SCORE_TOLERANCE, differing, float(f"{worst:.3g}"))

    def to_json(self) -> dict[str, Any]:
        return {"identical": self.identical, "documents_differing": self.documents_differing,
                "max_score_difference": self.max_score_difference}


@dataclass
class BackendRow:
    """One backend other than PyTorch fp32, at one batch size."""

    inference: Rate
    encoder_only: Rate
    overhead_ratio: float
    speedup: float  # PyTorch's time / this backend's time (median of per-repeat ratios)
    f1: F1
    f1_change: F1  # against PyTorch fp32
    agreement: Agreement

    def to_json(self) -> dict[str, Any]:
        return {"inference": self.inference.to_json(), "encoder_only": self.encoder_only.to_json(),
                "overhead_ratio": self.overhead_ratio, "speedup": self.speedup, "f1": self.f1.to_json(),
                "f1_change": self.f1_change.to_json(), "same_as_torch": self.agreement.to_json()}


@dataclass
class NaiveRow:
    inference: Rate
    f1: F1
    speedup: float  # naive time / ours
    identical: bool


@dataclass
class InferenceRow:
    """Everything measured at one batch size."""

    batch_size: int
    inference: Rate
    encoder_only: Rate
    overhead_ratio: float  # SpERT's time / the encoder's, wall clock
    overhead_ratio_cpu_time: float  # the same in process CPU time
    f1: F1
    naive: NaiveRow | None = None
    backends: dict[str, BackendRow] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"batch_size": self.batch_size, "inference": self.inference.to_json(),
                               "encoder_only": self.encoder_only.to_json(), "overhead_ratio": self.overhead_ratio,
                               "overhead_ratio_cpu_time": self.overhead_ratio_cpu_time, "f1": self.f1.to_json()}
        if self.naive is not None:
            out["naive"] = {"inference": self.naive.inference.to_json(), "f1": self.naive.f1.to_json()}
            out["speedup_vs_naive"] = self.naive.speedup
            out["predictions_identical"] = self.naive.identical
        if "torch-int8" in self.backends:  # the shape of earlier runs' "int8"
            q = self.backends["torch-int8"]
            out["int8"] = {"inference": q.inference.to_json(), "speedup": q.speedup, "f1": q.f1.to_json(),
                           "f1_change": q.f1_change.to_json()}
        if self.backends:
            out["backends"] = {name: row.to_json() for name, row in self.backends.items()}
        return out


def encoder_batches(model: SpERTModel, encodings: Sequence[Encoding], batch_size: int, pad: int) -> list[Batch]:
    """The collated batches :func:`predict_documents` builds, in the same order."""
    max_span = model.settings.max_span_size
    return [collate([encodings[i] for i in ids], [inference_sample(encodings[i].num_words, max_span) for i in ids],
                    pad)
            for ids in length_batches([len(e.input_ids) for e in encodings], batch_size)]


@torch.inference_mode()
def run_encoder(model: SpERTModel, batches: Sequence[Batch]) -> None:
    """The encoder alone, as :meth:`SpERTModel.encode` calls it."""
    for b in batches:
        model.encoder(input_ids=b.input_ids, attention_mask=b.attention_mask)


def _same(a: Sequence[DocPrediction], b: Sequence[DocPrediction]) -> bool:
    return [p.to_document() for p in a] == [p.to_document() for p in b]


def bench_inference(backends: Sequence[Backend], tokenizer, docs: Sequence[Document],
                    encodings: Sequence[Encoding], batch_size: int, threshold: float,
                    settings: BenchSettings) -> InferenceRow:
    """Every backend (``backends[0]`` is PyTorch fp32) interleaved ``settings.repeats`` times, then the
    naive implementation ``settings.naive_repeats`` times (if ``settings.naive``)."""
    repeats = settings.repeats
    tokens = [d.tokens for d in docs]
    n = len(docs)
    reference = backends[0].model
    pad = pad_id(tokenizer)
    batches = encoder_batches(reference, encodings, batch_size, pad)

    def predict(m: SpERTModel, subset: Sequence[int] | None = None) -> list[DocPrediction]:
        ids = range(n) if subset is None else subset
        return predict_documents(m, tokenizer, [tokens[i] for i in ids],
                                 PredictOptions(batch_size=batch_size, rel_filter_threshold=threshold),
                                 encodings=[encodings[i] for i in ids])

    # warm-up: the longest batches (the first ones), so that buffers reach their working size
    warm = [i for ids in length_batches([len(e.input_ids) for e in encodings], batch_size)
            for i in ids][: 2 * batch_size]
    for b in backends:
        predict(b.model, warm)
        run_encoder(b.model, batches[:2])

    # wall-clock seconds, and CPU seconds of the whole process (all threads) for the reference: on a
    # shared machine the wall clock also counts time spent waiting for a core, the CPU time does not
    spert_t: dict[str, list[float]] = {b.name: [] for b in backends}
    enc_t: dict[str, list[float]] = {b.name: [] for b in backends}
    cpu: dict[str, list[float]] = {"spert": [], "encoder": []}
    preds: dict[str, list[DocPrediction]] = {}
    for r in range(repeats):
        for b in backends:
            c0 = time.process_time()
            t, preds[b.name] = timed(lambda: predict(b.model))
            c1 = time.process_time()
            spert_t[b.name].append(t)
            enc_t[b.name].append(timed(lambda: run_encoder(b.model, batches))[0])
            if b is backends[0]:
                cpu["spert"].append(c1 - c0)
                cpu["encoder"].append(time.process_time() - c1)
        log.info("batch size %d, repeat %d/%d: %s", batch_size, r + 1, repeats,
                 ", ".join(f"{b.name} {spert_t[b.name][-1]:.2f}s (encoder {enc_t[b.name][-1]:.2f}s)" for b in backends))
    ref = backends[0].name
    f1 = F1.of(docs, preds[ref])
    row = InferenceRow(batch_size, Rate.of(n, statistics.median(spert_t[ref])),
                       Rate.of(n, statistics.median(enc_t[ref])),
                       round(median_ratio(spert_t[ref], enc_t[ref]), 4),
                       round(median_ratio(cpu["spert"], cpu["encoder"]), 4), f1)
    for b in backends[1:]:
        bf1 = F1.of(docs, preds[b.name])
        row.backends[b.name] = BackendRow(Rate.of(n, statistics.median(spert_t[b.name])),
                                          Rate.of(n, statistics.median(enc_t[b.name])),
                                          round(median_ratio(spert_t[b.name], enc_t[b.name]), 4),
                                          round(median_ratio(spert_t[ref], spert_t[b.name]), 3),
                                          bf1, bf1.minus(f1), Agreement.of(preds[ref], preds[b.name]))
    if settings.naive:
        row.naive = _bench_naive(reference, predict, warm, preds[ref], docs, settings.naive_repeats, batch_size,
                                 statistics.median(spert_t[ref]))
    return row


def _bench_naive(model: SpERTModel, predict, warm: Sequence[int], ours: list[DocPrediction],
                 docs: Sequence[Document], repeats: int, batch_size: int, ours_t: float) -> NaiveRow:
    with model.using(pooling_impl="naive"):
        predict(model, warm[-1:])  # warm-up: one sentence
        times = []
        for r in range(repeats):
            t, naive_preds = timed(lambda: predict(model))
            times.append(t)
            log.info("batch size %d, naive repeat %d/%d: %.2fs", batch_size, r + 1, repeats, t)
    naive_t = statistics.median(times)
    return NaiveRow(Rate.of(len(docs), naive_t), F1.of(docs, naive_preds), round(naive_t / ours_t, 3),
                    _same(ours, naive_preds))
