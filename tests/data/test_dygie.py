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
