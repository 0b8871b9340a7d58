"""Every registered format: its pre-annotation writer's output, read back by its reader, gives the
predictions back; unknown names and a missing output are errors that say what to give."""

from __future__ import annotations


import pytest
from annotation_fixtures import import_options, predictions, run_import, write_predictions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spert.data.formats.importer import import_annotations
from spert.data.formats.registry import FORMATS, open_writer
from spert.data.records import PredictedRelation, Prediction, entity_record
from spert.data.text import TextTokenizer
from spert.errors import SpertError

# (format, output name, options to read the pre-annotations back): every registered format
ROUND_TRIPS = [("brat", "out", {}), ("doccano", "out.jsonl", {}), ("labelstudio", "out.json", {"pick": "prediction"})]


def test_every_registered_format_is_round_tripped():
    assert sorted(FORMATS) == sorted(fmt for fmt, _, _ in ROUND_TRIPS)
    for name, f in FORMATS.items():
        assert f.name == name and f.output in ("file", "directory")


def _expected_records():
    return [
        {"entities": [{"type": "Per", "start": 0, "end": 2}, {"type": "Org", "start": 3, "end": 5},
                      {"type": "Loc", "start": 6, "end": 7}],
         "relations": [{"type": "Located_In", "head": 1, "tail": 2}, {"type": "Work_For", "head": 0, "tail": 1}]},
        {"entities": [{"type": "Per", "start": 2, "end": 3}], "relations": []},
        {"entities": [], "relations": []},
    ]


@pytest.mark.parametrize("fmt, name, kwargs", ROUND_TRIPS)
def test_round_trip_gives_back_the_predictions(tmp_path, fmt, name, kwargs):
    write_predictions(fmt, tmp_path / name)
    r = run_import(fmt, tmp_path / name, import_options(strict=True), **kwargs)  # nothing to change
    got = [{"entities": x["entities"], "relations": x["relations"]} for x in r.records]
    if fmt == "brat":  # files are read in name order: 2 before news_1
        got = got[1:] + got[:1]
    assert got == _expected_records()
    assert r.records[fmt == "brat"]["tokens"] == ["Zoë", "Müller", "leads", "Acme", "GmbH", "in", "Köln", "."]


def test_abort_leaves_nothing_and_output_is_required(tmp_path):
    for fmt, name, _ in ROUND_TRIPS:
        w = open_writer(fmt, tmp_path / name)
        w.add(predictions()[0])
        w.abort()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "mine.ann").write_text("T1\tPer 0 3\tBob\n")
    with pytest.raises(SpertError, match="corpus exists and is not empty"):
        open_writer("brat", tmp_path / "corpus")
    assert (tmp_path / "corpus" / "mine.ann").exists()
    with pytest.raises(SpertError, match=r"--format brat needs --output \(a directory\)"):
        open_writer("brat", None)
    with pytest.raises(SpertError, match=r"--format doccano needs --output \(a file\)"):
        open_writer("doccano", "-")
    with pytest.raises(SpertError, match="unknown pre-annotation format 'conll'; choose one of brat, doccano, "
                                         "labelstudio"):
        open_writer("conll", tmp_path / "x")
    with pytest.raises(SpertError, match="unknown annotation format 'conll'; choose one of brat, doccano, labelstudio"):
        import_annotations("conll", tmp_path / "x", import_options())


def test_a_reader_gets_only_the_options_it_takes(tmp_path):
    write_predictions("doccano", tmp_path / "d.jsonl")  # spert data import passes Label Studio's options to all
    docs = run_import("doccano", tmp_path / "d.jsonl", pick=None, text_field=None).records  # None: not given
    assert len(docs) == 3
    with pytest.raises(SpertError, match=r"the doccano format takes no option 'pick' \(only labelstudio does\)"):
        run_import("doccano", tmp_path / "d.jsonl", pick="first")
    with pytest.raises(SpertError, match=r"the brat format takes no option 'sheet' \(no format does\)"):
        run_import("brat", tmp_path, sheet=1)


def test_import_options_refuse_what_is_no_choice():
    for field, flag in (("discontinuous", "--discontinuous must be one of skip, cover, got 'all'"),
                        ("documents", "--documents must be one of split, keep, got 'all'")):
        with pytest.raises(SpertError, match=flag):
            import_options(**{field: "all"})


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
    for fmt, name, kw in ROUND_TRIPS:
        w = open_writer(fmt, root / name)
        w.add(pred)
        w.commit()
        r = run_import(fmt, root / name, import_options(strict=True), **kw)
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
