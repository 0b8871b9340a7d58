"""Label Studio JSON in: the latest annotation, UTF-16 offsets, changes counted, errors named; and
pre-annotations out, with scores."""

from __future__ import annotations

import json

import pytest
from annotation_fixtures import (LS_RECORDS, LS_TASKS, LS_TEXT, PREDICTION_TEXTS, import_options, run_import,
                                 write_predictions)

from spert.data.formats import common as C
from spert.data.formats import labelstudio as L
from spert.errors import DataError, SpertError


def test_labelstudio_latest_annotation_records_and_summary(labelstudio_file):
    r = run_import("labelstudio", labelstudio_file)
    assert r.records == LS_RECORDS  # annotation 101: updated last and not cancelled
    assert r.summary.changes == {L.BIDIRECTIONAL: 1, L.SEVERAL_LABELS: 1, L.UNLABELLED_RELATION: 1,
                                 L.OTHER_RESULT: 1, L.NO_ANNOTATION: 1, C.DUPLICATE_RELATION: 1,
                                 C.RELATION_ACROSS: 1}
    assert r.summary.documents == 2 and r.summary.examples[L.NO_ANNOTATION] == [f"{labelstudio_file}: task 2"]
    assert sorted(r.types["entities"]) == ["Org", "Per"]


def test_first_annotation_when_told(labelstudio_file):
    r = run_import("labelstudio", labelstudio_file, pick="first")
    assert r.records[0]["entities"] == [{"type": "Misc", "start": 1, "end": 3}]


def test_strict_refuses_the_first_change(labelstudio_file):
    with pytest.raises(SpertError, match=r"task 1: result c: Label Studio region with several labels"):
        run_import("labelstudio", labelstudio_file, import_options(strict=True))


def _task(result, text="Bob met Ann."):
    return [{"id": 7, "data": {"text": text}, "annotations": [{"id": 1, "result": result}]}]


@pytest.mark.parametrize("content, message", [
    (json.dumps(_task([]))[:-5], r"not valid JSON \(line 1"),
    (json.dumps(_task([{"id": "a", "type": "labels", "value": {"start": 0, "end": 3, "text": "Ann",
                                                                 "labels": ["P"]}}])),
     r"task 7: region a: the annotation quotes 'Ann' but the text at 0-3 is 'Bob'"),
    (json.dumps(_task([{"id": "a", "type": "labels", "value": {"start": 0, "end": 30, "labels": ["P"]}}])),
     r"task 7: region a: offsets 0-30 are empty or outside"),
    (json.dumps([{"id": 7, "data": {"body": "x", "title": "y"}, "annotations": []}]),
     r"task 7: missing or not a string \(name the text's key with --text-field\)"),
])
def test_malformed_labelstudio_is_one_line(tmp_path, content, message):
    p = tmp_path / "bad.json"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as e:
        run_import("labelstudio", p)
    assert str(e.value).startswith(str(p)) and "\n" not in str(e.value)


def test_unknown_region_id_is_counted_then_refused(tmp_path):
    p = tmp_path / "t.json"
    p.write_text(json.dumps(_task([{"id": "a", "type": "labels", "value": {"start": 0, "end": 3, "labels": ["P"]}},
                                   {"from_id": "a", "to_id": "zz", "type": "relation", "labels": ["met"]}])))
    assert run_import("labelstudio", p).summary.changes == {C.RELATION_UNKNOWN_ID: 1}
    with pytest.raises(SpertError, match=r"task 7: result 1 \(a -> zz\) \(id 'zz'\): relation to an unknown id"):
        run_import("labelstudio", p, import_options(strict=True))


def test_utf16_offsets_only_where_they_match(tmp_path):
    # codepoint offsets of the same region are read as they are
    p = tmp_path / "t.json"
    p.write_text(json.dumps(_task([{"id": "a", "type": "labels",
                                    "value": {"start": 6, "end": 12, "text": "😀 Corp", "labels": ["Org"]}}],
                                  LS_TEXT), ensure_ascii=False), encoding="utf-8")
    assert run_import("labelstudio", p).records[0]["entities"] == LS_RECORDS[0]["entities"][:1]
    assert LS_TASKS[0]["annotations"][1]["result"][0]["value"]["start"] == 6


def test_a_region_labelled_by_two_controls_keeps_the_first(tmp_path):
    p = tmp_path / "t.json"
    region = {"id": "a", "type": "labels", "value": {"start": 0, "end": 3, "labels": ["P"]}}
    p.write_text(json.dumps(_task([region, {**region, "from_name": "other", "value": {**region["value"],
                                                                                      "labels": ["Q"]}}])))
    r = run_import("labelstudio", p)
    assert r.records[0]["entities"] == [{"type": "P", "start": 0, "end": 1}]
    assert r.summary.changes == {L.SEVERAL_LABELS: 1}


def test_labelstudio_tasks_carry_scores(tmp_path):
    write_predictions("labelstudio", tmp_path / "ls.json")
    tasks = json.loads((tmp_path / "ls.json").read_text(encoding="utf-8"))
    assert tasks[0]["data"] == {"document": "news/1", "text": PREDICTION_TEXTS[0]} and tasks[1]["data"]["id"] == 2
    pred = tasks[0]["predictions"][0]
    assert pred["score"] == 0.45 and pred["model_version"] == "spert"  # the least certain item
    assert pred["result"][0] == {"id": "e1", "from_name": "label", "to_name": "text", "type": "labels",
                                 "value": {"start": 0, "end": 10, "text": "Zoë Müller", "labels": ["Per"]},
                                 "score": 0.91}
    assert pred["result"][4] == {"from_id": "e1", "to_id": "e2", "type": "relation", "direction": "right",
                                 "labels": ["Work_For"], "score": 0.7}
    assert tasks[1]["predictions"][0] == {"model_version": "spert", "result": []}  # no score without items
