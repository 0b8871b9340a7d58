"""Which records make up one document (data/grouping.py): the fields, their order, their errors,
and reading DyGIE or SpERT JSON from one call."""

import json

import pytest

from paths import CONLL04, SCIERC, SCIERC_DYGIE
from spert.data.documents import Document, read_documents
from spert.data.grouping import document_sentences, is_dygie, read_corpus
from spert.data.schema import load_types
from spert.errors import DataError


def _docs(*extras):
    return [Document(("w",), extra=dict(e)) for e in extras]


def test_records_without_document_fields_are_documents_of_their_own():
    docs = _docs({}, {"orig_id": 7}, {"orig_id": 7}, {"id": "x"})  # orig_id names a sentence, not a document
    assert document_sentences(docs) == [[0], [1], [2], [3]]
    conll = read_documents(CONLL04 / "conll04_dev.json", None)
    assert document_sentences(conll) == [[i] for i in range(len(conll))]


def test_document_fields_group_and_sentence_orders():
    docs = _docs({"document": "a", "sentence": 2}, {"doc_id": 5}, {"document": "a", "sentence": 0}, {},
                 {"doc_id": 5}, {"document": "a", "sentence": 1}, {"doc_id": 5, "document": "a"})
    # doc_id comes before document; without sentence indices file order counts
    assert document_sentences(docs) == [[2, 5, 0], [1, 4, 6], [3]]


@pytest.mark.parametrize("extras, match", [
    (({"document": "a", "sentence": 0}, {"document": "a"}), r"document 1: field 'sentence': missing field"),
    (({"document": "a", "sentence": 0}, {"document": "a", "sentence": 0}),
     r"document 1: field 'sentence': sentence 0 of document 'a' appears twice \(record 0 has it too\)"),
    (({"document": "a", "sentence": -1}, {"document": "a", "sentence": 0}), r"document 0: field 'sentence': must be a non-negative integer, got -1"),
    (({"document": "a", "sentence": "1"}, {"document": "a", "sentence": 0}), r"document 0: field 'sentence': must be a non-negative integer, got '1'"),
])
def test_bad_sentence_indices_name_the_record(extras, match):
    with pytest.raises(DataError, match=r"data.json: " + match):
        document_sentences(_docs(*extras), "data.json")


def test_read_corpus_reads_either_format(tmp_path):
    schema = load_types(SCIERC / "scierc_types.json")
    assert is_dygie(SCIERC_DYGIE / "test.json") and not is_dygie(SCIERC / "scierc_test.json")
    dygie, spert = read_corpus(SCIERC_DYGIE / "test.json", schema), read_corpus(SCIERC / "scierc_test.json", schema)
    assert len(dygie) == len(spert) and dygie[0].extra == {"document": "X96-1059", "sentence": 0}
    lines = tmp_path / "records.jsonl"
    lines.write_text("\n" + json.dumps(spert[0].to_json()) + "\n")
    assert not is_dygie(lines) and read_corpus(lines, schema) == spert[:1]
    (tmp_path / "empty.json").write_text("")
    assert not is_dygie(tmp_path / "empty.json")
