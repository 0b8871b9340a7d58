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
