"""A model evaluated on gold data: the sequence the training loop, ``spert evaluate`` and
``spert report`` share.

The model predicts (:mod:`spert.infer.runner`), :mod:`spert.eval` scores the predictions,
and the results are written as ``metrics.json`` and ``predictions.json``. It lives here,
above both ``infer`` and ``eval``, because ``eval`` is pure (it never loads or runs a model)
and ``infer`` knows nothing of scoring.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple

from spert.atomic import atomic_write_text
from spert.data.documents import Document, write_records
from spert.data.grouping import document_sentences, read_corpus
from spert.data.predictions import DocPrediction
from spert.data.schema import TypeSchema, load_types
from spert.errors import SpertError
from spert.eval.metrics import Metrics, evaluate_predictions
from spert.eval.report import (REPORTED_SETTINGS, Report, RunDirectory, build_report, lowest_threshold,
                               saved_predictions)
from spert.infer.options import LoadOptions, PredictOptions, default
from spert.infer.runner import predict_documents
from spert.model.checkpoint import load_model
from spert.model.context import sentence_encodings
from spert.model.encoders import check_lengths, max_subwords
from spert.model.encoding import Encoding
from spert.model.network import SpERTModel
from spert.train.config import TrainConfig, read_run_config

log = logging.getLogger(__name__)

Progress = Callable[..., Any]  # a tqdm-like factory: progress(total=N) -> bar with update(n) and close()


class Evaluation(NamedTuple):
    metrics: Metrics
    predictions: list[DocPrediction]  # as output: cut by the no-overlap rule where it applies


@dataclass
class Dataset:
    """A data file's sentences and the encodings the model reads of them."""

    path: Path
    docs: list[Document]
    encodings: list[Encoding]


def load_dataset(path: Path, schema: TypeSchema, tokenizer, limit: int, max_docs: int | None,
                 context_words: int, syntax_model: str | None = None) -> Dataset:
    """A data file's sentences (SpERT JSON or DyGIE) and their encodings, with ``context_words`` of document
    context (:mod:`spert.model.context`; the first ``max_docs`` sentences are the documents' whole text).
    A sentence longer than ``limit`` subwords is an error naming it."""
    docs = read_corpus(path, schema)
    if max_docs is not None:
        docs = docs[:max_docs]
    documents = document_sentences(docs, path) if context_words else None
    encodings = sentence_encodings(tokenizer, [d.tokens for d in docs], documents, context_words, limit,
                                   syntax_model)
    check_lengths(encodings, limit, path)
    return Dataset(path, docs, encodings)


def model_dataset(model: SpERTModel, tokenizer, path: Path, max_docs: int | None = None) -> Dataset:
    """:func:`load_dataset` as ``model`` reads it: its encoder's longest input, its document context."""
    return load_dataset(path, model.schema, tokenizer, max_subwords(model.encoder.config, tokenizer), max_docs,
                        model.settings.context_words, model.settings.syntax_model)


def predict_and_score(model, tokenizer, gold: Dataset, *, threshold: float, no_overlap: bool,
                      batch_size: int, progress: Progress | None = None) -> Evaluation:
    """Predict the gold documents' words and score the predictions against them. The model predicts
    without the no-overlap rule; scoring applies it as the reference does, then the output is cut
    (:func:`spert.eval.metrics.evaluate_predictions`)."""
    preds = predict_documents(model, tokenizer, [d.tokens for d in gold.docs],
                              PredictOptions(rel_filter_threshold=threshold, batch_size=batch_size),
                              encodings=gold.encodings, path=gold.path, progress=progress)
    return Evaluation(*evaluate_predictions(gold.docs, preds, no_overlap))


def write_evaluation(out_dir: Path, metrics: dict[str, Any], predictions: Iterable[DocPrediction]) -> list[Path]:
    """``metrics.json`` (``metrics``: the scores' JSON, with whatever the caller adds) and ``predictions.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "metrics.json", out_dir / "predictions.json"]
    atomic_write_text(paths[0], json.dumps(metrics, indent=2))
    write_records(paths[1], (p.to_json() for p in predictions), one_line=True)
    return paths


def evaluate_directory(model_dir: Path, data: Path, output: Path, options: PredictOptions | None = None, *,
                       load: LoadOptions | None = None, types: Path | None = None,
                       progress: Progress | None = None) -> Evaluation:
    """``spert evaluate``: a model directory on gold data (read with the model's types; ``types``, if
    given, must be the same), at the options' threshold or the model's own; writes the results to ``output``."""
    options, load = options or PredictOptions(), load or LoadOptions()
    net, tokenizer, inference = load_model(model_dir, load.device, load.backend, load.precision)
    if types is not None and load_types(types).to_json() != net.schema.to_json():
        raise SpertError(f"{types}: these types differ from the model's ({model_dir}/spert.json); "
                         "evaluate with the types the model was trained on")
    gold = model_dataset(net, tokenizer, data)
    result = predict_and_score(net, tokenizer, gold, threshold=inference.resolve(options.rel_filter_threshold),
                               no_overlap=options.no_overlap, batch_size=options.batch_size, progress=progress)
    write_evaluation(output, result.metrics.to_json(), result.predictions)
    return result


def read_run(run_dir: Path, cfg: TrainConfig, *, data: Path | None = None,
             max_docs: int | None = None) -> RunDirectory:
    """The run directory as its report needs it: the data to report on (``data``, else the run's test or
    validation set; the first ``max_docs`` documents, else the run's ``max_eval_docs``) and the run's
    settings that the report lists (those its ``config.json`` sets)."""
    data = Path(data or cfg.test_path or cfg.valid_path or "")
    if not str(data) or not data.is_file():
        raise SpertError(f"{run_dir}: no evaluation data to report on ({data or 'none in config.json'}); give --data")
    settings = {k: getattr(cfg, k) for k in REPORTED_SETTINGS
                if k in cfg.model_fields_set and getattr(cfg, k) is not None}
    return RunDirectory(Path(run_dir), data, max_docs if max_docs is not None else cfg.max_eval_docs,
                        cfg.no_overlap, settings)


def report_run(run_dir: Path, *, data: Path | None = None, max_docs: int | None = None, examples: int = 5,
               sweep: bool = True, batch_size: int = default(PredictOptions, "batch_size"), device: str = "cpu",
               progress: Progress | None = None) -> Report:
    """``spert report``'s figures and tables for a ``spert train`` output directory: its model predicts
    the evaluation data once (see :mod:`spert.eval.report`); a run without a model is reported from
    its ``predictions.json``, without a threshold sweep."""
    cfg = read_run_config(run_dir)
    run = read_run(run_dir, cfg, data=data, max_docs=max_docs)
    if run.has_model:
        model, tokenizer, inference = load_model(run.model_dir, device)
        schema, threshold = model.schema, inference.rel_filter_threshold
        data_set = model_dataset(model, tokenizer, run.data, run.max_docs)
        gold = data_set.docs
        floor = lowest_threshold(threshold, sweep)
        log.info("predicting %d documents of %s (relation threshold %.2f)", len(gold), run.data, floor)
        raw = predict_documents(model, tokenizer, [d.tokens for d in gold],
                                PredictOptions(rel_filter_threshold=floor, batch_size=batch_size),
                                encodings=data_set.encodings, path=run.data, progress=progress)
    else:
        raw, sweep = saved_predictions(run), False
        schema, threshold = load_types(cfg.types_path), cfg.rel_filter_threshold
        gold = read_corpus(run.data, schema)[:len(raw)]
    return build_report(run, schema, gold, raw, threshold=threshold, sweep=sweep, examples=examples)
