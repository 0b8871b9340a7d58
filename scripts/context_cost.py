"""What document context costs: training and prediction time per sentence with ``context_words`` N
against 0, side by side in one process.

Usage (project root):
    .venv/bin/python scripts/context_cost.py [--context-words 100] [--train-docs 100] [--repeats 3] [--threads 1]
        [--json OUT]

Training: ``configs/scierc_context.yaml`` for one epoch on its first ``--train-docs`` sentences (the
DyGIE copy of SciERC train+dev), no evaluation, once with ``context_words`` N and once with 0, the two
alternating in each round, timed over the epoch alone (``spert.train.loop.train_epoch``: the updates,
not loading). Prediction: the model the first N-run trained, over SciERC test (DyGIE, 551 sentences,
100 abstracts) through ``predict_documents`` with its abstracts as documents, encoding included, with
its own ``context_words`` and with 0 (the same weights); each round runs both. Each figure is the
median over the rounds per sentence, as wall time and as this process's CPU time (the steadier figure
on a shared machine), with ``--threads`` CPU threads (default 1); the ratio is N's over 0's. Also
printed: the mean encoder input length (subwords) of each side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from spert.data.grouping import document_sentences, read_corpus
from spert.infer.runner import encode_sentences, predict_documents
from spert.model.checkpoint import load_model
from spert.train import loop
from spert.train.config import load_config
from spert.infer.options import PredictOptions

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "scierc_context.yaml"
TEST = ROOT / "data" / "scierc_dygie" / "test.json"


def train_seconds(words: int, docs: int, out: Path) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of the training epoch alone (``loop.train_epoch``)."""
    cfg = load_config(CONFIG, {"epochs": 1, "max_train_docs": docs, "test_path": None, "valid_path": None,
                               "context_words": words, "output_dir": str(out)})
    epoch, spent = loop.train_epoch, []

    def timed(*args, **kwargs):
        t, cpu = time.perf_counter(), time.process_time()
        epoch(*args, **kwargs)
        spent.append((time.perf_counter() - t, time.process_time() - cpu))

    loop.train_epoch = timed
    try:
        loop.train(cfg, show_progress=False)
    finally:
        loop.train_epoch = epoch
    return spent[0]


def predict_seconds(model, tokenizer, sentences, documents) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of predicting the sentences, encoding included."""
    t, cpu = time.perf_counter(), time.process_time()
    predict_documents(model, tokenizer, sentences, PredictOptions(rel_filter_threshold=0.4, batch_size=8),
                      documents=documents)
    return time.perf_counter() - t, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--context-words", type=int, default=100)
    ap.add_argument("--train-docs", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (one: no threads spinning for a shared core)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the training loop keeps it (spert.runtime.set_cpu_threads)
    torch.set_num_threads(args.threads)
    n, docs = args.context_words, args.train_docs
    times = {job: {n: [], 0: []} for job in ("train", "train_cpu", "predict", "predict_cpu")}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for words in (n, 0):
                wall, cpu = train_seconds(words, docs, Path(tmp) / f"{words}_{r}")
                times["train"][words].append(wall / docs)
                times["train_cpu"][words].append(cpu / docs)
        model, tokenizer, _ = load_model(Path(tmp) / f"{n}_0" / "model")
    gold = read_corpus(TEST, model.schema)
    sentences, documents = [d.tokens for d in gold], document_sentences(gold, TEST)
    settings = {words: model.settings.model_copy(update={"context_words": words}) for words in (n, 0)}
    length = {}
    for words in (n, 0):
        model.settings = settings[words]
        encodings = encode_sentences(model, tokenizer, sentences, documents)
        length[words] = statistics.mean(len(e.input_ids) for e in encodings)
    for _ in range(args.repeats):
        for words in (n, 0):
            model.settings = settings[words]
            wall, cpu = predict_seconds(model, tokenizer, sentences, documents)
            times["predict"][words].append(wall / len(sentences))
            times["predict_cpu"][words].append(cpu / len(sentences))
    result = {"context_words": n, "train_sentences": docs, "test_sentences": len(sentences), "repeats": args.repeats,
              "threads": torch.get_num_threads(), "mean_subwords": {str(k): round(v, 1) for k, v in length.items()},
              "seconds_per_sentence": {job: {str(k): [round(x, 5) for x in v] for k, v in t.items()}
                                       for job, t in times.items()}}
    for job, t in times.items():
        med = {k: statistics.median(v) for k, v in t.items()}
        result[f"{job}_ratio"] = round(med[n] / med[0], 3)
        print(f"{job}: {med[n] * 1000:.1f} ms/sentence with context_words {n}, {med[0] * 1000:.1f} without; "
              f"ratio {med[n] / med[0]:.2f}")
    print(f"mean encoder input: {length[n]:.1f} subwords with context_words {n}, {length[0]:.1f} without")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
