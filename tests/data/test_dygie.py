import json

import pytest

from paths import SCIERC, SCIERC_DYGIE
from spert.data.documents import read_documents
from spert.data.dygie import PTB_BRACKETS, read_dygie
from spert.errors import DataError
from spert.data.schema import load_types


def _key(doc):
    ents = [(e.start, e.end, e.type) for e in doc.entities]
    tokens = tuple(PTB_BRACKETS.get(t, t) for t in doc.tokens)
    return tokens, frozenset(ents), frozenset((ents[r.head], ents[r.tail], r.type) for r in doc.relations)


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_dygie_scierc_equals_spert_copy(split):
    schema = load_types(SCIERC / "scierc_types.json")
    ours = read_dygie(SCIERC_DYGIE / f"{split}.json", schema)
    theirs = read_documents(SCIERC / f"scierc_{split}.json", schema)
    assert len(ours) == len(theirs)
    assert [_key(d) for d in ours] == [_key(d) for d in theirs]


def test_dygie_errors_name_line_and_field(tmp_path):
    schema = load_types(SCIERC / "scierc_types.json")
    p = tmp_path / "bad.jsonl"
    good = {"sentences": [["a", "b"], ["c", "d", "e"]], "ner": [[[0, 0, "Task"]], [[2, 3, "Method"]]],
            "relations": [[], [[2, 3, 4, 4, "USED-FOR"]]]}
    p.write_text(json.dumps(good) + "\n")
    with pytest.raises(DataError, match=r"line 1: document 0: field 'relations\[1\]\[0\]': the tail span 4..4"):
        read_dygie(p, schema)
    good["relations"] = [[], []]
    good["ner"][1][0][2] = "Gadget"
    p.write_text(json.dumps(good) + "\n")
    with pytest.raises(DataError, match=r"line 1: document 1: field 'entities\[0\].type': unknown entity type"):
        read_dygie(p, schema)


def test_dygie_sentences_carry_their_document_and_index():
    from spert.data.grouping import document_sentences

    schema = load_types(SCIERC / "scierc_types.json")
    docs = read_dygie(SCIERC_DYGIE / "test.json", schema)
    lines = [json.loads(x) for x in (SCIERC_DYGIE / "test.json").read_text().splitlines()]
    assert [(d.extra["document"], d.extra["sentence"]) for d in docs] == \
        [(obj["doc_key"], i) for obj in lines for i in range(len(obj["sentences"]))]
    groups = document_sentences(docs)  # one abstract per line, its sentences in order
    assert [len(g) for g in groups] == [len(obj["sentences"]) for obj in lines]
    assert [i for g in groups for i in g] == list(range(len(docs)))


def test_dygie_without_doc_key_names_the_line(tmp_path):
    schema = load_types(SCIERC / "scierc_types.json")
    p = tmp_path / "d.json"
    p.write_text("\n".join(json.dumps({"sentences": [["a"], ["b"]], "ner": [[], []]}) for _ in range(2)) + "\n")
    assert [d.extra for d in read_dygie(p, schema)] == [{"document": f"line {n}", "sentence": i}
                                                        for n in (1, 2) for i in (0, 1)]


def test_shipped_train_dev_is_train_then_dev():
    schema = load_types(SCIERC / "scierc_types.json")
    both = read_dygie(SCIERC_DYGIE / "train_dev.json", schema)
    parts = read_dygie(SCIERC_DYGIE / "train.json", schema) + read_dygie(SCIERC_DYGIE / "dev.json", schema)
    assert [_key(d) for d in both] == [_key(d) for d in parts]
    assert [d.extra for d in both] == [d.extra for d in parts]
