"""``spert bench``: how fast and how lean this SpERT is, against the naive reference, in one run.

What is measured, on the same weights and the same batches:

* inference: sentences/s of :func:`~spert.inference.predict_documents` (collate, model and
  decode; tokenization excluded) at each batch size, and of the encoder alone on exactly the
  same collated batches. Their ratio is what SpERT adds to the encoder's cost;
* the same inference with naive pooling (``pooling_impl="naive"``: a (queries x subwords x
  hidden) tensor per pooling, as the authors' code builds), and whether its predictions are
  identical to ours;
* training: sentences/s over a fixed number of updates (the spec's per-sentence sampling,
  collate, forward, backward, clipping, AdamW), ours and naive, both from the same weights;
* time and peak memory of one inference on a synthetic sentence of N words, each in a fresh
  subprocess (see :func:`_length_child` for how memory is measured);
* optionally (``quantize``) the encoder with dynamic int8 linear layers: speed-up and F1 change.

The machine may be shared and noisy: after a warm-up, ours, encoder-only (and int8) passes
are interleaved ``repeats`` times and medians are reported; the ratio is the median of the
per-repeat ratios, so drift in the machine's load cancels out. The ratio is also given in
process CPU time, which does not count time spent waiting for a core that another process holds.

A model built from an encoder has random heads, which call ~4 spans in 5 an entity; the
relation stage would then score ~10^6 pairs per batch and swamp every figure. Such heads (a
model built from an encoder, or any model keeping over 10% of the candidate spans) are
calibrated (:func:`calibrate_untrained_heads`) to keep about as many spans and relations as a
CoNLL04-trained model does; the JSON says so. A trained model is used as it is.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from spert.atomic import atomic_write_text
from spert.model.batch import Batch, collate
from spert.model.checkpoint import META, build_model, load_model, save_model
from spert.data.documents import Document, read_documents
from spert.model.encoding import Encoding, encode_words_batch, load_tokenizer, resolve_encoder
from spert.errors import SpertError
from spert.eval.metrics import evaluate
from spert.infer.decoding import DocPrediction, check_lengths, length_batches, max_subwords, predict_documents
from spert.model.network import SpERTModel
from spert.model.settings import InferenceSettings, ModelSettings
from spert.model.embedding import attach, restrict_to_training_vocabulary, unrestrict
from spert.train.optim import AdamWNoBiasCorrection, clip_grad_norm, parameter_groups
from spert.runtime import set_cpu_threads, tune_allocator
from spert.model.spans import inference_sample
from spert.train.sampling import seeded_rng, training_sample
from spert.data.schema import load_types
from spert.train.loop import micro_batches

log = logging.getLogger(__name__)

DEFAULT_DATA = Path("data/conll04/conll04_test.json")
# What a CoNLL04-trained model keeps: ~3.7 entities among ~250 candidate spans per sentence, and
# about one relation per sentence among ~10 ordered pairs x 5 types.
UNTRAINED_ENTITY_RATE = 0.015
UNTRAINED_RELATION_RATE = 0.025
# A trained model keeps a few percent of the candidate spans (CoNLL04 ~1.5%, SciERC ~3%); heads
# that keep more than this are treated as untrained and calibrated.
UNTRAINED_KEEP_LIMIT = 0.1
TRAIN_BATCH_SIZE = 2  # the spec's
TRAIN_WARMUP_UPDATES = 2  # untimed updates before each timed training run
LENGTH_TIMEOUT_S = 900  # one length measurement in its subprocess


@dataclass
class BenchSettings:
    """Everything one benchmark run depends on."""

    model: str  # a spert model directory, or an encoder name or directory (untrained heads)
    data: Path = DEFAULT_DATA
    types: Path | None = None  # for an encoder; default: the only *_types.json next to ``data``
    batch_sizes: tuple[int, ...] = (1, 8, 32)
    repeats: int = 3  # interleaved passes of ours / encoder-only (/ int8); medians reported
    naive_repeats: int = 1  # the naive implementation is slow; its noise matters less
    train_updates: int = 30
    lengths: tuple[int, ...] = (25, 50, 100, 200, 300)
    length_repeats: int = 3
    quantize: bool = False
    max_docs: int | None = None
    naive: bool = True
    seed: int = 0
    threshold: float | None = None  # relation threshold; default: the model's
    extra: dict[str, Any] = field(default_factory=dict)


# -- model and data -------------------------------------------------------------------


def _default_types(data: Path) -> Path:
    found = sorted(data.parent.glob("*_types.json"))
    if len(found) != 1:
        raise SpertError(f"--model is an encoder, so the types are needed: pass --types FILE "
                         f"(found {len(found)} *_types.json files next to {data})")
    return found[0]


def load_bench_model(model: str, types: Path | None, data: Path, seed: int) -> tuple[SpERTModel, Any, float, str]:
    """(model, tokenizer, relation threshold, description) from a model directory or an encoder."""
    path = Path(model)
    if (path / META).exists():
        net, tokenizer, inference = load_model(path)
        if types is not None and load_types(types).to_json() != net.schema.to_json():
            raise SpertError(f"{types}: these types differ from the model's ({path / META})")
        return net.eval(), tokenizer, inference.rel_filter_threshold, f"model {path}"
    schema = load_types(types if types is not None else _default_types(data))
    source = resolve_encoder(model)
    torch.manual_seed(seed)  # the heads' initialisation
    net = build_model(ModelSettings(encoder=model), schema, source).eval()
    return net, load_tokenizer(source), InferenceSettings().rel_filter_threshold, f"encoder {model} with untrained, calibrated heads"


def span_keep_rate(model: SpERTModel, batch: Batch) -> float:
    """The share of the batch's candidate spans the entity classifier keeps."""
    return len(model.predict(batch).span_index) / max(1, len(batch.span_doc))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


@torch.no_grad()
def calibrate_untrained_heads(model: SpERTModel, batch: Batch, threshold: float,
                              entity_rate: float = UNTRAINED_ENTITY_RATE,
                              relation_rate: float = UNTRAINED_RELATION_RATE) -> dict[str, float]:
    """Shift the classifiers' biases so that they keep about ``entity_rate`` of the candidate spans
    and predict about ``relation_rate`` of the (kept pair, type) combinations. Changes no weight."""
    was_training = model.training
    model.eval()
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
    return {"entity_rate": entity_rate, "relation_rate": relation_rate,
            "no_entity_bias_shift": entity_shift, "relation_bias_shift": -rel_shift}


def quantize_encoder(model: SpERTModel) -> SpERTModel:
    """A copy of the model whose encoder's linear layers run in int8 (dynamic quantization:
    weights quantized once, activations per call). Heads and pooling stay in float32."""
    from torch.ao.quantization import quantize_dynamic

    q = copy.deepcopy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        q.encoder = quantize_dynamic(q.encoder, {nn.Linear}, dtype=torch.qint8)
    return q.eval()


# -- measurements ----------------------------------------------------------------------


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _rate(n: int, seconds: float) -> dict[str, float]:
    return {"seconds": round(seconds, 4), "sentences_per_s": round(n / seconds, 2)}


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


def _f1(gold: Sequence[Document], preds: Sequence[DocPrediction]) -> dict[str, float]:
    m = evaluate(gold, [p.to_document() for p in preds])
    return {"ner": round(m.ner.micro.f1, 2), "rel": round(m.rel.micro.f1, 2), "rel_plus": round(m.rel_plus.micro.f1, 2)}


def bench_inference(model: SpERTModel, tokenizer, docs: Sequence[Document], encodings: Sequence[Encoding],
                    batch_size: int, threshold: float, repeats: int, naive_repeats: int,
                    naive: bool, quantized: SpERTModel | None) -> dict[str, Any]:
    """Ours, encoder-only (and int8) interleaved ``repeats`` times, then naive; one batch size."""
    tokens = [d.tokens for d in docs]
    n = len(docs)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batches = encoder_batches(model, encodings, batch_size, pad)

    def predict(m: SpERTModel, subset: Sequence[int] | None = None) -> list[DocPrediction]:
        if subset is None:
            return predict_documents(m, tokenizer, tokens, batch_size=batch_size, threshold=threshold,
                                     encodings=encodings)
        return predict_documents(m, tokenizer, [tokens[i] for i in subset], batch_size=batch_size,
                                 threshold=threshold, encodings=[encodings[i] for i in subset])

    # warm-up: the longest batches (the first ones), so that buffers reach their working size
    warm = [i for ids in length_batches([len(e.input_ids) for e in encodings], batch_size)
            for i in ids][: 2 * batch_size]
    predict(model, warm)
    run_encoder(model, batches[:2])
    if quantized is not None:
        predict(quantized, warm)

    # wall-clock seconds, and CPU seconds of the whole process (all threads): on a shared machine
    # the wall clock also counts time spent waiting for a core, the CPU time does not
    times: dict[str, list[float]] = {"ours": [], "encoder": [], "int8": []}
    cpu: dict[str, list[float]] = {"ours": [], "encoder": []}
    preds = q_preds = None
    for r in range(repeats):
        c0 = time.process_time()
        t, preds = _timed(lambda: predict(model))
        c1 = time.process_time()
        times["ours"].append(t)
        times["encoder"].append(_timed(lambda: run_encoder(model, batches))[0])
        cpu["ours"].append(c1 - c0)
        cpu["encoder"].append(time.process_time() - c1)
        if quantized is not None:
            t, q_preds = _timed(lambda: predict(quantized))
            times["int8"].append(t)
        log.info("batch size %d, repeat %d/%d: spert %.2fs, encoder %.2fs%s", batch_size, r + 1, repeats,
                 times["ours"][-1], times["encoder"][-1],
                 f", int8 {times['int8'][-1]:.2f}s" if quantized is not None else "")
    ours_t, enc_t = statistics.median(times["ours"]), statistics.median(times["encoder"])
    out: dict[str, Any] = {
        "batch_size": batch_size,
        "inference": _rate(n, ours_t),
        "encoder_only": _rate(n, enc_t),
        "overhead_ratio": round(statistics.median(o / e for o, e in zip(times["ours"], times["encoder"])), 4),
        "overhead_ratio_cpu_time": round(statistics.median(o / e for o, e in zip(cpu["ours"], cpu["encoder"])), 4),
        "f1": _f1(docs, preds),
    }
    if naive:
        with model.using(pooling_impl="naive"):
            predict(model, warm[-1:])  # warm-up: one sentence
            naive_times = []
            for r in range(naive_repeats):
                t, naive_preds = _timed(lambda: predict(model))
                naive_times.append(t)
                log.info("batch size %d, naive repeat %d/%d: %.2fs", batch_size, r + 1, naive_repeats, t)
        naive_t = statistics.median(naive_times)
        out["naive"] = {"inference": _rate(n, naive_t), "f1": _f1(docs, naive_preds)}
        out["speedup_vs_naive"] = round(naive_t / ours_t, 3)
        out["predictions_identical"] = _same(preds, naive_preds)
    if quantized is not None:
        q_t = statistics.median(times["int8"])
        f1 = _f1(docs, q_preds)
        out["int8"] = {"inference": _rate(n, q_t),
                       "speedup": round(statistics.median(o / q for o, q in zip(times["ours"], times["int8"])), 3),
                       "f1": f1, "f1_change": {k: round(f1[k] - out["f1"][k], 2) for k in f1}}
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
                   updates: int, repeats: int, seed: int, naive: bool) -> dict[str, Any]:
    """Sentences/s over ``updates`` training updates, ours and naive alternately, same start weights.

    Each run rebuilds the optimizer, does a few untimed updates, then times ``updates`` more.
    Ours runs packed batches, which draw dropout masks of other shapes than the naive
    padded ones, so the timed losses differ by dropout noise; equality is checked apart, on
    the first updates' batches with dropout off (reported as the largest loss difference).
    """
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
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
            return _train_run(impl)

    def _train_run(impl: str) -> float:
        model.load_state_dict(initial)
        model.train()
        # ours as `spert train` runs it (packed documents, training-vocabulary embedding rows);
        # naive as the authors' code: padded batches, dense embedding update
        compact = restrict_to_training_vocabulary(model.encoder, vocab) if impl == "lean" else None
        optimizer = AdamWNoBiasCorrection(parameter_groups(model, 0.01), lr=5e-5, weight_decay=0.01)
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
    out: dict[str, Any] = {"train": {**_rate(n, statistics.median(times["lean"])), "updates": updates,
                                     "batch_size": TRAIN_BATCH_SIZE}}
    if naive:
        out["naive_train"] = {**_rate(n, statistics.median(times["naive"])), "updates": updates,
                              "batch_size": TRAIN_BATCH_SIZE}
        out["train"]["speedup_vs_naive"] = round(statistics.median(times["naive"]) /
                                                 statistics.median(times["lean"]), 3)
        out["train"]["max_loss_difference_vs_naive"] = _loss_difference_without_dropout(
            model, [make_batch(ids) for ids in plan[:TRAIN_WARMUP_UPDATES + 1]])
    return out


# -- time and memory against sentence length -------------------------------------------


def single_subword_words(tokenizer, docs: Sequence[Document]) -> list[str]:
    """The data's running text, keeping only words that are one known subword each, so that a
    sentence of N of them is exactly N + 2 subwords long."""
    vocab = sorted({w for d in docs for w in d.tokens})
    ids = tokenizer(vocab, add_special_tokens=False)["input_ids"] if vocab else []
    unk = tokenizer.unk_token_id
    single = {w for w, p in zip(vocab, ids) if len(p) == 1 and p[0] != unk}
    return [w for d in docs for w in d.tokens if w in single]


def synthetic_sentence(words: Sequence[str], n: int) -> list[str]:
    if not words:
        raise SpertError("the data has no word that is a single subword; cannot build the length sweep")
    return [words[i % len(words)] for i in range(n)]


def _proc_status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise OSError(f"no {key} in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _length_child() -> None:
    """One length measurement, in a fresh process; reads its spec as JSON on stdin.

    Memory: the model is loaded and a two-word sentence run first (weights, thread pools, kernel
    caches all resident), then the kernel's peak-RSS mark is reset and the current RSS taken as
    the baseline; peak_mb is the peak RSS of one full inference (collate, model, decode) above
    that baseline. A fresh process per measurement means no earlier, larger run's freed but
    cached memory can hide (or be counted as) this run's. Time: median of further runs.
    """
    spec = json.loads(sys.stdin.read())
    torch.set_num_threads(spec["threads"])
    model, tokenizer, _ = load_model(spec["model_dir"])
    model.pooling_impl = spec["impl"]  # a process of its own: set once, never switched back
    words = spec["words"]

    def once(w: list[str]) -> tuple[float, DocPrediction]:
        t, preds = _timed(lambda: predict_documents(model, tokenizer, [w], batch_size=1,
                                                    threshold=spec["threshold"]))
        return t, preds[0]

    once(words[:2])  # a tiny warm-up: lazy initialisation done, little freed memory left to reuse
    exact = _reset_peak_rss()
    base_kb = _proc_status_kb("VmRSS") if exact else 0
    first, pred = once(words)
    peak_kb = (_proc_status_kb("VmHWM") if exact else _maxrss_kb()) - base_kb
    times = [once(words)[0] for _ in range(spec["repeats"])] or [first]
    print(json.dumps({"ms": round(1000 * statistics.median(times), 2), "peak_mb": round(peak_kb / 1024, 2),
                      "entities": len(pred.entities), "relations": len(pred.relations),
                      "peak_method": "VmHWM reset" if exact else "ru_maxrss (whole process, not reset)"}))


def _maxrss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure_length(model_dir: Path, impl: str, words: list[str], threshold: float, repeats: int) -> dict:
    spec = {"model_dir": str(model_dir), "impl": impl, "words": words, "threshold": threshold,
            "threads": torch.get_num_threads(), "repeats": repeats}
    cmd = [sys.executable, "-c", "from spert.tools.bench import _length_child; _length_child()"]
    try:
        res = subprocess.run(cmd, input=json.dumps(spec), capture_output=True, text=True, timeout=LENGTH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SpertError(f"the {impl} measurement at {len(words)} words took over {LENGTH_TIMEOUT_S}s") from None
    if res.returncode != 0:
        tail = "; ".join(res.stderr.strip().splitlines()[-3:])
        raise SpertError(f"the {impl} measurement at {len(words)} words failed: {tail}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_lengths(model: SpERTModel, tokenizer, docs: Sequence[Document], lengths: Sequence[int], threshold: float,
                  repeats: int, naive: bool) -> list[dict[str, Any]]:
    """Time and peak memory of one inference per synthetic sentence length, ours and naive."""
    words = single_subword_words(tokenizer, docs)
    limit = max_subwords(model, tokenizer)
    out = []
    with tempfile.TemporaryDirectory(prefix="spert-bench-") as tmp:
        model_dir = Path(tmp) / "model"
        save_model(model, tokenizer, model_dir)  # what the subprocesses load: the exact weights
        for n in lengths:
            sentence = synthetic_sentence(words, n)
            subwords = len(encode_words_batch(tokenizer, [sentence])[0].input_ids)
            if subwords > limit:
                raise SpertError(f"a {n}-word sentence is {subwords} subwords; the encoder takes at most {limit}")
            row: dict[str, Any] = {"words": n, "subwords": subwords,
                                   "ours": measure_length(model_dir, "lean", sentence, threshold, repeats)}
            if naive:
                row["naive"] = measure_length(model_dir, "naive", sentence, threshold, repeats)
                row["peak_ratio"] = round(row["ours"]["peak_mb"] / max(row["naive"]["peak_mb"], 1e-9), 4)
                row["speedup_vs_naive"] = round(row["naive"]["ms"] / row["ours"]["ms"], 3)
            log.info("length %d words: ours %.1f ms %.1f MB%s", n, row["ours"]["ms"], row["ours"]["peak_mb"],
                     f"; naive {row['naive']['ms']:.1f} ms {row['naive']['peak_mb']:.1f} MB" if naive else "")
            out.append(row)
    return out


def plot_lengths(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Time per sentence and peak memory against sentence length, ours and naive."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    words = [r["words"] for r in rows]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label, style in (("ours", "spert (lean pooling)", "o-"), ("naive", "naive (Q x T x H)", "s--")):
        if all(key in r for r in rows):
            ax_t.plot(words, [r[key]["ms"] for r in rows], style, label=label)
            ax_m.plot(words, [r[key]["peak_mb"] for r in rows], style, label=label)
    ax_t.set(xlabel="sentence length (words)", ylabel="inference time per sentence (ms)", yscale="log")
    ax_m.set(xlabel="sentence length (words)", ylabel="peak memory above model (MB)", yscale="log")
    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("SpERT inference, one sentence, CPU")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- the whole run ---------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None}


def run_bench(s: BenchSettings) -> dict[str, Any]:
    """Run every measurement; returns the JSON-ready result (see the module docstring)."""
    tune_allocator()
    set_cpu_threads()
    started = time.time()
    model, tokenizer, threshold, description = load_bench_model(s.model, s.types, s.data, s.seed)
    if s.threshold is not None:
        threshold = s.threshold
    docs = read_documents(s.data, model.schema)
    if s.max_docs is not None:
        docs = docs[: s.max_docs]
    if not docs:
        raise SpertError(f"{s.data}: no documents to benchmark on")
    encodings = encode_words_batch(tokenizer, [d.tokens for d in docs])
    check_lengths(encodings, max_subwords(model, tokenizer), s.data)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    result: dict[str, Any] = {"model": description, "data": str(s.data), "sentences": len(docs),
                              "machine": machine_info(), "rel_filter_threshold": threshold,
                              "settings": {"batch_sizes": list(s.batch_sizes), "repeats": s.repeats,
                                           "naive_repeats": s.naive_repeats, "train_updates": s.train_updates,
                                           "lengths": list(s.lengths), "length_repeats": s.length_repeats,
                                           "quantize": s.quantize, "seed": s.seed, **s.extra}}
    first = encoder_batches(model, encodings, 32, pad)[0]
    kept = span_keep_rate(model, first)
    if "untrained" in description or kept > UNTRAINED_KEEP_LIMIT:
        result["calibration"] = {"kept_before": round(kept, 4),
                                 **calibrate_untrained_heads(model, first, threshold),
                                 "kept_after": round(span_keep_rate(model, first), 4)}
        if "untrained" not in description:
            result["model"] += f" (its heads kept {100 * kept:.0f}% of candidate spans: calibrated as untrained)"
        log.info("the heads kept %.0f%% of candidate spans, as untrained heads do; calibrated to keep %.1f%%",
                 100 * kept, 100 * result["calibration"]["kept_after"])

    quantized = quantize_encoder(model) if s.quantize else None
    rows = [bench_inference(model, tokenizer, docs, encodings, bs, threshold, s.repeats, s.naive_repeats,
                            s.naive, quantized) for bs in s.batch_sizes]
    result["by_batch_size"] = rows
    # The headline figures: at spert evaluate's default batch size (8) when measured.
    main = next((r for r in rows if r["batch_size"] == 8), rows[0])
    result["inference"] = {**main["inference"], "batch_size": main["batch_size"]}
    result["encoder_only"] = {**main["encoder_only"], "batch_size": main["batch_size"]}
    result["overhead_ratio"] = main["overhead_ratio"]
    result["overhead_ratio_cpu_time"] = main["overhead_ratio_cpu_time"]
    result["f1"] = main["f1"]
    naive_out: dict[str, Any] = {}
    if s.naive:
        naive_out["inference"] = {**main["naive"]["inference"], "batch_size": main["batch_size"]}
        naive_out["f1"] = main["naive"]["f1"]
        result["predictions_identical"] = all(r["predictions_identical"] for r in rows)
    if quantized is not None:
        result["int8"] = {**main["int8"], "batch_size": main["batch_size"]}
        del quantized

    if s.train_updates > 0:
        tr = bench_training(model, tokenizer, docs, encodings, s.train_updates, s.repeats, s.seed, s.naive)
        result["train"] = tr["train"]
        if s.naive:
            naive_out["train"] = tr["naive_train"]
    if naive_out:
        result["naive"] = naive_out
    if s.lengths:
        result["lengths"] = bench_lengths(model, tokenizer, docs, s.lengths, threshold, s.length_repeats, s.naive)
    result["wall_seconds"] = round(time.time() - started, 1)
    return result


def write_outputs(result: dict[str, Any], json_path: Path, plot_path: Path | None) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    if plot_path is not None and result.get("lengths"):
        plot_lengths(result["lengths"], plot_path)
        result["plot"] = str(plot_path)
    atomic_write_text(json_path, json.dumps(result, indent=2))


def format_report(r: dict[str, Any]) -> str:
    """The human-readable table of a result."""
    m = r["machine"]
    lines = [f"spert bench: {r['model']}",
             f"data {r['data']} ({r['sentences']} sentences); {m['cpu']}, {m['cores']} cores, "
             f"{m['torch_threads']} torch threads", "",
             "Inference (sentences/s; ratio = spert time / encoder-only time on the same batches, "
             "wall clock and process CPU time)",
             f"{'batch':>6}{'spert':>10}{'encoder':>10}{'ratio':>8}{'cpu r.':>8}{'naive':>10}{'speed-up':>10}"
             f"{'same':>6}"
             f"{'int8':>10}{'int8 x':>8}"]
    for row in r["by_batch_size"]:
        naive, q = row.get("naive"), row.get("int8")
        lines.append(f"{row['batch_size']:>6}{row['inference']['sentences_per_s']:>10.1f}"
                     f"{row['encoder_only']['sentences_per_s']:>10.1f}{row['overhead_ratio']:>8.3f}"
                     f"{row['overhead_ratio_cpu_time']:>8.3f}"
                     + (f"{naive['inference']['sentences_per_s']:>10.1f}{row['speedup_vs_naive']:>10.2f}"
                        f"{'yes' if row['predictions_identical'] else 'NO':>6}" if naive else f"{'-':>26}")
                     + (f"{q['inference']['sentences_per_s']:>10.1f}{q['speedup']:>8.2f}" if q else ""))
    f1 = r["f1"]
    lines += ["", f"F1 at batch size {r['inference']['batch_size']} (micro): NER {f1['ner']:.2f}, "
                  f"REL {f1['rel']:.2f}, REL+ {f1['rel_plus']:.2f}"
              + (f"; naive REL+ {r['naive']['f1']['rel_plus']:.2f}" if "naive" in r else "")]
    if "int8" in r:
        c = r["int8"]["f1_change"]
        lines.append(f"int8 encoder: x{r['int8']['speedup']:.2f} speed, F1 change NER {c['ner']:+.2f}, "
                     f"REL+ {c['rel_plus']:+.2f}")
    if "train" in r:
        t = r["train"]
        lines += ["", f"Training ({t['updates']} updates of {t['batch_size']} sentences): "
                      f"{t['sentences_per_s']:.1f} sentences/s"
                  + (f"; naive {r['naive']['train']['sentences_per_s']:.1f}, speed-up x{t['speedup_vs_naive']:.2f}"
                     if "speedup_vs_naive" in t else "")]
    if r.get("lengths"):
        lines += ["", "One sentence of N words (batch 1): time and peak memory above the loaded model",
                  f"{'words':>6}{'subwords':>9}{'ours ms':>10}{'naive ms':>10}{'ours MB':>10}{'naive MB':>10}"
                  f"{'MB ratio':>10}"]
        for row in r["lengths"]:
            nv = row.get("naive")
            lines.append(f"{row['words']:>6}{row['subwords']:>9}{row['ours']['ms']:>10.1f}"
                         + (f"{nv['ms']:>10.1f}" if nv else f"{'-':>10}") + f"{row['ours']['peak_mb']:>10.1f}"
                         + (f"{nv['peak_mb']:>10.1f}{row['peak_ratio']:>10.3f}" if nv else ""))
    return "\n".join(lines)


def parse_int_list(text: str, option: str) -> tuple[int, ...]:
    """'1,8,32' -> (1, 8, 32); '' or 'none' -> ()."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        values = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise SpertError(f"{option}: expected comma-separated integers, got {text!r}") from None
    if any(v < 1 for v in values):
        raise SpertError(f"{option}: every value must be at least 1, got {text!r}")
    return values
