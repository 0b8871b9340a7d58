"""brat standoff in: exact records, every change counted, malformed files named; and pre-annotations out."""

from __future__ import annotations

import pytest
from annotation_fixtures import (BRAT_D1_ANN, BRAT_D1_TXT, BRAT_D2_ANN, BRAT_D2_TXT, BRAT_RECORDS, PREDICTION_TEXTS,
                                 import_options, run_import, write_brat, write_predictions)

from spert.data.formats import brat as B
from spert.data.formats import common as C
from spert.errors import DataError, SpertError

EXPECTED_CHANGES = {
    B.ATTRIBUTE_SKIPPED: 1, B.EVENT_SKIPPED: 1, C.DISCONTINUOUS_SKIPPED: 1, C.DUPLICATE_ENTITY: 1,
    C.DUPLICATE_RELATION: 1, C.RELATION_ACROSS: 1, C.RELATION_DROPPED: 1, C.RELATION_UNKNOWN_ID: 1,
    C.WHITESPACE_TRIMMED: 1,
}


def test_brat_records_types_and_summary(brat_dir):
    r = run_import("brat", brat_dir)
    assert r.records == BRAT_RECORDS
    assert r.types["relations"]["Alias"]["symmetric"] is True  # an equivalence
    assert r.types["relations"]["Work_For"]["symmetric"] is False
    assert sorted(r.types["entities"]) == ["Loc", "Org", "Per"]
    s = r.summary
    assert s.changes == EXPECTED_CHANGES
    assert s.notes == {B.NOTE_SKIPPED: 1, C.WORD_SPLIT: 1}
    assert (s.documents, s.records, s.entities, s.relations) == (2, 3, 8, 4)
    assert s.examples[C.RELATION_UNKNOWN_ID] == [f"{brat_dir / 'd1.ann'}: line 11: R4 (id 'T9')"]


def test_discontinuous_cover_keeps_the_covering_span(brat_dir):
    r = run_import("brat", brat_dir, import_options(discontinuous="cover"))
    second = r.records[1]
    # "Bob ... Berlin" (words 2-5) now an entity; R5 (Bob Smith -> it) is kept
    assert {"type": "Per", "start": 2, "end": 6} in second["entities"]
    assert second["relations"] == [{"type": "Knows", "head": 0, "tail": 1}]
    assert r.summary.changes[C.DISCONTINUOUS_COVERED] == 1 and C.DISCONTINUOUS_SKIPPED not in r.summary.changes


def test_keep_documents_keeps_relations_across_sentences(brat_dir):
    r = run_import("brat", brat_dir, import_options(documents="keep"))
    d1 = r.records[0]
    assert d1["tokens"] == BRAT_RECORDS[0]["tokens"] + BRAT_RECORDS[1]["tokens"]
    assert d1["sentences"] == [[0, 9], [9, 16]]
    assert {"type": "Knows", "head": 0, "tail": 4} in d1["relations"]
    assert C.RELATION_ACROSS not in r.summary.changes


def test_keep_cuts_long_documents_to_the_encoder(brat_dir):
    # one subword a word: d1's sentences (9 and 7 words) do not fit 15 together
    r = run_import("brat", brat_dir, import_options(documents="keep", max_subwords=15),
                   subword_counts=lambda words: [1] * len(words))
    assert [(x["document"], x["sentence"], len(x["tokens"])) for x in r.records] == [("d1", 0, 9), ("d1", 1, 7),
                                                                                      ("d2", 0, 9)]
    assert r.summary.changes[C.RELATION_ACROSS] == 1  # R3: its entities are in different sentences
    assert r.summary.notes[C.LONG_DOCUMENT_CUT] == 1


def test_sentences_longer_than_the_encoder_are_cut_outside_entities(brat_dir):
    # d2 "IBM ( International Business Machines ) hired Ann ." in windows of 4 words: a cut
    # after word 4 would split "International Business Machines", so the window ends before it
    r = run_import("brat", brat_dir, import_options(max_subwords=6), subword_counts=lambda words: [1] * len(words))
    d2 = [x for x in r.records if x["document"] == "d2"]
    assert [x["tokens"] for x in d2] == [["IBM", "("], ["International", "Business", "Machines", ")"],
                                         ["hired", "Ann", "."]]
    assert [x["sentence"] for x in d2] == [0, 0, 0]
    assert [x["entities"] for x in d2] == [[{"type": "Org", "start": 0, "end": 1}],
                                           [{"type": "Org", "start": 0, "end": 3}],
                                           [{"type": "Per", "start": 1, "end": 2}]]
    # d2's Alias and Work_For; d1's R1, its duplicate R6 and R2 ("Zoë Müller" | "Acmebased GmbH in" | "Köln .")
    assert r.summary.changes[C.RELATION_ACROSS_WINDOWS] == 2 + 3
    assert r.summary.notes[C.LONG_SENTENCE_CUT] == 2 + 1 + 2  # extra windows: d1's 9 and 7 words, d2's 9
    assert all(len(x["tokens"]) <= 4 for x in r.records)


def test_max_span_size_and_no_overlap_are_counted(brat_dir):
    r = run_import("brat", brat_dir, import_options(max_span_size=2, no_overlap=True))
    s = r.summary
    assert s.changes[C.TOO_LONG] == 2  # "Acmebased GmbH" (3 words) and "International Business Machines"
    # Acme is left alone once Acmebased GmbH is gone; nothing else overlaps
    assert C.OVERLAPPING not in s.changes
    r = run_import("brat", brat_dir, import_options(no_overlap=True))
    assert r.summary.changes[C.OVERLAPPING] == 2  # Acme and Acmebased GmbH overlap: both go (ADE)
    assert r.records[0]["entities"] == [{"type": "Per", "start": 0, "end": 2}, {"type": "Loc", "start": 7, "end": 8}]


def test_symmetric_option_orders_head_first_and_checks_names(brat_dir):
    r = run_import("brat", brat_dir, import_options(symmetric=frozenset({"Work_For"})))
    assert r.types["relations"]["Work_For"]["symmetric"] is True
    assert {"type": "Work_For", "head": 0, "tail": 2} in r.records[2]["relations"]  # IBM first
    with pytest.raises(SpertError, match="Work_for"):
        run_import("brat", brat_dir, import_options(symmetric=frozenset({"Work_for"})))


STRICT_CASES = [  # lines added to a clean file, the change they make, and the options
    ("T5\tLoc 34 39\t Köln", C.WHITESPACE_TRIMMED, {}),
    ("T8\tLoc 35 39\tKöln", C.DUPLICATE_ENTITY, {}),
    ("T7\tPer 49 52;62 68\tBob Berlin", C.DISCONTINUOUS_SKIPPED, {}),
    ("T7\tPer 49 52;62 68\tBob Berlin", C.DISCONTINUOUS_COVERED, {"discontinuous": "cover"}),
    ("T6\tPer 49 58\tBob Smith\nR3\tKnows Arg1:T1 Arg2:T6", C.RELATION_ACROSS, {}),
    ("R4\tKnows Arg1:T1 Arg2:T9", C.RELATION_UNKNOWN_ID, {}),
    ("R4\tKnows Arg1:T1 Arg2:T1", C.RELATION_SELF, {}),
    ("R6\tWork_For Arg1:T1 Arg2:T3", C.DUPLICATE_RELATION, {}),
    ("E1\tMeet:T1", B.EVENT_SKIPPED, {}),
    ("A1\tNegated T1", B.ATTRIBUTE_SKIPPED, {}),
    ("N1\tReference T1 Wikipedia:1\tZoë", B.NORMALIZATION_SKIPPED, {}),
    ("", C.TOO_LONG, {"max_span_size": 2}),
    ("", C.OVERLAPPING, {"no_overlap": True}),
]


@pytest.mark.parametrize("extra, reason, options", STRICT_CASES)
def test_each_change_is_counted_and_refused_by_strict(tmp_path, extra, reason, options):
    lines = BRAT_D1_ANN.split("\r\n")
    clean = "\n".join(lines[:4] + [lines[5]]) + "\n"  # T1-T4 and R1: nothing to change
    root = write_brat(tmp_path / "ok", {"d": (BRAT_D1_TXT, clean)})
    assert run_import("brat", root, import_options(strict=True)).summary.changes == {}
    root = write_brat(tmp_path / "changed", {"d": (BRAT_D1_TXT, clean + extra + "\n")})
    assert reason in run_import("brat", root, import_options(**options)).summary.changes
    with pytest.raises(SpertError, match=rf"d\.ann: .*{reason.split()[0]}.*--strict refuses") as e:
        run_import("brat", root, import_options(strict=True, **options))
    assert reason in str(e.value)


@pytest.mark.parametrize("ann, message", [
    ("T1\tPer 0 99\tx\n", r"d\.ann: line 1: T1: offsets 0-99 are empty or outside the text's 69 characters"),
    ("T1\tPer 0 3\tZoe\n", r"d\.ann: line 1: T1: the annotation quotes 'Zoe' but the text at 0-3 is 'Zoë'"),
    ("T1\tPer zero 3\tZoë\n", r"d\.ann: line 1: T1: bad offsets 'zero 3'"),
    ("T1\tPer 0 3\tZoë\nT1\tPer 0 3\tZoë\n", r"d\.ann: line 2: T1: id defined twice"),
    ("R1\tKnows Arg1:T1\n", r"d\.ann: line 1: R1: a relation needs"),
    ("X1\tfoo\n", r"d\.ann: line 1: X1: unknown annotation kind"),
])
def test_malformed_ann_is_one_line_naming_file_line_id(tmp_path, ann, message):
    root = write_brat(tmp_path / "bad", {"d": (BRAT_D1_TXT, ann)})
    with pytest.raises(DataError, match=message) as e:
        run_import("brat", root)
    assert "\n" not in str(e.value)


def test_ann_without_txt_and_txt_without_ann(tmp_path):
    root = tmp_path / "b"
    root.mkdir()
    (root / "a.ann").write_text("")
    with pytest.raises(DataError, match=r"a\.ann: no \.txt beside this \.ann"):
        run_import("brat", root)
    (root / "a.ann").unlink()
    (root / "a.txt").write_text("Just text.")
    r = run_import("brat", root)
    assert r.records[0]["tokens"] == ["Just", "text", "."] and r.summary.notes == {B.NO_ANN: 1}


def test_strict_refuses_a_relation_cut_by_a_window(tmp_path):
    root = write_brat(tmp_path / "b", {"d2": (BRAT_D2_TXT, BRAT_D2_ANN)})
    assert run_import("brat", root, import_options(strict=True)).summary.changes == {}
    with pytest.raises(SpertError, match=r"d2\.ann: line 4: \*: relation across the pieces .*--strict refuses"):
        run_import("brat", root, import_options(max_subwords=6, strict=True),
                   subword_counts=lambda words: [1] * len(words))


def test_relation_head_is_arg1_wherever_written(tmp_path):
    root = write_brat(tmp_path / "b", {"d2": (BRAT_D2_TXT, BRAT_D2_ANN.replace("Arg1:T3 Arg2:T1", "Arg2:T1 Arg1:T3"))})
    assert run_import("brat", root).records == BRAT_RECORDS[2:]


def test_brat_files(tmp_path):
    write_predictions("brat", tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["2.ann", "2.txt", "news_1.ann", "news_1.txt"]
    assert (tmp_path / "out" / "news_1.txt").read_bytes() == PREDICTION_TEXTS[0].encode("utf-8")  # \r\n kept
    ann = (tmp_path / "out" / "news_1.ann").read_text(encoding="utf-8").splitlines()
    assert ann[:6] == ["T1\tPer 0 10\tZoë Müller", "T2\tOrg 17 26\tAcme GmbH", "T3\tLoc 30 34\tKöln",
                       "T4\tPer 44 47\tBob", "R1\tWork_For Arg1:T1 Arg2:T2", "R2\tLocated_In Arg1:T2 Arg2:T3"]
    assert ann[6] == "#1\tAnnotatorNotes T1\tscore=0.91" and len(ann) == 12
