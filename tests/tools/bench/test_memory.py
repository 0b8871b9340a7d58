"""The length sweep's synthetic sentences."""

from __future__ import annotations

from spert.data.documents import read_documents
from spert.data.schema import load_types
from spert.model.encoding import encode_words_batch, load_tokenizer
from spert.tools.bench.memory import single_subword_words, synthetic_sentence


def test_synthetic_sentence_is_one_subword_a_word(tiny_encoder_dir, conll04_types, few_docs):
    tok = load_tokenizer(str(tiny_encoder_dir))
    words = single_subword_words(tok, read_documents(few_docs, load_types(conll04_types)))
    sentence = synthetic_sentence(words, 300)
    assert len(sentence) == 300
    assert len(encode_words_batch(tok, [sentence])[0].input_ids) == 302
