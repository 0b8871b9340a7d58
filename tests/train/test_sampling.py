import numpy as np
import pytest

from spert.data.documents import Document, Entity, Relation
from spert.errors import DataError
from spert.model.spans import candidate_spans
from spert.train.sampling import seeded_rng, training_sample
from spert.data.schema import EntityType, RelationType, TypeSchema

SCHEMA = TypeSchema((EntityType("A", "A", "A"), EntityType("B", "B", "B")),
                    (RelationType("r1", "r1", "r1"), RelationType("r2", "r2", "r2")))


def _doc():
    return Document(tuple("w0 w1 w2 w3 w4 w5".split()),
                    (Entity("A", 0, 1), Entity("B", 2, 4), Entity("A", 5, 6)),
                    (Relation("r1", 0, 1), Relation("r2", 0, 1), Relation("r1", 2, 1)))


def test_candidate_spans_all_widths_in_order():
    c = candidate_spans(4, 3)
    assert c.tolist() == [[0, 1], [1, 2], [2, 3], [3, 4], [0, 2], [1, 3], [2, 4], [0, 3], [1, 4]]
    assert len(candidate_spans(30, 10)) == sum(30 - w + 1 for w in range(1, 11))
    assert candidate_spans(2, 10).tolist() == [[0, 1], [1, 2], [0, 2]]


def test_entity_samples_gold_plus_negatives_without_replacement():
    s = training_sample(_doc(), SCHEMA, seeded_rng(0, 0, 0), neg_entity_count=5, max_span_size=3)
    assert s.spans[:3].tolist() == [[0, 1], [2, 4], [5, 6]]
    assert s.entity_labels[:3].tolist() == [1, 2, 1]
    neg = [tuple(x) for x in s.spans[3:].tolist()]
    assert len(neg) == 5 and len(set(neg)) == 5
    assert not set(neg) & {(0, 1), (2, 4), (5, 6)}
    assert all(1 <= e - b <= 3 for b, e in neg)
    assert s.entity_labels[3:].tolist() == [0] * 5


def test_negative_entities_capped_by_candidates():
    s = training_sample(_doc(), SCHEMA, seeded_rng(0, 0, 0), neg_entity_count=1000, max_span_size=2)
    assert len(s.spans) == 3 + (6 + 5 - 3)  # every width-1/2 span except the 3 gold ones


def test_relation_samples_multi_hot_and_strong_negatives():
    s = training_sample(_doc(), SCHEMA, seeded_rng(0, 0, 0), neg_entity_count=0, neg_relation_count=100)
    pairs = [tuple(p) for p in s.pairs.tolist()]
    # positives first: (0,1) with both types, (2,1) with r1
    assert pairs[:2] == [(0, 1), (2, 1)]
    assert s.rel_labels[:2].tolist() == [[1, 1], [1, 0]]
    # negatives: every other ordered pair of distinct gold entities, all-zero targets
    assert set(pairs[2:]) == {(1, 0), (0, 2), (2, 0), (1, 2)}
    assert s.rel_labels[2:].sum() == 0


def test_negative_relations_capped():
    s = training_sample(_doc(), SCHEMA, seeded_rng(0, 0, 0), neg_entity_count=0, neg_relation_count=2)
    assert len(s.pairs) == 4


def test_weak_negatives_use_all_entity_samples():
    s = training_sample(_doc(), SCHEMA, seeded_rng(0, 0, 0), neg_entity_count=4, neg_relation_count=1000,
                        negatives="weak", max_span_size=2)
    assert s.pairs.max() >= 3  # pairs reach beyond the 3 gold entities
    strong = training_sample(_doc(), SCHEMA, seeded_rng(0, 0, 0), neg_entity_count=4, neg_relation_count=1000,
                             max_span_size=2)
    assert strong.pairs.max() <= 2


def test_sampling_is_reproducible_and_seed_dependent():
    a = training_sample(_doc(), SCHEMA, seeded_rng(7, 1, 3), neg_entity_count=4, neg_relation_count=2)
    b = training_sample(_doc(), SCHEMA, seeded_rng(7, 1, 3), neg_entity_count=4, neg_relation_count=2)
    c = training_sample(_doc(), SCHEMA, seeded_rng(7, 2, 3), neg_entity_count=4, neg_relation_count=2)
    assert np.array_equal(a.spans, b.spans) and np.array_equal(a.pairs, b.pairs)
    assert not np.array_equal(a.spans, c.spans) or not np.array_equal(a.pairs, c.pairs)


def test_entity_too_wide_for_width_embedding_is_an_error():
    doc = Document(tuple(["w"] * 120), (Entity("A", 0, 110),), ())
    with pytest.raises(DataError, match="document 4.*entities\\[0\\].*110 words"):
        training_sample(doc, SCHEMA, seeded_rng(0, 0, 0), doc_index=4)


def test_distillation_spans_are_more_candidates_the_gold_loss_skips():
    from spert.model.spans import Sample
    from spert.train.sampling import IGNORED, distillation_spans

    doc = Document(tuple("a b c d e".split()), (Entity("A", 0, 2),), ())
    s = training_sample(doc, SCHEMA, seeded_rng(1, 0, 0), neg_entity_count=3, neg_relation_count=0, max_span_size=3)
    out = distillation_spans(s, 5, 3, 4, np.random.default_rng(0))
    assert out.spans[:len(s.spans)].tolist() == s.spans.tolist() and out.pairs is s.pairs
    extra = [tuple(x) for x in out.spans[len(s.spans):].tolist()]
    cands = {tuple(x) for x in candidate_spans(5, 3).tolist()}
    assert len(extra) == 4 and len(set(extra)) == 4 and set(extra) <= cands - {tuple(x) for x in s.spans.tolist()}
    assert out.entity_labels[len(s.spans):].tolist() == [IGNORED] * 4
    everything = distillation_spans(s, 5, 3, 1000, np.random.default_rng(0))  # capped: every candidate once
    assert {tuple(x) for x in everything.spans.tolist()} == cands and len(everything.spans) == len(cands)
    assert distillation_spans(s, 5, 3, 0, np.random.default_rng(0)) is s
    assert isinstance(out, Sample)


def test_teacher_pairs_by_hand():
    from spert.model.spans import Sample
    from spert.train.sampling import IGNORED, teacher_pairs

    s = Sample(np.array([[0, 1], [2, 3], [5, 6]]), np.array([1, 2, 0]), np.array([[0, 1]]), np.zeros((1, 2), np.float32))
    kept = np.array([[0, 1], [2, 3], [4, 5]])  # the teacher keeps two sampled spans and one the sample lacks
    out, pairs = teacher_pairs(s, kept, 100, np.random.default_rng(0))
    assert out.spans.tolist() == [[0, 1], [2, 3], [5, 6], [4, 5]] and out.entity_labels.tolist() == [1, 2, 0, IGNORED]
    # every ordered pair of the three kept spans (indices 0, 1, 3) but the sampled (0, 1)
    assert sorted(map(tuple, pairs.tolist())) == [(0, 3), (1, 0), (1, 3), (3, 0), (3, 1)]
    out2, two = teacher_pairs(s, kept, 2, np.random.default_rng(0))
    assert len(two) == 2 and set(map(tuple, two.tolist())) <= set(map(tuple, pairs.tolist()))
    assert teacher_pairs(s, kept[:1], 5, np.random.default_rng(0))[1].shape == (0, 2)  # one kept span: no pair
    assert teacher_pairs(s, kept, 0, np.random.default_rng(0))[0] is s
