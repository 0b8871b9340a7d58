"""doccano JSON Lines in: exact records, changes counted, malformed lines named; and pre-annotations out."""

from __future__ import annotations

import json

import pytest
from annotation_fixtures import DOCCANO_LINES, DOCCANO_RECORDS, import_options, run_import, write_predictions

from spert.data.formats import common as C
from spert.errors import DataError, SpertError


def test_doccano_records_and_summary(doccano_file):
    r = run_import("doccano", doccano_file)
    assert r.records == DOCCANO_RECORDS
    assert r.summary.changes == {C.RELATION_ACROSS: 1, C.RELATION_UNKNOWN_ID: 1}
    assert r.summary.notes == {C.WORD_SPLIT: 1}  # "Lisbonite" -> "Lisbon" "ite"
    assert r.summary.examples[C.RELATION_ACROSS] == [f"{doccano_file}: line 1: relation 2"]
    assert sorted(r.types["relations"]) == ["from", "located_in", "owns"]
    with pytest.raises(SpertError, match=r"line 1: relation 2: relation across sentences"):
        run_import("doccano", doccano_file, import_options(strict=True))


def test_doccano_json_list_reads_the_same(tmp_path):
    p = tmp_path / "d.json"
    p.write_text(json.dumps(DOCCANO_LINES, ensure_ascii=False), encoding="utf-8")
    assert run_import("doccano", p).records == DOCCANO_RECORDS


@pytest.mark.parametrize("lines, message", [
    (['{"id": 1, "text": "Bob.", "entities": []}', '{"id": 2, "text": "Ann'],
     r"line 2: not valid JSON"),
    (['{"id": 1, "text": "Bob.", "entities": [{"id": 1, "label": "P", "start_offset": 0, "end_offset": 9}]}'],
     r"line 1: entity 1: offsets 0-9 are empty or outside the text's 4 characters"),
    (['{"id": 1, "text": "Bob.", "entities": [{"id": 1, "label": "P", "start_offset": 0}]}'],
     r"line 1: field 'entities\[0\].end_offset': missing field"),
    (['{"id": 1, "text": "Bob.", "entities": [{"id": 1, "label": "P", "start_offset": 0, "end_offset": 1},'
      ' {"id": 1, "label": "P", "start_offset": 1, "end_offset": 2}]}'],
     r"line 1: field 'entities\[1\]': entity id 1 used twice"),
    (['{"id": 1, "entities": []}'], r"line 1: field 'text': missing or not a string"),
])
def test_malformed_doccano_is_one_line_naming_the_line(tmp_path, lines, message):
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message) as e:
        run_import("doccano", p)
    assert str(e.value).startswith(str(p)) and "\n" not in str(e.value)


def test_doccano_lines(tmp_path):
    write_predictions("doccano", tmp_path / "d.jsonl")
    first = json.loads((tmp_path / "d.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["entities"][1] == {"id": 2, "label": "Org", "start_offset": 17, "end_offset": 26}
    assert first["relations"][0] == {"id": 1, "from_id": 1, "to_id": 2, "type": "Work_For"}
