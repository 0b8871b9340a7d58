"""Pre-annotations out: files each tool imports, and importing them gives the predictions back."""

from __future__ import annotations

import json

import pytest
from annotation_fixtures import run_import
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spert.data.formats.common import ImportOptions
from spert.data.text import TextTokenizer
from spert.errors import SpertError
from spert.infer.export import open_exporter
from spert.data.records import PredictedRelation, Prediction, entity_record

TEXTS = ["Zoë Müller leads Acme GmbH in Köln.\r\nHe met Bob.", "Nothing here."]


def _predictions() -> list[Prediction]:
    tok1, tok2 = TextTokenizer().pipe(TEXTS)
    # words of doc 1: Zoë Müller leads Acme GmbH in Köln . | He met Bob .
    ents = [entity_record(tok1, "Per", 0, 2, 0.91), entity_record(tok1, "Org", 3, 5, 0.62),
            entity_record(tok1, "Loc", 6, 7, 0.99), entity_record(tok1, "Per", 10, 11, 0.55)]
    rels = [PredictedRelation("Work_For", 0, 1, 0.7), PredictedRelation("Located_In", 1, 2, 0.45)]
    return [Prediction(tok1.text, tok1.words, tok1.offsets, tok1.sentences, ents, rels, {"document": "news/1"}),
            Prediction(tok2.text, tok2.words, tok2.offsets, tok2.sentences, [], [], {"id": 2})]


def _write(fmt, path):
    w = open_exporter(fmt, path)
    for p in _predictions():
        w.add(p)
    w.commit()


def _expected_records():
    return [
        {"entities": [{"type": "Per", "start": 0, "end": 2}, {"type": "Org", "start": 3, "end": 5},
                      {"type": "Loc", "start": 6, "end": 7}],
         "relations": [{"type": "Located_In", "head": 1, "tail": 2}, {"type": "Work_For", "head": 0, "tail": 1}]},
        {"entities": [{"type": "Per", "start": 2, "end": 3}], "relations": []},
        {"entities": [], "relations": []},
    ]


@pytest.mark.parametrize("fmt, name, kwargs", [("brat", "out", {}), ("doccano", "out.jsonl", {}),
                                                ("labelstudio", "out.json", {"pick": "prediction"})])
def test_round_trip_gives_back_the_predictions(tmp_path, fmt, name, kwargs):
    _write(fmt, tmp_path / name)
    r = run_import(fmt, tmp_path / name, ImportOptions(strict=True), **kwargs)  # nothing to change
    got = [{"entities": x["entities"], "relations": x["relations"]} for x in r.records]
    if fmt == "brat":  # files are read in name order: 2 before news_1
        got = got[1:] + got[:1]
    assert got == _expected_records()
    assert r.records[fmt == "brat"]["tokens"] == ["Zoë", "Müller", "leads", "Acme", "GmbH", "in", "Köln", "."]


def test_brat_files(tmp_path):
    _write("brat", tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["2.ann", "2.txt", "news_1.ann", "news_1.txt"]
    assert (tmp_path / "out" / "news_1.txt").read_bytes() == TEXTS[0].encode("utf-8")  # \r\n kept
    ann = (tmp_path / "out" / "news_1.ann").read_text(encoding="utf-8").splitlines()
    assert ann[:6] == ["T1\tPer 0 10\tZoë Müller", "T2\tOrg 17 26\tAcme GmbH", "T3\tLoc 30 34\tKöln",
                       "T4\tPer 44 47\tBob", "R1\tWork_For Arg1:T1 Arg2:T2", "R2\tLocated_In Arg1:T2 Arg2:T3"]
    assert ann[6] == "#1\tAnnotatorNotes T1\tscore=0.91" and len(ann) == 12


def test_labelstudio_tasks_carry_scores(tmp_path):
    _write("labelstudio", tmp_path / "ls.json")
    tasks = json.loads((tmp_path / "ls.json").read_text(encoding="utf-8"))
    assert tasks[0]["data"] == {"document": "news/1", "text": TEXTS[0]} and tasks[1]["data"]["id"] == 2
    pred = tasks[0]["predictions"][0]
    assert pred["score"] == 0.45 and pred["model_version"] == "spert"  # the least certain item
    assert pred["result"][0] == {"id": "e1", "from_name": "label", "to_name": "text", "type": "labels",
                                 "value": {"start": 0, "end": 10, "text": "Zoë Müller", "labels": ["Per"]},
                                 "score": 0.91}
    assert pred["result"][4] == {"from_id": "e1", "to_id": "e2", "type": "relation", "direction": "right",
                                 "labels": ["Work_For"], "score": 0.7}
    assert tasks[1]["predictions"][0] == {"model_version": "spert", "result": []}  # no score without items


def test_doccano_lines(tmp_path):
    _write("doccano", tmp_path / "d.jsonl")
    first = json.loads((tmp_path / "d.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["entities"][1] == {"id": 2, "label": "Org", "start_offset": 17, "end_offset": 26}
    assert first["relations"][0] == {"id": 1, "from_id": 1, "to_id": 2, "type": "Work_For"}


def test_abort_leaves_nothing_and_output_is_required(tmp_path):
    for fmt, name in (("brat", "b"), ("doccano", "d.jsonl"), ("labelstudio", "l.json")):
        w = open_exporter(fmt, tmp_path / name)
        w.add(_predictions()[0])
        w.abort()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "mine.ann").write_text("T1\tPer 0 3\tBob\n")
    with pytest.raises(SpertError, match="corpus exists and is not empty"):
        open_exporter("brat", tmp_path / "corpus")
    assert (tmp_path / "corpus" / "mine.ann").exists()
    with pytest.raises(SpertError, match="--format brat needs --output"):
        open_exporter("brat", None)
    with pytest.raises(SpertError, match="unknown pre-annotation format"):
        open_exporter("conll", tmp_path / "x")


WORDS = ["Zoë", "Acme", "GmbH", "in", "Köln", "met", "Bob", "Smith", "😀", "R&D", "co-op", "(", ")", ",", ".", "?",
         "naïve", "東京", "U.S.", "don't"]
SEPARATORS = [" ", " ", " ", "  ", "\r\n", "\n", "\t"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_round_trip_property(tmp_path_factory, data):
    """Any text, any word-aligned predictions inside sentences: brat, doccano and Label Studio give them back."""
    pieces = data.draw(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), min_size=1,
                                max_size=40))
    text = "".join(w + s for w, s in pieces)
    tok = _tokenizer()(text)
    ents, seen = [], set()
    for s, e in tok.sentences:
        for _ in range(data.draw(st.integers(0, 3))):
            a = data.draw(st.integers(s, e - 1))
            b = data.draw(st.integers(a + 1, min(e, a + 10)))
            t = data.draw(st.sampled_from(["A", "B"]))
            if (t, a, b) not in seen:
                seen.add((t, a, b))
                ents.append(entity_record(tok, t, a, b, 0.5))
    same_sentence = [(h, t) for h in range(len(ents)) for t in range(len(ents))
                     if h != t and _sentence(tok, ents[h]) == _sentence(tok, ents[t])]
    pairs = data.draw(st.lists(st.sampled_from(same_sentence), unique=True, max_size=4)) if same_sentence else []
    rels = [PredictedRelation("R", h, t, 0.5) for h, t in pairs]
    pred = Prediction(text, tok.words, tok.offsets, tok.sentences, ents, rels, {"document": "x"})
    expected = ({(e.type, e.char_start, e.char_end) for e in ents},
                {("R", _key(ents[h]), _key(ents[t])) for h, t in pairs})
    root = tmp_path_factory.mktemp("rt")
    for fmt, name, kw in (("brat", "b", {}), ("doccano", "d.jsonl", {}), ("labelstudio", "l.json",
                                                                          {"pick": "prediction"})):
        w = open_exporter(fmt, root / name)
        w.add(pred)
        w.commit()
        r = run_import(fmt, root / name, ImportOptions(strict=True), **kw)
        got_e, got_r = set(), set()
        for rec in r.records:
            o = rec["char_offsets"]
            spans = [(x["type"], o[x["start"]][0], o[x["end"] - 1][1]) for x in rec["entities"]]
            got_e |= set(spans)
            got_r |= {(x["type"], spans[x["head"]], spans[x["tail"]]) for x in rec["relations"]}
        assert (got_e, got_r) == expected, fmt


_TOK: list[TextTokenizer] = []


def _tokenizer() -> TextTokenizer:
    if not _TOK:
        _TOK.append(TextTokenizer())
    return _TOK[0]


def _sentence(tok, e):
    return next(i for i, (s, end) in enumerate(tok.sentences) if s <= e.start < end)


def _key(e):
    return (e.type, e.char_start, e.char_end)
