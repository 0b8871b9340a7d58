"""The training loop: the spec's sampling, loss, optimiser and schedule, run under
Hugging Face Accelerate so that one command trains on a CPU, a GPU (with bf16/fp16)
or data-parallel on several processes (``accelerate launch`` or ``torchrun``).

Data order and negative samples are seeded per (seed, epoch, document), so a run
resumed from its last checkpoint (``resume=True``) ends with the same weights as
an uninterrupted one. With N processes and A accumulation steps an update covers
N*A consecutive micro-batches of the epoch's order, whatever N and A are.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import logging
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list, gather_object
from torch import nn
from torch.optim.lr_scheduler import LambdaLR
from tqdm.auto import tqdm
from transformers import AutoConfig, PreTrainedTokenizerFast

from spert.atomic import atomic_write_text, remove_old_copy, remove_temporaries
from spert.data.schema import TypeSchema, load_types
from spert.errors import SpertError, TrainingStopped
from spert.eval.metrics import Metrics
from spert.model.batch import add_distillation_pairs, add_negative_pairs, collate
from spert.model.checkpoint import build_model, check_start_model, load_weights, save_model
from spert.model.embedding import TrainVocabEmbedding, attach, restrict_to_training_vocabulary, unrestrict
from spert.model.encoders import max_subwords, pad_id
from spert.model.encoding import load_tokenizer, resolve_encoder
from spert.model.network import SpERTModel
from spert.model.spans import Sample
from spert.runtime import package_version, set_cpu_threads, tune_allocator
from spert.train.config import RUN_CONFIG, TrainConfig
from spert.train.distillation import combine
from spert.train.evaluation import Dataset, Evaluation, load_dataset, predict_and_score, write_evaluation
from spert.train.model_card import CardInput, command_line, write_card
from spert.train.optim import AdamWNoBiasCorrection, clip_grad_norm, linear_schedule, parameter_groups
from spert.train.resume import LAST, TrainerState, check_can_resume, last_checkpoint, load_checkpoint, save_checkpoint
from spert.train.sampling import (cross_sentence_negatives, distillation_spans, seeded_rng, teacher_pairs,
                                  training_sample)
from spert.train.teacher import DISTILLATION_FILE, SILVER_FILE, TeacherModel, check_teacher, load_teacher, with_silver
from spert.train.teacher_outputs import OUTPUTS_DIR

log = logging.getLogger(__name__)
CROSS_STREAM = 7_919  # the random stream of cross-sentence negatives, apart from each document's sampling
DISTILL_STREAM = 7_927  # the random stream of spans and pairs for the distillation loss alone
# what a run writes atomically into its output directory (their temporaries are cleared at start and end)
RUN_WRITES = (LAST, "best", "model", RUN_CONFIG, "processes.json", "metrics.json", "predictions.json", SILVER_FILE,
              OUTPUTS_DIR)


def evaluate_model(model, tokenizer, data: Dataset, cfg: TrainConfig, show_progress: bool) -> Evaluation:
    """The run's evaluation of its model on a data set, with the run's settings."""
    return predict_and_score(model, tokenizer, data, threshold=cfg.rel_filter_threshold, no_overlap=cfg.no_overlap,
                             batch_size=cfg.eval_batch_size,
                             progress=(lambda total: tqdm(total=total, desc="evaluate", unit="sent",
                                                          leave=False)) if show_progress else None)


def _append_csv(path: Path, row: dict[str, Any]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


def micro_batches(n: int, batch_size: int, seed: int, epoch: int, group: int) -> list[np.ndarray]:
    """The epoch's shuffled micro-batches, cut to a multiple of ``group`` (processes x accumulation)."""
    order = np.random.default_rng([seed, epoch]).permutation(n)
    micro = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if group > 1:
        micro = micro[: len(micro) // group * group]
    return micro


@dataclass
class TrainResult:
    """What a finished run reports: the final model's scores on the test (or validation) set."""

    output_dir: Path
    train_seconds: float
    best_valid_epoch: int
    metrics: Metrics | None = None  # None without a test or validation set
    split: str | None = None  # "test" or "valid"
    data: Path | None = None

    def to_json(self) -> dict[str, Any]:
        """``metrics.json``: the metrics' shape plus where they come from and the training time."""
        if self.metrics is None:
            return {}
        return {**self.metrics.to_json(), "split": self.split, "data": str(self.data),
                "train_seconds": round(self.train_seconds, 1), "best_valid_epoch": self.best_valid_epoch}


@dataclass
class Run:
    """Everything a training run holds between its steps."""

    cfg: TrainConfig
    acc: Accelerator
    model: nn.Module  # the SpERTModel, wrapped by Accelerate for data parallel (acc.unwrap_model gives it)
    tokenizer: PreTrainedTokenizerFast
    schema: TypeSchema
    train_set: Dataset
    valid_set: Dataset | None
    test_set: Dataset | None
    optimizer: AdamWNoBiasCorrection
    scheduler: LambdaLR
    compact: TrainVocabEmbedding | None
    state: TrainerState
    updates_per_epoch: int
    total_updates: int
    stop: StopRequest = field(default_factory=lambda: StopRequest())
    teacher: TeacherModel | None = None  # spert distill: the outputs the student learns from too

    @property
    def out(self) -> Path:
        return Path(self.cfg.output_dir)

    @property
    def main(self) -> bool:
        return self.acc.is_main_process

    @property
    def group(self) -> int:
        """Micro-batches per update: processes x accumulation steps."""
        return self.acc.num_processes * self.cfg.grad_accumulation

    @property
    def pad(self) -> int:
        return pad_id(self.tokenizer)


class StopRequest:
    """Ctrl-C or SIGTERM while training in one process: the update under way finishes, the resumable
    checkpoint is written and training stops (:class:`TrainingStopped`); a second signal stops at
    once. The handlers are installed only while training, in the main thread, by one process (with
    several, the processes would have to agree on the update to stop at)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._before: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def install(self, processes: int) -> None:
        if processes != 1 or threading.current_thread() is not threading.main_thread():
            return
        for s in self.SIGNALS:
            self._before[s] = signal.signal(s, self._handle)

    def restore(self) -> None:
        for s, before in self._before.items():
            signal.signal(s, before)
        self._before.clear()

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:  # the second: at once
            self.restore()
            raise KeyboardInterrupt
        self.signum = signum
        log.warning("%s: stopping after this update, once the checkpoint is written (again to stop at once, "
                    "losing what the checkpoint would hold)", signal.Signals(signum).name)

    def stopped(self, run: Run) -> TrainingStopped:
        state = run.state
        where = (f"after update {state.update}, {state.epoch_updates} of {run.updates_per_epoch} into epoch "
                 f"{state.epoch + 1}" if state.epoch_updates else f"after epoch {state.epoch} (update {state.update})")
        return TrainingStopped(f"stopped by {signal.Signals(self.signum).name} {where}; "
                               f"{last_checkpoint(run.out)} holds it: run the same command with --resume to go on "
                               f"(spert cv, spert ablate and --seeds: the same command as it was)",
                               128 + self.signum)


def train(cfg: TrainConfig, *, resume: bool = False, show_progress: bool = True,
          on_epoch_end: Callable[[int, TrainerState], None] | None = None) -> TrainResult:
    """Train, validate, save and test; returns the final scores (the caller prints them)."""
    run = set_up(cfg, resume)
    t_start = time.perf_counter()
    run.stop.install(run.acc.num_processes)
    try:
        train_epochs(run, show_progress, on_epoch_end)
    finally:
        run.stop.restore()
    return finish(run, time.perf_counter() - t_start, show_progress)


def train_epochs(run: Run, show_progress: bool, on_epoch_end: Callable[[int, TrainerState], None] | None) -> None:
    cfg = run.cfg
    for epoch in range(run.state.epoch, cfg.epochs):
        if run.state.stopped_early:
            break
        train_epoch(run, epoch, show_progress)
        if validation_due(run):
            validate(run, show_progress)
        checkpoint(run)
        if run.stop.requested:
            raise run.stop.stopped(run)
        if on_epoch_end is not None:
            on_epoch_end(run.state.epoch, run.state)


def accelerator(cfg: TrainConfig) -> Accelerator:
    """The run's Accelerator. Accelerate keeps one state per process and refuses another mixed
    precision after the first; a later run in the same process with another one (spert ablate,
    the Python API) starts that state afresh, keeping the process group (its PartialState)."""
    from accelerate.state import AcceleratorState

    if AcceleratorState._shared_state.get("_mixed_precision", cfg.mixed_precision) != cfg.mixed_precision:
        AcceleratorState._reset_state(reset_partial_state=False)  # private, but what Accelerate's tests use
    return Accelerator(cpu=cfg.cpu, mixed_precision=cfg.mixed_precision,
                       gradient_accumulation_steps=cfg.grad_accumulation)


def set_up(cfg: TrainConfig, resume: bool) -> Run:
    """Data, model, optimiser and schedule; the state of the last checkpoint when resuming. The
    steps run in this order (the seeded initialisation depends on it)."""
    acc = start_process(cfg)
    out = Path(cfg.output_dir)
    check_output_dir(out, resume, acc.is_main_process)
    schema = load_types(cfg.types_path)
    if cfg.teacher is not None:  # refused before any weights load
        check_teacher(cfg.teacher, schema, cfg.max_span_size, cross_sentence=cfg.neg_cross_sentence_count > 0,
                      silver=bool(cfg.silver_path or cfg.silver_swap))
    model, tokenizer = build_start_model(cfg, schema, resume)
    limit = max_subwords(model.encoder.config, tokenizer)
    train_set = load_dataset(cfg.train_path, schema, tokenizer, limit, cfg.max_train_docs, cfg.context_words,
                             cfg.syntax_model)
    valid_set, test_set = (load_dataset(path, schema, tokenizer, limit, cfg.max_eval_docs, cfg.context_words,
                                        cfg.syntax_model)
                           if path else None for path in (cfg.valid_path, cfg.test_path))
    teacher = (load_teacher(cfg.teacher, cfg.train_path, cfg.max_train_docs, acc.device, weight=cfg.distill_weight,
                            temperature=cfg.distill_temperature, spans=cfg.distill_spans,
                            pairs=cfg.distill_teacher_pairs)
               if cfg.teacher is not None and cfg.distill_weight > 0 else None)  # weight 0: the plain run
    if teacher is not None and (cfg.silver_path or cfg.silver_swap):
        train_set = with_silver(cfg, schema, train_set, teacher, tokenizer, limit, resume, acc.is_main_process)
    if teacher is not None and cfg.teacher_cached():
        teacher.cache(train_set.docs, out if acc.is_main_process else None, kept_pairs=cfg.distill_teacher_pairs > 0,
                      batch_size=cfg.eval_batch_size, device=acc.device)
    compact = compact_embedding(cfg, model, train_set, pad_id(tokenizer))
    group = acc.num_processes * cfg.grad_accumulation
    updates_per_epoch = count_updates(cfg, len(train_set.docs), acc.num_processes)
    total_updates = updates_per_epoch * cfg.epochs
    optimizer, scheduler = build_optimizer(cfg, model, total_updates, compact)
    state = (resumed_state(out, model, optimizer, scheduler, cfg, group, acc.is_main_process) if resume
             else TrainerState(group=group))
    model, optimizer = acc.prepare(model, optimizer)
    if acc.is_main_process:
        prepare_output_dir(out, cfg, state if resume else None)
    return Run(cfg, acc, model, tokenizer, schema, train_set, valid_set, test_set, optimizer, scheduler, compact,
               state, updates_per_epoch, total_updates, teacher=teacher)


def start_process(cfg: TrainConfig) -> Accelerator:
    """This process's allocator and CPU threads, and the run's Accelerator."""
    tune_allocator()
    set_cpu_threads()
    return accelerator(cfg)


def check_output_dir(out: Path, resume: bool, main: bool) -> None:
    """Refuse to resume where there is nothing to resume; warn (once) that a model there will be replaced."""
    if resume:
        check_can_resume(out)
    if not resume and (out / "model").exists() and main:
        log.warning("%s exists and will be replaced at the end of this run", out / "model")


def build_start_model(cfg: TrainConfig, schema: TypeSchema, resume: bool) -> tuple[SpERTModel, PreTrainedTokenizerFast]:
    """The encoder's tokenizer and the model training starts from: new heads on the (pre-trained or
    random) encoder, seeded, or the weights of ``init_model`` (checked before the encoder's weights
    are read). A resumed run's weights come from its checkpoint later (:func:`resumed_state`)."""
    encoder_source = resolve_encoder(cfg.encoder)
    tokenizer = load_tokenizer(encoder_source)
    if cfg.init_model is not None and not resume:  # refused before the encoder's weights are read
        check_start_model(cfg.init_model, schema, AutoConfig.from_pretrained(encoder_source))
    torch.manual_seed(cfg.seed)  # classifier initialisation
    model = build_model(cfg.model_settings(), schema, encoder_source, pack_training=cfg.pack_sequences)
    if cfg.init_model is not None and not resume:  # a resumed run reads its own checkpoint below
        load_weights(model, cfg.init_model)
    return model, tokenizer


def compact_embedding(cfg: TrainConfig, model: SpERTModel, train_set: Dataset, pad: int) -> TrainVocabEmbedding | None:
    """With ``compact_embeddings`` (and a trained encoder), the word embedding restricted to the rows of
    the training data's vocabulary and the id batches are padded with (``pad``: the tokenizer's, which
    need not be the embedding's ``padding_idx``; MPNet fixes that to 1 whatever the tokenizer says);
    None otherwise."""
    if not cfg.compact_embeddings or cfg.freeze_encoder:
        return None
    ids = itertools.chain((t for e in train_set.encodings for t in e.input_ids), (pad,))
    return restrict_to_training_vocabulary(model.encoder, ids)


def count_updates(cfg: TrainConfig, n_docs: int, processes: int) -> int:
    """Optimizer updates per epoch; an error when the training set cannot fill one."""
    group = processes * cfg.grad_accumulation
    n_micro = len(micro_batches(n_docs, cfg.batch_size, cfg.seed, 0, group))
    if n_micro == 0:
        raise SpertError(f"{cfg.train_path}: too few documents for batch size {cfg.batch_size} x "
                         f"{processes} processes x {cfg.grad_accumulation} accumulation steps")
    return n_micro // group


def build_optimizer(cfg: TrainConfig, model: SpERTModel, total_updates: int,
                    compact: TrainVocabEmbedding | None) -> tuple[AdamWNoBiasCorrection, LambdaLR]:
    """The spec's optimiser and schedule (:mod:`spert.train.optim`), the compact embedding attached."""
    optimizer = AdamWNoBiasCorrection(parameter_groups(model, cfg.weight_decay), lr=cfg.lr,
                                      weight_decay=cfg.weight_decay)
    scheduler = linear_schedule(optimizer, total_updates, cfg.lr_warmup)
    if compact is not None:
        attach(compact, optimizer)
    return optimizer, scheduler


def resumed_state(out: Path, model: SpERTModel, optimizer: AdamWNoBiasCorrection, scheduler: LambdaLR,
                  cfg: TrainConfig, group: int, main: bool) -> TrainerState:
    """Put the last checkpoint back into the model, optimizer and schedule; the loop's state from it.
    Refused when it was written with another number of micro-batches per update."""
    state = load_checkpoint(last_checkpoint(out), model, optimizer, scheduler, cfg)
    if state.group not in (0, group):
        raise SpertError(f"{last_checkpoint(out)}: written with {state.group} micro-batches per update "
                         f"(processes x grad_accumulation), resumed with {group}; resume with the same "
                         f"number of processes")
    state.group = group
    if main:
        inside = f", {state.epoch_updates} updates into epoch {state.epoch + 1}" if state.epoch_updates else ""
        log.info("resuming after epoch %d (update %d%s)", state.epoch, state.update, inside)
    return state


def prepare_output_dir(out: Path, cfg: TrainConfig, resumed: TrainerState | None) -> None:
    """The output directory with the run's ``config.json``: without an earlier run's logs, or, resuming
    from ``resumed``, with the log rows its checkpoint covers (a killed run logged updates past its last
    checkpoint; they run again, and would be logged twice)."""
    out.mkdir(parents=True, exist_ok=True)
    removed = remove_temporaries(out, RUN_WRITES)  # what a killed run's writes left half-done
    if removed:
        log.info("removed %d temporaries an interrupted run left in %s", len(removed), out)
    if resumed is None:
        for f in ("log.csv", "eval.csv"):
            (out / f).unlink(missing_ok=True)
    else:
        _keep_rows_up_to(out / "log.csv", "update", resumed.update)
        _keep_rows_up_to(out / "eval.csv", "epoch", resumed.epoch)  # validation comes before the epoch's checkpoint
    atomic_write_text(out / RUN_CONFIG, cfg.model_dump_json(indent=2))


def _keep_rows_up_to(path: Path, column: str, last: int) -> None:
    """Drop the rows of a log whose ``column`` is past ``last``, and a last row the kill cut short
    (rewritten atomically; untouched if every row stays)."""
    if not path.exists():
        return
    with path.open(newline="") as fh:  # the csv module's own line endings, kept as written
        lines = fh.readlines()
    if not lines or not lines[0].endswith("\n"):  # empty, or the header itself cut short: start it again
        path.unlink()
        return
    at = next(csv.reader(lines[:1])).index(column)  # a row per line: a log's fields are numbers

    def covered(line: str) -> bool:
        fields = next(csv.reader([line]), [])
        return line.endswith("\n") and len(fields) > at and fields[at].isdigit() and int(fields[at]) <= last

    keep = [line for line in lines[1:] if covered(line)]
    if len(keep) < len(lines) - 1:
        atomic_write_text(path, "".join([lines[0]] + keep))


def distillation_samples(run: Run, samples: list[Sample], ids: Sequence[int], epoch: int):
    """A batch's samples as a distilled student trains on them: the teacher reads the sentences
    (every candidate span), each sample gets ``distill_spans`` more spans and up to
    ``distill_teacher_pairs`` pairs of the spans the teacher would keep (both for the distillation loss
    alone, from their own random stream: the gold sampling draws what it always draws). Returns the
    samples, the teacher's reading and the pairs as indices into the batch's spans."""
    cfg, teacher = run.cfg, run.teacher
    rngs = [np.random.default_rng([cfg.seed, epoch, DISTILL_STREAM, int(j)]) for j in ids]
    samples = [distillation_spans(s, len(run.train_set.docs[j].tokens), cfg.max_span_size, cfg.distill_spans, rng)
               for s, j, rng in zip(samples, ids, rngs)]
    seen = teacher.read(ids, samples, run.acc.device)
    pairs, offset = [], 0
    for b, rng in enumerate(rngs if cfg.distill_teacher_pairs else []):  # kept(b) reads the logits back: only when used
        samples[b], local = teacher_pairs(samples[b], seen.kept(b), cfg.distill_teacher_pairs, rng)
        pairs.append(local + offset)
        offset += len(samples[b].spans)
    return samples, seen, [p for p in pairs if len(p)]


def train_epoch(run: Run, epoch: int, show_progress: bool) -> None:
    """One pass over this process's share of the epoch's micro-batches; logs the loss."""
    cfg, acc, model, state = run.cfg, run.acc, run.model, run.state
    world, group, device = acc.num_processes, run.group, acc.device
    model.train()
    mine = micro_batches(len(run.train_set.docs), cfg.batch_size, cfg.seed, epoch, group)[acc.process_index::world]
    mine = mine[state.epoch_updates * cfg.grad_accumulation:]  # resumed inside the epoch: what is left of it
    bar = tqdm(total=run.updates_per_epoch, initial=state.epoch_updates, desc=f"epoch {epoch + 1}/{cfg.epochs}",
               unit="upd", disable=not (run.main and show_progress), dynamic_ncols=True)
    loss_sum = torch.zeros(3, device=device)  # (loss, entity loss, relation loss) since the last log
    sentences, t_epoch = 0, time.perf_counter()
    for ids in mine:
        samples = [training_sample(run.train_set.docs[j], run.schema, seeded_rng(cfg.seed, epoch, int(j)),
                                   neg_entity_count=cfg.neg_entity_count, neg_relation_count=cfg.neg_relation_count,
                                   max_span_size=cfg.max_span_size, negatives=cfg.negatives, doc_index=int(j))
                   for j in ids]
        seen, distilled = None, []  # spert distill: the teacher's reading, the pairs for its loss alone
        if run.teacher is not None:
            samples, seen, distilled = distillation_samples(run, samples, ids, epoch)
        batch = collate([run.train_set.encodings[j] for j in ids], samples, run.pad)
        if cfg.neg_cross_sentence_count:  # off by default: the spec's sampling draws nothing more
            add_negative_pairs(batch, cross_sentence_negatives(
                samples, [len(run.train_set.docs[j].tokens) for j in ids], cfg.neg_cross_sentence_count,
                np.random.default_rng([cfg.seed, epoch, CROSS_STREAM, int(ids[0])])))
        if distilled:
            add_distillation_pairs(batch, np.concatenate(distilled))
        batch = batch.to(device)
        with acc.accumulate(model):
            res = model(batch)
            loss = res.loss if seen is None else combine(
                res.loss, run.teacher.loss(res, batch, samples, seen), cfg.distill_weight)
            acc.backward(loss)
            rel_loss = res.rel_loss.detach() if res.rel_loss is not None else torch.zeros((), device=device)
            loss_sum += torch.stack([loss.detach(), res.entity_loss.detach(), rel_loss])
            sentences += len(ids)
            if acc.sync_gradients:
                acc.unscale_gradients()  # no-op unless fp16 loss scaling is on
                clip_grad_norm(model.parameters(), cfg.max_grad_norm)
            run.optimizer.step()
            if acc.sync_gradients:
                run.scheduler.step()
            run.optimizer.zero_grad(set_to_none=True)
        if not acc.sync_gradients:
            continue
        state.update += 1
        state.epoch_updates += 1
        bar.update(1)
        if state.update % cfg.log_every == 0 or state.update == run.total_updates:
            mean = (acc.reduce(loss_sum, "sum") / group).tolist()
            rate = sentences * world / max(1e-9, time.perf_counter() - t_epoch)
            bar.set_postfix(loss=f"{mean[0]:.4f}", sent_s=f"{rate:.1f}")
            if run.main:
                _append_csv(run.out / "log.csv", {"epoch": epoch + 1, "update": state.update, "loss": mean[0],
                                                  "entity_loss": mean[1], "rel_loss": mean[2],
                                                  "lr": run.scheduler.get_last_lr()[0], "sentences_per_s": rate})
        loss_sum.zero_()
        inside = state.epoch_updates < run.updates_per_epoch  # the epoch's end writes its own checkpoint
        if inside and (run.stop.requested or (cfg.checkpoint_every and state.update % cfg.checkpoint_every == 0)):
            checkpoint(run)
            if run.stop.requested:
                bar.close()
                raise run.stop.stopped(run)
    bar.close()
    state.epoch, state.epoch_updates = epoch + 1, 0
    if run.compact is not None:
        run.compact.fold()  # the checkpoint's matrix becomes the one training goes on from


def checkpoint(run: Run) -> None:
    """Write the resumable checkpoint (last/), at an epoch's end or inside one. The training
    vocabulary's embedding is folded first on every process, as at an epoch's end, so that a run
    resumed from here starts from the matrix the run goes on with."""
    if run.compact is not None and run.state.epoch_updates:
        run.compact.fold()
    if run.main:
        save_checkpoint(last_checkpoint(run.out), run.acc.unwrap_model(run.model), run.tokenizer,
                        run.optimizer, run.scheduler, run.state, run.cfg)
    run.acc.wait_for_everyone()


def validation_due(run: Run) -> bool:
    cfg, epoch = run.cfg, run.state.epoch
    return run.valid_set is not None and ((cfg.eval_every and epoch % cfg.eval_every == 0) or epoch == cfg.epochs)


def validate(run: Run, show_progress: bool) -> None:
    """Score the validation set; keep the best model and count evaluations towards early stopping."""
    cfg, state = run.cfg, run.state
    if run.main:
        model = run.acc.unwrap_model(run.model)
        metrics, _ = evaluate_model(model, run.tokenizer, run.valid_set, cfg, show_progress)
        _append_csv(run.out / "eval.csv", {"epoch": state.epoch, "ner_f1": metrics.ner.micro.f1,
                                           "rel_f1": metrics.rel.micro.f1, "rel_plus_f1": metrics.rel_plus.micro.f1})
        log.info("epoch %d validation: NER F1 %.2f, REL+ F1 %.2f", state.epoch, metrics.ner.micro.f1,
                 metrics.rel_plus.micro.f1)
        score = metrics.main_score(run.schema.num_relation_types > 0)
        if score > state.best_score:
            state.best_score, state.best_epoch, state.bad_evals = score, state.epoch, 0
            save_model(model, run.tokenizer, run.out / "best", cfg.inference_settings())
        else:
            state.bad_evals += 1
            state.stopped_early = bool(cfg.early_stopping and state.bad_evals >= cfg.early_stopping)
    run.state = _broadcast_state(run.acc, state)


def finish(run: Run, train_seconds: float, show_progress: bool) -> TrainResult:
    """Check the replicas agree, save the final model, and score it on the test (or validation) set."""
    acc, cfg, out = run.acc, run.cfg, run.out
    checksums = _gather_checksums(acc, acc.unwrap_model(run.model))
    result = TrainResult(out, train_seconds, run.state.best_epoch)
    if run.main:
        atomic_write_text(out / "processes.json", json.dumps(
            {"num_processes": acc.num_processes, "device": str(acc.device), "weight_sha256_per_process": checksums},
            indent=2))
        if len(set(checksums)) > 1:
            log.error("processes ended with different weights: %s", checksums)
        final = acc.unwrap_model(run.model)
        unrestrict(final.encoder)
        save_model(final, run.tokenizer, out / "model", cfg.inference_settings())
        eval_set = run.test_set or run.valid_set
        if eval_set is not None:
            metrics, preds = evaluate_model(final, run.tokenizer, eval_set, cfg, show_progress)
            result.metrics, result.data = metrics, eval_set.path
            result.split = "test" if run.test_set is not None else "valid"
            write_evaluation(out, result.to_json(), preds)
        write_card(out / "model", CardInput(
            name=out.name, settings=json.loads(cfg.model_dump_json()), entity_types=[t.name for t in final.schema.entities],
            relation_types=[t.name for t in final.schema.relations], scores=result.to_json() if result.metrics else None,
            split=result.split, command=command_line(), version=package_version(),
            teacher=None if run.teacher is None else run.teacher.card()))
        if run.teacher is not None:
            atomic_write_text(out / "model" / DISTILLATION_FILE, json.dumps(run.teacher.record(), indent=2))
        remove_old_copy(last_checkpoint(out))  # an interrupted save of the last checkpoint may have left it
        remove_temporaries(out, RUN_WRITES)
    acc.wait_for_everyone()
    acc.end_training()
    return result


def _gather_checksums(acc, model) -> list[str]:
    """SHA-256 of every process's weights: data-parallel replicas must end identical."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    if acc.num_processes == 1:
        return [h.hexdigest()]
    return list(gather_object([h.hexdigest()]))


def _broadcast_state(acc, state: TrainerState) -> TrainerState:
    if acc.num_processes == 1:
        return state
    obj = [asdict(state)]
    broadcast_object_list(obj, from_process=0)
    return TrainerState(**obj[0])
