"""Training throughput over a fixed number of updates, ours and the naive reference, from the
same weights."""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from spert.data.documents import Document
from spert.model.batch import Batch, collate
from spert.model.embedding import attach, restrict_to_training_vocabulary, unrestrict
from spert.model.encoders import pad_id
from spert.model.encoding import Encoding
from spert.model.network import SpERTModel
from spert.model.settings import default_of
from spert.tools.bench.timing import Rate
from spert.train.config import TrainConfig
from spert.train.loop import micro_batches
from spert.train.optim import AdamWNoBiasCorrection, clip_grad_norm, parameter_groups
from spert.train.sampling import seeded_rng, training_sample

log = logging.getLogger(__name__)

TRAIN_BATCH_SIZE = default_of(TrainConfig, "batch_size")  # the spec's
TRAIN_WARMUP_UPDATES = 2  # untimed updates before each timed training run


@dataclass
class TrainRate:
    rate: Rate
    updates: int
    batch_size: int = TRAIN_BATCH_SIZE

    def to_json(self) -> dict[str, Any]:
        return {**self.rate.to_json(), "updates": self.updates, "batch_size": self.batch_size}


@dataclass
class TrainResult:
    ours: TrainRate
    naive: TrainRate | None = None
    speedup_vs_naive: float | None = None
    max_loss_difference_vs_naive: float | None = None  # dropout off, same batches

    def to_json(self) -> dict[str, Any]:
        out = self.ours.to_json()
        if self.naive is not None:
            out["speedup_vs_naive"] = self.speedup_vs_naive
            out["max_loss_difference_vs_naive"] = self.max_loss_difference_vs_naive
        return out


def training_plan(n_docs: int, updates: int, seed: int) -> list[np.ndarray]:
    """The micro-batches of ``updates`` updates at the spec's batch size, epoch after epoch."""
    plan: list[np.ndarray] = []
    epoch = 0
    while len(plan) < updates:
        plan += micro_batches(n_docs, TRAIN_BATCH_SIZE, seed, epoch, 1)
        epoch += 1
    return plan[:updates]


def _loss_difference_without_dropout(model: SpERTModel, batches: Sequence[Batch]) -> float:
    """Largest |loss ours - loss naive| over ``batches``, training mode with dropout off."""
    dropouts = [(m, m.p) for m in model.modules() if isinstance(m, nn.Dropout)]
    worst = 0.0
    try:
        for m, _ in dropouts:
            m.p = 0.0
        model.train()
        for batch in batches:
            loss = {}
            for impl in ("lean", "naive"):
                with model.using(pooling_impl=impl):
                    loss[impl] = float(model(batch).loss.detach())
            worst = max(worst, abs(loss["lean"] - loss["naive"]))
    finally:
        for m, p in dropouts:
            m.p = p
        model.eval()
    return worst


def bench_training(model: SpERTModel, tokenizer, docs: Sequence[Document], encodings: Sequence[Encoding],
                   updates: int, repeats: int, seed: int, naive: bool) -> TrainResult:
    """Sentences/s over ``updates`` training updates, ours and naive alternately, same start weights.

    Each run rebuilds the optimizer, does a few untimed updates, then times ``updates`` more.
    Ours runs packed batches, which draw dropout masks of other shapes than the naive
    padded ones, so the timed losses differ by dropout noise; equality is checked apart, on
    the first updates' batches with dropout off (reported as the largest loss difference).
    """
    pad = pad_id(tokenizer)
    schema, max_span = model.schema, model.settings.max_span_size
    plan = training_plan(len(docs), TRAIN_WARMUP_UPDATES + updates, seed)
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}

    vocab = torch.tensor([t for ids in plan for j in ids for t in encodings[j].input_ids])  # token ids trained on

    def make_batch(ids: np.ndarray) -> Batch:
        samples = [training_sample(docs[j], schema, seeded_rng(seed, 0, int(j)), max_span_size=max_span,
                                   doc_index=int(j)) for j in ids]
        return collate([encodings[j] for j in ids], samples, pad)

    def run(impl: str) -> float:
        with model.using(pooling_impl=impl):
            model.load_state_dict(initial)
            model.train()
            # ours as `spert train` runs it (packed documents, training-vocabulary embedding rows);
            # naive as the authors' code: padded batches, dense embedding update
            compact = restrict_to_training_vocabulary(model.encoder, vocab) if impl == "lean" else None
            optimizer = AdamWNoBiasCorrection(parameter_groups(model, default_of(TrainConfig, "weight_decay")))
            if compact is not None:
                attach(compact, optimizer)
            torch.manual_seed(seed)
            t0 = 0.0
            for u, ids in enumerate(plan):
                if u == TRAIN_WARMUP_UPDATES:
                    t0 = time.perf_counter()
                out = model(make_batch(ids))
                out.loss.backward()
                if impl == "lean":
                    clip_grad_norm(model.parameters(), 1.0)  # as spert train does
                else:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            elapsed = time.perf_counter() - t0
            unrestrict(model.encoder)
            return elapsed

    impls = ["lean", "naive"] if naive else ["lean"]
    times: dict[str, list[float]] = {i: [] for i in impls}
    try:
        for r in range(repeats):
            for impl in (impls if r % 2 == 0 else impls[::-1]):  # alternate who goes first
                t = run(impl)
                times[impl].append(t)
                log.info("training, %s, repeat %d/%d: %d updates in %.2fs", impl, r + 1, repeats, updates, t)
    finally:
        model.load_state_dict(initial)
        model.eval()
    n = updates * TRAIN_BATCH_SIZE
    result = TrainResult(TrainRate(Rate.of(n, statistics.median(times["lean"])), updates))
    if naive:
        result.naive = TrainRate(Rate.of(n, statistics.median(times["naive"])), updates)
        result.speedup_vs_naive = round(statistics.median(times["naive"]) / statistics.median(times["lean"]), 3)
        result.max_loss_difference_vs_naive = _loss_difference_without_dropout(
            model, [make_batch(ids) for ids in plan[:TRAIN_WARMUP_UPDATES + 1]])
    return result
