"""Untrained heads are calibrated by their biases alone."""

from __future__ import annotations

import torch

from spert.data.documents import read_documents
from spert.model.encoding import encode_words_batch
from spert.tools.bench.backends import load_subject
from spert.tools.bench.calibrate import calibrate_untrained_heads
from spert.tools.bench.inference import encoder_batches


def test_untrained_heads_are_calibrated(tiny_encoder_dir, conll04_types, few_docs):
    subject = load_subject(str(tiny_encoder_dir), conll04_types, few_docs, 0)
    model = subject.model
    assert subject.untrained and "untrained" in subject.description
    docs = read_documents(few_docs, model.schema)
    encodings = encode_words_batch(subject.tokenizer, [d.tokens for d in docs])
    batch = encoder_batches(model, encodings, 32, 0)[0]
    before = model.state_dict()["encoder.embeddings.word_embeddings.weight"].clone()
    cal = calibrate_untrained_heads(model, batch, subject.threshold, entity_rate=0.05)
    kept = len(model.predict(batch).span_index)
    assert 0 < kept <= 0.1 * len(batch.span_doc)
    assert cal.kept_after == round(kept / len(batch.span_doc), 4) and cal.kept_before > cal.kept_after
    assert torch.equal(before, model.state_dict()["encoder.embeddings.word_embeddings.weight"])
