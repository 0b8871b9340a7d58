"""Running a model over word-tokenized documents that fit the encoder, in batches.

Documents are sorted by length and batched with dynamic padding (:func:`length_batches`,
which the windows of long sentences share); every candidate span of a document is
classified, pairs of the kept spans scored, and the outputs decoded
(:func:`spert.infer.decoding.decode`); results come back in input order. Sentences longer
than the encoder takes go through :mod:`spert.infer.windows` instead. A model with document
context (``context_words`` > 0) encodes each sentence with words of the others of its
document (:mod:`spert.model.context`), when the caller says which sentences form a document.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Iterator, Protocol, Sequence

import numpy as np

from spert.data.predictions import DocPrediction
from spert.infer.decoding import decode
from spert.infer.options import PredictOptions
from spert.model.batch import collate
from spert.model.context import sentence_encodings
from spert.model.encoders import check_lengths, max_subwords, pad_id
from spert.model.encoding import Encoding
from spert.model.network import SpERTModel
from spert.model.spans import inference_sample

log = logging.getLogger(__name__)


class ProgressBar(Protocol):
    """What a progress bar does for the runner (tqdm's bars do it)."""

    def update(self, n: int) -> object: ...

    def close(self) -> object: ...


Progress = Callable[..., ProgressBar]  # progress(total=N) -> a bar, e.g. functools.partial(tqdm, desc="predict")


def length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length (longest first)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    for i in range(0, len(order), batch_size):
        yield order[i:i + batch_size].tolist()


def predict_documents(model: SpERTModel, tokenizer, docs: Sequence[Sequence[str]], options: PredictOptions, *,
                      encodings: Sequence[Encoding] | None = None, documents: Sequence[Sequence[int]] | None = None,
                      path: Any = None, progress: Progress | None = None) -> list[DocPrediction]:
    """Predict entities and relations for word-tokenized documents, in input order, on the model's device.

    ``options`` give the relation threshold (required here: a model directory's own is its
    ``InferenceSettings.rel_filter_threshold``, which the caller resolves), the no-overlap rule and
    the batch size. ``path`` names the data in the error for a document too long. ``documents``
    (indices of ``docs`` per document, in order: :func:`spert.data.grouping.document_sentences`)
    gives a model with document context its context; ignored when ``encodings`` are given.
    """
    threshold = resolved_threshold(options)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    if encodings is None:
        encodings = encode_sentences(model, tokenizer, docs, documents)
        check_lengths(encodings, max_subwords(model.encoder.config, tokenizer), path)
    pad = pad_id(tokenizer)
    out: list[DocPrediction | None] = [None] * len(docs)
    max_span = model.settings.max_span_size
    batches = list(length_batches([len(e.input_ids) for e in encodings], options.batch_size))
    sample = functools.lru_cache(maxsize=None)(lambda n: inference_sample(n, max_span))  # read-only, shared
    bar = progress(total=len(docs)) if progress is not None else None
    try:
        for ids in batches:
            encs = [encodings[i] for i in ids]
            batch = collate(encs, [sample(e.num_words) for e in encs], pad).to(device)
            raw = model.predict(batch)
            for i, p in zip(ids, decode(raw, batch, model.schema, [docs[i] for i in ids], threshold,
                                        options.no_overlap)):
                out[i] = p
            if bar is not None:
                bar.update(len(ids))
    finally:
        if bar is not None:
            bar.close()
        model.train(was_training)
    return out  # type: ignore[return-value]


def resolved_threshold(options: PredictOptions) -> float:
    """The relation threshold of options whose caller has resolved it (None: the model's own, which
    only the caller knows)."""
    if options.rel_filter_threshold is None:
        raise ValueError("the runner needs the relation threshold resolved: PredictOptions(rel_filter_threshold=...)")
    return options.rel_filter_threshold


def encode_sentences(model: SpERTModel, tokenizer, sentences: Sequence[Sequence[str]],
                     documents: Sequence[Sequence[int]] | None) -> list[Encoding]:
    """The encodings the model reads: each sentence alone, or with its document context when the
    model has ``context_words`` (a sentence too long on its own is encoded alone, and too long)."""
    return sentence_encodings(tokenizer, sentences, documents, model.settings.context_words,
                              max_subwords(model.encoder.config, tokenizer), model.settings.syntax_model)
