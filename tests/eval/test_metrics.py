"""Metric definitions on hand-computed cases."""

import pytest

from spert.data.documents import Document, Entity, Relation
from spert.data.predictions import DocPrediction, ScoredEntity, ScoredRelation, drop_overlapping
from spert.eval.metrics import evaluate, evaluate_predictions, remove_overlapping, score


def test_micro_macro_per_type_by_hand():
    gold = [{(0, 1, "A"), (2, 3, "B"), (4, 6, "A")}, {(0, 2, "B")}]
    pred = [{(0, 1, "A"), (2, 3, "A"), (4, 6, "A")}, {(0, 2, "B"), (3, 4, "B")}]
    s = score(gold, pred)
    # A: tp 2 (0-1, 4-6), fp 1 (2-3 as A), fn 0 -> P 66.67 R 100 F 80
    # B: tp 1 (0-2), fp 1 (3-4), fn 1 (2-3 as B) -> P 50 R 50 F 50
    a, b = s.per_type["A"], s.per_type["B"]
    assert (a.precision, a.recall, a.f1) == pytest.approx((200 / 3, 100, 80))
    assert (b.precision, b.recall, b.f1) == pytest.approx((50, 50, 50))
    # micro: tp 3, fp 2, fn 1 -> P 60, R 75, F 66.67
    m = s.micro
    assert (m.precision, m.recall, m.f1) == pytest.approx((60, 75, 2 * 60 * 75 / 135))
    # macro: mean of per-type figures (F1 is the mean of F1s, not F1 of the means)
    assert s.macro.f1 == pytest.approx(65)
    assert s.macro.precision == pytest.approx((200 / 3 + 50) / 2)
    assert a.support == 2 and b.support == 2


def test_macro_averages_types_in_gold_or_prediction_only():
    s = score([{(0, 1, "A")}], [{(0, 1, "A"), (1, 2, "C")}])
    assert set(s.per_type) == {"A", "C"}
    assert s.macro.f1 == pytest.approx(50)  # A: 100, C: 0


def test_empty_is_zero_not_an_error():
    s = score([set()], [set()])
    assert s.micro.f1 == 0 and s.macro.f1 == 0 and s.per_type == {}


def _doc(entities, relations):
    return Document(tuple("a b c d e f g h".split()), tuple(Entity(*e) for e in entities),
                    tuple(Relation(*r) for r in relations))


def test_rel_ignores_entity_types_rel_plus_requires_them():
    gold = _doc([("Peop", 0, 1), ("Org", 3, 5)], [("Work_For", 0, 1)])
    # right spans and relation type, wrong head entity type
    pred = _doc([("Org", 0, 1), ("Org", 3, 5)], [("Work_For", 0, 1)])
    m = evaluate([gold], [pred])
    assert m.rel.micro.f1 == pytest.approx(100)
    assert m.rel_plus.micro.f1 == 0
    assert m.ner.micro.f1 == pytest.approx(50)  # 1 of 2 entities right, 1 of 2 predictions right


def test_rel_requires_both_spans_and_direction():
    gold = _doc([("Peop", 0, 1), ("Org", 3, 5)], [("Work_For", 0, 1)])
    wrong_span = _doc([("Peop", 0, 2), ("Org", 3, 5)], [("Work_For", 0, 1)])
    reversed_ = _doc([("Peop", 0, 1), ("Org", 3, 5)], [("Work_For", 1, 0)])
    assert evaluate([gold], [wrong_span]).rel.micro.f1 == 0
    assert evaluate([gold], [reversed_]).rel.micro.f1 == 0


def test_remove_overlapping_ade_setting():
    ents = [(0, 2, "Drug"), (1, 3, "Adverse-Effect"), (5, 6, "Drug")]
    rels = [((0, 2, "Drug"), (1, 3, "Adverse-Effect"), "r"), ((5, 6, "Drug"), (1, 3, "Adverse-Effect"), "r")]
    e, r = remove_overlapping(ents, rels)
    assert e == [(5, 6, "Drug")]
    assert r == [((5, 6, "Drug"), (1, 3, "Adverse-Effect"), "r")]


def test_no_overlap_applies_to_gold_and_prediction():
    gold = _doc([("Drug", 0, 2), ("Adverse-Effect", 1, 3), ("Drug", 5, 6)], [])
    pred = _doc([("Drug", 5, 6)], [])
    assert evaluate([gold], [pred]).ner.micro.f1 < 100
    assert evaluate([gold], [pred], no_overlap=True).ner.micro.f1 == pytest.approx(100)


def _ade_case():
    """Issue 12's case: gold Drug(5,6) -> Adverse-Effect(1,3), the Adverse-Effect overlapping Drug(0,2)."""
    tokens = tuple("a b c d e f g".split())
    ents = [("Drug", 0, 2), ("Adverse-Effect", 1, 3), ("Drug", 5, 6)]
    gold = Document(tokens, tuple(Entity(*e) for e in ents), (Relation("Adverse-Effect", 2, 1),))
    pred = DocPrediction(tokens, [ScoredEntity(*e, 0.9) for e in ents], [ScoredRelation("Adverse-Effect", 2, 1, 0.8)])
    return gold, pred


def test_ade_relation_whose_entity_overlaps_a_third_still_scores():
    gold, pred = _ade_case()
    m, (out,) = evaluate_predictions([gold], [pred], no_overlap=True)
    # the reference: NER keeps only Drug(5,6); the relation stays (its head and tail do not overlap)
    assert m.ner.micro.f1 == pytest.approx(100) and m.ner.micro.support == 1
    assert m.rel.micro.f1 == pytest.approx(100) and m.rel_plus.micro.f1 == pytest.approx(100)
    assert m.rel_plus.micro.support == 1
    # what predict --no-overlap outputs: Drug(0,2) goes, the relation and both its entities stay
    assert [(e.type, e.start, e.end) for e in out.entities] == [("Adverse-Effect", 1, 3), ("Drug", 5, 6)]
    assert out.relations == [ScoredRelation("Adverse-Effect", 1, 0, 0.8)]
    assert pred == _ade_case()[1]  # the prediction scored is left as it was


def test_ade_missing_the_relation_scores_zero_rel_plus():
    gold, pred = _ade_case()
    pred.relations = []
    m, _ = evaluate_predictions([gold], [pred], no_overlap=True)
    assert m.rel_plus.micro.f1 == 0 and m.ner.micro.f1 == pytest.approx(100)


def test_drop_overlapping_removes_relations_between_overlapping_entities():
    tokens = tuple("a b c d".split())
    d = DocPrediction(tokens, [ScoredEntity("Drug", 0, 2, 0.9), ScoredEntity("Adverse-Effect", 1, 3, 0.9),
                               ScoredEntity("Drug", 3, 4, 0.9)],
                      [ScoredRelation("Adverse-Effect", 0, 1, 0.7)])
    cut = drop_overlapping(d)
    assert [(e.start, e.end) for e in cut.entities] == [(3, 4)] and cut.relations == []
    assert len(d.entities) == 3 and len(d.relations) == 1  # a new prediction; the given one is unchanged

