"""Time and peak memory of one inference against sentence length, each measured in a fresh
subprocess (this module is also that subprocess: ``python -m spert.tools.bench.memory``)."""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from spert.data.documents import Document
from spert.data.predictions import DocPrediction
from spert.errors import SpertError
from spert.infer.runner import predict_documents
from spert.model.encoders import max_subwords
from spert.model.checkpoint import load_model, save_model
from spert.model.encoding import encode_words_batch
from spert.model.network import SpERTModel
from spert.tools.bench.timing import timed
from spert.infer.options import PredictOptions

log = logging.getLogger(__name__)

LENGTH_TIMEOUT_S = 900  # one length measurement in its subprocess


@dataclass
class LengthMeasure:
    """One implementation on one sentence: median time, peak memory above the loaded model."""

    ms: float
    peak_mb: float
    entities: int
    relations: int
    peak_method: str


@dataclass
class LengthRow:
    words: int
    subwords: int
    ours: LengthMeasure
    naive: LengthMeasure | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"words": self.words, "subwords": self.subwords, "ours": asdict(self.ours)}
        if self.naive is not None:
            out["naive"] = asdict(self.naive)
            out["peak_ratio"] = round(self.ours.peak_mb / max(self.naive.peak_mb, 1e-9), 4)
            out["speedup_vs_naive"] = round(self.naive.ms / self.ours.ms, 3)
        return out


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


# -- the subprocess ----------------------------------------------------------------------


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


def _maxrss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child() -> None:
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
    words = spec["words"]

    def once(w: list[str]) -> tuple[float, DocPrediction]:
        t, preds = timed(lambda: predict_documents(model, tokenizer, [w],
                                                   PredictOptions(batch_size=1, rel_filter_threshold=spec["threshold"])))
        return t, preds[0]

    with model.using(pooling_impl=spec["impl"]):
        once(words[:2])  # a tiny warm-up: lazy initialisation done, little freed memory left to reuse
        exact = _reset_peak_rss()
        base_kb = _proc_status_kb("VmRSS") if exact else 0
        first, pred = once(words)
        peak_kb = (_proc_status_kb("VmHWM") if exact else _maxrss_kb()) - base_kb
        times = [once(words)[0] for _ in range(spec["repeats"])] or [first]
    print(json.dumps(asdict(LengthMeasure(round(1000 * statistics.median(times), 2), round(peak_kb / 1024, 2),
                                          len(pred.entities), len(pred.relations),
                                          "VmHWM reset" if exact else "ru_maxrss (whole process, not reset)"))))


# -- the parent --------------------------------------------------------------------------


def measure_length(model_dir: Path, impl: str, words: list[str], threshold: float, repeats: int) -> LengthMeasure:
    spec = {"model_dir": str(model_dir), "impl": impl, "words": words, "threshold": threshold,
            "threads": torch.get_num_threads(), "repeats": repeats}
    cmd = [sys.executable, "-m", "spert.tools.bench.memory"]
    try:
        res = subprocess.run(cmd, input=json.dumps(spec), capture_output=True, text=True, timeout=LENGTH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise SpertError(f"the {impl} measurement at {len(words)} words took over {LENGTH_TIMEOUT_S}s") from None
    if res.returncode != 0:
        tail = "; ".join(res.stderr.strip().splitlines()[-3:])
        raise SpertError(f"the {impl} measurement at {len(words)} words failed: {tail}")
    return LengthMeasure(**json.loads(res.stdout.strip().splitlines()[-1]))


def bench_lengths(model: SpERTModel, tokenizer, docs: Sequence[Document], lengths: Sequence[int], threshold: float,
                  repeats: int, naive: bool) -> list[LengthRow]:
    """Time and peak memory of one inference per synthetic sentence length, ours and naive."""
    words = single_subword_words(tokenizer, docs)
    limit = max_subwords(model.encoder.config, tokenizer)
    out = []
    with tempfile.TemporaryDirectory(prefix="spert-bench-") as tmp:
        model_dir = Path(tmp) / "model"
        save_model(model, tokenizer, model_dir)  # what the subprocesses load: the exact weights
        for n in lengths:
            sentence = synthetic_sentence(words, n)
            subwords = len(encode_words_batch(tokenizer, [sentence])[0].input_ids)
            if subwords > limit:
                raise SpertError(f"a {n}-word sentence is {subwords} subwords; the encoder takes at most {limit}")
            row = LengthRow(n, subwords, measure_length(model_dir, "lean", sentence, threshold, repeats))
            if naive:
                row.naive = measure_length(model_dir, "naive", sentence, threshold, repeats)
            log.info("length %d words: ours %.1f ms %.1f MB%s", n, row.ours.ms, row.ours.peak_mb,
                     f"; naive {row.naive.ms:.1f} ms {row.naive.peak_mb:.1f} MB" if row.naive else "")
            out.append(row)
    return out


if __name__ == "__main__":
    child()
