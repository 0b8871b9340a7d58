"""spert data stats: counts computed by hand on a small dataset."""

from __future__ import annotations

from spert.data.documents import parse_document
from spert.data.stats import compute_stats


def _doc(tokens, entities, relations=(), **extra):
    return parse_document({"tokens": tokens, "entities": [{"type": t, "start": s, "end": e} for t, s, e in entities],
                           "relations": [{"type": t, "head": h, "tail": tl} for t, h, tl in relations], **extra},
                          None, require_annotations=False)


def test_stats_by_hand():
    docs = [
        _doc(list("abcdefghijkl"), [("A", 0, 2), ("A", 1, 3), ("B", 0, 12), ("B", 11, 12)],
             [("r", 0, 3), ("s", 0, 1)], document="x", sentence=0),
        _doc(list("abc"), [("A", 0, 1)], document="x", sentence=1),
        _doc(list("ab"), [], sentences=[[0, 1], [1, 2]]),
    ]
    st = compute_stats(docs, max_span_size=10, subword_counts=lambda words: [10] * len(words))
    assert (st.documents, st.records, st.sentences, st.words) == (2, 3, 4, 17)
    assert st.entities == {"A": 3, "B": 2} and st.relations == {"r": 1, "s": 1}
    assert st.entity_lengths == {1: 2, 2: 2, 12: 1} and st.longer_than_max_span == 1
    # (0,2)-(1,3) cross; (0,12) holds the three others
    assert (st.nested_pairs, st.crossing_pairs) == (3, 1)
    # r: (0,2) -> (11,12): 9 words between; s: overlapping entities: 0
    assert st.relation_distances == {"0": 1, "1-4": 0, "5-9": 1, "10-19": 0, "20-49": 0, "50+": 0}
    assert st.over_max_subwords == 0  # 122 subwords at most
    st = compute_stats(docs, max_span_size=10, max_subwords=100, subword_counts=lambda words: [10] * len(words))
    assert st.over_max_subwords == 1
    assert "records over 100 encoder subwords: 1" in st.format()
    assert compute_stats(docs, max_span_size=10).over_max_subwords is None
