"""Hand-written exports of brat, doccano and Label Studio, following each tool's documented format.

They hold what real exports hold: unicode, CRLF line ends, several sentences per document,
nested and discontinuous entities, an entity boundary inside a word, relations across
sentences, and items that cannot be carried over (each counted by the summary). And two
predictions to write as pre-annotations (:func:`predictions`, :func:`write_predictions`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spert.data.formats.common import ImportOptions
from spert.data.formats.importer import import_annotations
from spert.data.formats.registry import open_writer
from spert.data.records import PredictedRelation, Prediction, entity_record
from spert.data.text import TextTokenizer
from spert.model.settings import ModelSettings, default_of

# brat: offsets count characters of the .txt as stored, \r included
BRAT_D1_TXT = "Zoë Müller leads Acmebased GmbH in Köln.\r\nHe met Bob Smith in Berlin."
BRAT_D1_ANN = "\r\n".join([
    "T1\tPer 0 10\tZoë Müller",
    "T2\tOrg 17 21\tAcme",  # a boundary inside the word "Acmebased"
    "T3\tOrg 17 31\tAcmebased GmbH",  # nested: T2 lies inside
    "T4\tLoc 35 39\tKöln",
    "T5\tLoc 34 39\t Köln",  # whitespace trimmed, then a duplicate of T4
    "R1\tWork_For Arg1:T1 Arg2:T3",
    "R2\tLocated_In Arg1:T3 Arg2:T5",
    "T6\tPer 49 58\tBob Smith",
    "R3\tKnows Arg1:T1 Arg2:T6",  # across sentences
    "T7\tPer 49 52;62 68\tBob Berlin",  # discontinuous
    "R4\tKnows Arg1:T6 Arg2:T9",  # unknown id
    "R5\tKnows Arg1:T6 Arg2:T7",  # to the skipped discontinuous entity
    "E1\tMeet:T6 Agent:T1",
    "A1\tNegated E1",
    "#1\tAnnotatorNotes T1\tthe founder",
    "R6\tWork_For Arg1:T1 Arg2:T3",  # duplicate of R1
]) + "\r\n"
BRAT_D2_TXT = "IBM (International Business Machines) hired Ann."
BRAT_D2_ANN = "T1\tOrg 0 3\tIBM\nT2\tOrg 5 36\tInternational Business Machines\nT3\tPer 44 47\tAnn\n" \
              "*\tAlias T2 T1\nR1\tWork_For Arg1:T3 Arg2:T1\n"

BRAT_RECORDS = [
    {"tokens": ["Zoë", "Müller", "leads", "Acme", "based", "GmbH", "in", "Köln", "."],
     "entities": [{"type": "Per", "start": 0, "end": 2}, {"type": "Org", "start": 3, "end": 4},
                  {"type": "Org", "start": 3, "end": 6}, {"type": "Loc", "start": 7, "end": 8}],
     "relations": [{"type": "Located_In", "head": 2, "tail": 3}, {"type": "Work_For", "head": 0, "tail": 2}],
     "document": "d1", "sentence": 0,
     "char_offsets": [[0, 3], [4, 10], [11, 16], [17, 21], [21, 26], [27, 31], [32, 34], [35, 39], [39, 40]]},
    {"tokens": ["He", "met", "Bob", "Smith", "in", "Berlin", "."],
     "entities": [{"type": "Per", "start": 2, "end": 4}], "relations": [], "document": "d1", "sentence": 1,
     "char_offsets": [[42, 44], [45, 48], [49, 52], [53, 58], [59, 61], [62, 68], [68, 69]]},
    {"tokens": ["IBM", "(", "International", "Business", "Machines", ")", "hired", "Ann", "."],
     "entities": [{"type": "Org", "start": 0, "end": 1}, {"type": "Org", "start": 2, "end": 5},
                  {"type": "Per", "start": 7, "end": 8}],
     "relations": [{"type": "Alias", "head": 0, "tail": 1}, {"type": "Work_For", "head": 2, "tail": 0}],
     "document": "d2", "sentence": 0,
     "char_offsets": [[0, 3], [4, 5], [5, 18], [19, 27], [28, 36], [36, 37], [38, 43], [44, 47], [47, 48]]},
]

# doccano: JSON Lines of a relation-extraction project, and a sequence-labelling line
DOCCANO_LINES = [
    {"id": 10, "text": "Café Noir opened in São Paulo.\r\nIts owner, Ana, is a Lisbonite.",
     "entities": [{"id": 1, "label": "Org", "start_offset": 0, "end_offset": 9},
                  {"id": 2, "label": "Loc", "start_offset": 20, "end_offset": 29},
                  {"id": 3, "label": "Food", "start_offset": 0, "end_offset": 4},  # nested in 1
                  {"id": 4, "label": "Per", "start_offset": 43, "end_offset": 46},
                  {"id": 5, "label": "Loc", "start_offset": 53, "end_offset": 59}],  # inside "Lisbonite"
     "relations": [{"id": 1, "from_id": 1, "to_id": 2, "type": "located_in"},
                   {"id": 2, "from_id": 4, "to_id": 1, "type": "owns"},  # across sentences
                   {"id": 3, "from_id": 4, "to_id": 5, "type": "from"},
                   {"id": 4, "from_id": 4, "to_id": 8, "type": "from"}],  # unknown id
     "Comments": []},
    {"id": 11, "text": "Bob sleeps.", "label": [[0, 3, "Per"]]},
]
DOCCANO_RECORDS = [
    {"tokens": ["Café", "Noir", "opened", "in", "São", "Paulo", "."],
     "entities": [{"type": "Food", "start": 0, "end": 1}, {"type": "Org", "start": 0, "end": 2},
                  {"type": "Loc", "start": 4, "end": 6}],
     "relations": [{"type": "located_in", "head": 1, "tail": 2}], "document": "10", "sentence": 0,
     "char_offsets": [[0, 4], [5, 9], [10, 16], [17, 19], [20, 23], [24, 29], [29, 30]]},
    {"tokens": ["Its", "owner", ",", "Ana", ",", "is", "a", "Lisbon", "ite", "."],
     "entities": [{"type": "Per", "start": 3, "end": 4}, {"type": "Loc", "start": 7, "end": 8}],
     "relations": [{"type": "from", "head": 0, "tail": 1}], "document": "10", "sentence": 1,
     "char_offsets": [[32, 35], [36, 41], [41, 42], [43, 46], [46, 47], [48, 50], [51, 52], [53, 59], [59, 62],
                      [62, 63]]},
    {"tokens": ["Bob", "sleeps", "."], "entities": [{"type": "Per", "start": 0, "end": 1}], "relations": [],
     "document": "11", "sentence": 0, "char_offsets": [[0, 3], [4, 10], [10, 11]]},
]

# Label Studio: the JSON export; offsets in UTF-16 code units where the text has an emoji
LS_TEXT = "Emoji 😀 Corp hired Dana Lee.\nShe leads R&D."


def _region(rid, start, end, text, labels):
    return {"id": rid, "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text, "labels": labels}}


LS_TASKS = [
    {"id": 1, "data": {"text": LS_TEXT}, "annotations": [
        {"id": 100, "created_at": "2024-01-01T10:00:00Z", "updated_at": "2024-01-01T10:00:00Z",
         "was_cancelled": False, "result": [_region("a", 6, 13, "😀 Corp", ["Misc"])]},
        {"id": 101, "created_at": "2024-01-02T10:00:00Z", "updated_at": "2024-02-01T10:00:00Z",
         "was_cancelled": False, "result": [
             _region("a", 6, 13, "😀 Corp", ["Org"]),
             _region("b", 20, 28, "Dana Lee", ["Per"]),
             _region("c", 30, 33, "She", ["Per", "Pronoun"]),  # several labels
             {"from_id": "b", "to_id": "a", "type": "relation", "direction": "right", "labels": ["works_for"]},
             {"from_id": "a", "to_id": "b", "type": "relation", "direction": "left", "labels": ["works_for"]},
             {"from_id": "c", "to_id": "b", "type": "relation", "direction": "right", "labels": []},
             {"from_id": "c", "to_id": "b", "type": "relation", "direction": "bi", "labels": ["coref"]},
             {"id": "s", "from_name": "sentiment", "to_name": "text", "type": "choices",
              "value": {"choices": ["positive"]}}]},
        {"id": 102, "updated_at": "2025-01-01T10:00:00Z", "was_cancelled": True, "result": []}]},
    {"id": 2, "data": {"text": "Nobody annotated this."}, "annotations": [],
     "predictions": [{"model_version": "x", "result": []}]},
    {"id": 3, "data": {"text": "Plain text here."}, "annotations": [{"id": 300, "result": []}]},
]
LS_RECORDS = [
    {"tokens": ["Emoji", "😀", "Corp", "hired", "Dana", "Lee", "."],
     "entities": [{"type": "Org", "start": 1, "end": 3}, {"type": "Per", "start": 4, "end": 6}],
     "relations": [{"type": "works_for", "head": 1, "tail": 0}], "document": "1", "sentence": 0,
     "char_offsets": [[0, 5], [6, 7], [8, 12], [13, 18], [19, 23], [24, 27], [27, 28]]},
    {"tokens": ["She", "leads", "R&D."],  # spaCy keeps "R&D." whole, as predict will
     "entities": [{"type": "Per", "start": 0, "end": 1}], "relations": [],
     "document": "1", "sentence": 1, "char_offsets": [[29, 32], [33, 38], [39, 43]]},
    {"tokens": ["Plain", "text", "here", "."], "entities": [], "relations": [], "document": "3", "sentence": 0,
     "char_offsets": [[0, 5], [6, 10], [11, 15], [15, 16]]},
]


# predictions to write as pre-annotations
PREDICTION_TEXTS = ["Zoë Müller leads Acme GmbH in Köln.\r\nHe met Bob.", "Nothing here."]


def predictions() -> list[Prediction]:
    tok1, tok2 = TextTokenizer().pipe(PREDICTION_TEXTS)
    # words of doc 1: Zoë Müller leads Acme GmbH in Köln . | He met Bob .
    ents = [entity_record(tok1, "Per", 0, 2, 0.91), entity_record(tok1, "Org", 3, 5, 0.62),
            entity_record(tok1, "Loc", 6, 7, 0.99), entity_record(tok1, "Per", 10, 11, 0.55)]
    rels = [PredictedRelation("Work_For", 0, 1, 0.7), PredictedRelation("Located_In", 1, 2, 0.45)]
    return [Prediction(tok1.text, tok1.words, tok1.offsets, tok1.sentences, ents, rels, {"document": "news/1"}),
            Prediction(tok2.text, tok2.words, tok2.offsets, tok2.sentences, [], [], {"id": 2})]


def write_predictions(fmt: str, path: Path) -> None:
    w = open_writer(fmt, path)
    for p in predictions():
        w.add(p)
    w.commit()


def write_brat(root: Path, docs: dict[str, tuple[str, str]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, (txt, ann) in docs.items():
        (root / f"{name}.txt").write_bytes(txt.encode("utf-8"))  # bytes: keep \r\n as written
        (root / f"{name}.ann").write_bytes(ann.encode("utf-8"))
    return root


TOKENIZER = None


def import_options(**options) -> ImportOptions:
    """ImportOptions with the model's default span limit (what ``spert data import`` offers) unless given."""
    return ImportOptions(**{"max_span_size": default_of(ModelSettings, "max_span_size"), **options})


def run_import(fmt, source, options=None, **kwargs):
    """``import_annotations`` with one spaCy tokenizer shared by the tests (loading one takes a while)."""
    global TOKENIZER
    TOKENIZER = TOKENIZER or TextTokenizer()
    return import_annotations(fmt, source, options or import_options(), tokenizer=TOKENIZER, **kwargs)


@pytest.fixture
def brat_dir(tmp_path) -> Path:
    return write_brat(tmp_path / "brat", {"d1": (BRAT_D1_TXT, BRAT_D1_ANN), "d2": (BRAT_D2_TXT, BRAT_D2_ANN)})


@pytest.fixture
def doccano_file(tmp_path) -> Path:
    p = tmp_path / "doccano.jsonl"
    p.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in DOCCANO_LINES), encoding="utf-8")
    return p


@pytest.fixture
def labelstudio_file(tmp_path) -> Path:
    p = tmp_path / "ls.json"
    p.write_text(json.dumps(LS_TASKS, ensure_ascii=False, indent=1), encoding="utf-8")
    return p
