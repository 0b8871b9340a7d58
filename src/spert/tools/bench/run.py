"""The whole benchmark run, and its result as one dataclass (``to_json`` is bench.json)."""

from __future__ import annotations

import json
import logging
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from spert.atomic import atomic_write_text
from spert.data.documents import read_documents
from spert.errors import SpertError
from spert.model.encoders import check_lengths, max_subwords, pad_id
from spert.model.encoding import encode_words_batch
from spert.runtime import set_cpu_threads, tune_allocator
from spert.tools.bench.backends import build_backends, load_subject
from spert.tools.bench.calibrate import Calibration, calibrate_untrained_heads, needs_calibration, span_keep_rate
from spert.tools.bench.inference import InferenceRow, bench_inference, encoder_batches
from spert.tools.bench.memory import LengthRow, bench_lengths
from spert.tools.bench.plot import plot_lengths
from spert.tools.bench.settings import BenchSettings
from spert.tools.bench.training import TrainResult, bench_training

log = logging.getLogger(__name__)

HEADLINE_BATCH_SIZE = 8  # spert evaluate's default: the headline figures are taken there when measured


@dataclass
class Machine:
    cpu: str
    cores: int | None
    torch_threads: int
    torch: str
    python: str
    platform: str
    load_average_at_start: list[float] | None

    @classmethod
    def here(cls) -> "Machine":
        cpu = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as fh:
                cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
        except OSError:
            pass
        load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
        return cls(cpu, os.cpu_count(), torch.get_num_threads(), torch.__version__, platform.python_version(),
                   platform.platform(), load)


@dataclass
class BenchResult:
    model: str  # what was measured, in words
    data: str
    sentences: int
    machine: Machine
    rel_filter_threshold: float
    settings: BenchSettings
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> what it is
    calibration: Calibration | None = None
    rows: list[InferenceRow] = field(default_factory=list)
    train: TrainResult | None = None
    lengths: list[LengthRow] = field(default_factory=list)
    wall_seconds: float = 0.0
    plot: str | None = None

    @property
    def main(self) -> InferenceRow:
        """The row of the headline figures."""
        return next((r for r in self.rows if r.batch_size == HEADLINE_BATCH_SIZE), self.rows[0])

    def to_json(self) -> dict[str, Any]:
        main = self.main
        out: dict[str, Any] = {"model": self.model, "data": self.data, "sentences": self.sentences,
                               "machine": asdict(self.machine), "rel_filter_threshold": self.rel_filter_threshold,
                               "settings": self.settings.to_json(), "backends": self.backends}
        if self.calibration is not None:
            out["calibration"] = self.calibration.to_json()
        out["by_batch_size"] = [r.to_json() for r in self.rows]
        row = main.to_json()
        for key in ("encoder_only", "inference"):
            out[key] = {**row[key], "batch_size": main.batch_size}
        out["overhead_ratio"], out["overhead_ratio_cpu_time"] = main.overhead_ratio, main.overhead_ratio_cpu_time
        out["f1"] = row["f1"]
        if main.naive is not None:
            out["predictions_identical"] = all(r.naive is not None and r.naive.identical for r in self.rows)
        if "int8" in row:
            out["int8"] = {**row["int8"], "batch_size": main.batch_size}
        naive: dict[str, Any] = {}
        if main.naive is not None:
            naive = {"inference": {**row["naive"]["inference"], "batch_size": main.batch_size}, "f1": row["naive"]["f1"]}
        if self.train is not None:
            out["train"] = self.train.to_json()
            if self.train.naive is not None:
                naive["train"] = self.train.naive.to_json()
        if naive:
            out["naive"] = naive
        if self.lengths:
            out["lengths"] = [r.to_json() for r in self.lengths]
        out["wall_seconds"] = self.wall_seconds
        if self.plot is not None:
            out["plot"] = self.plot
        return out


def run_bench(s: BenchSettings) -> BenchResult:
    """Run every measurement (see the package's docstring)."""
    tune_allocator()
    set_cpu_threads()
    started = time.time()
    subject = load_subject(s.model, s.types, s.data, s.seed)
    model, tokenizer = subject.model, subject.tokenizer
    docs = read_documents(s.data, model.schema)
    if s.max_docs is not None:
        docs = docs[: s.max_docs]
    if not docs:
        raise SpertError(f"{s.data}: no documents to benchmark on")
    encodings = encode_words_batch(tokenizer, [d.tokens for d in docs])
    check_lengths(encodings, max_subwords(model.encoder.config, tokenizer), s.data)
    pad = pad_id(tokenizer)

    result = BenchResult(subject.description, str(s.data), len(docs), Machine.here(), subject.threshold, s)
    first = encoder_batches(model, encodings, 32, pad)[0]
    kept = span_keep_rate(model, first)
    if needs_calibration(subject.untrained, kept):
        result.calibration = calibrate_untrained_heads(model, first, subject.threshold)
        if not subject.untrained:
            result.model += f" (its heads kept {100 * kept:.0f}% of candidate spans: calibrated as untrained)"
        log.info("the heads kept %.0f%% of candidate spans, as untrained heads do; calibrated to keep %.1f%%",
                 100 * kept, 100 * result.calibration.kept_after)

    with tempfile.TemporaryDirectory(prefix="spert-bench-backends-") as tmp:
        backends = build_backends(subject, s.backends, Path(tmp))  # after calibration: the same weights
        result.backends = {b.name: b.details for b in backends}
        result.rows = [bench_inference(backends, tokenizer, docs, encodings, bs, subject.threshold, s)
                       for bs in s.batch_sizes]
        del backends
    if s.train_updates > 0:
        result.train = bench_training(model, tokenizer, docs, encodings, s.train_updates, s.repeats, s.seed, s.naive)
    if s.lengths:
        result.lengths = bench_lengths(model, tokenizer, docs, s.lengths, subject.threshold, s.length_repeats,
                                       s.naive)
    result.wall_seconds = round(time.time() - started, 1)
    return result


def write_outputs(result: BenchResult, json_path: Path, plot_path: Path | None) -> None:
    """bench.json, and the length plot when lengths were measured."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    if plot_path is not None and result.lengths:
        plot_lengths(result.lengths, plot_path)
        result.plot = str(plot_path)
    atomic_write_text(json_path, json.dumps(result.to_json(), indent=2))
