"""``spert data stats``: what a SpERT dataset holds, and what SpERT will not see of it.

Counts documents (records sharing a ``document`` field count once), sentences (a
record's ``sentences`` when it has them, else one), words, entities and relations per
type; entity lengths against ``max_span_size`` (longer ones are never candidates);
nested and crossing entity pairs; word distances between a relation's entities; and,
given the encoder's subword count, records longer than the encoder takes (they are
windowed at prediction).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spert.data.documents import Document, read_documents

DISTANCE_BUCKETS = ((0, 0), (1, 4), (5, 9), (10, 19), (20, 49), (50, None))


@dataclass
class DataStats:
    documents: int = 0
    records: int = 0
    sentences: int = 0
    words: int = 0
    entities: dict[str, int] = field(default_factory=dict)
    relations: dict[str, int] = field(default_factory=dict)
    entity_lengths: dict[int, int] = field(default_factory=dict)  # words -> entities
    max_span_size: int = field(kw_only=True)  # the model's (ModelSettings.max_span_size): the caller's
    longer_than_max_span: int = 0
    nested_pairs: int = 0  # one entity inside another
    crossing_pairs: int = 0  # overlapping, neither inside the other
    relation_distances: dict[str, int] = field(default_factory=dict)  # bucket -> relations
    max_subwords: int = 512
    over_max_subwords: int | None = None  # records longer than the encoder takes (None: not counted)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}

    def format(self) -> str:
        lines = [f"documents {self.documents}, records {self.records}, sentences {self.sentences}, "
                 f"words {self.words}"]
        for title, table in (("entities", self.entities), ("relations", self.relations)):
            lines.append(f"{title} {sum(table.values())}:" + "".join(f"\n  {n:7d}  {t}" for t, n in
                                                                     sorted(table.items())))
        lengths = ", ".join(f"{k}: {v}" for k, v in sorted(self.entity_lengths.items()))
        lines.append(f"entity lengths (words): {lengths}")
        lines.append(f"longer than max_span_size={self.max_span_size}: {self.longer_than_max_span} "
                     "(never candidates: SpERT cannot find them)")
        lines.append(f"nested entity pairs {self.nested_pairs}, crossing entity pairs {self.crossing_pairs}")
        lines.append("relation distances (words between the entities): "
                     + ", ".join(f"{k}: {v}" for k, v in self.relation_distances.items()))
        if self.over_max_subwords is not None:
            lines.append(f"records over {self.max_subwords} encoder subwords: {self.over_max_subwords} "
                         "(windowed at prediction)")
        return "\n".join(lines)


def _bucket(d: int) -> str:
    for lo, hi in DISTANCE_BUCKETS:
        if hi is None:
            return f"{lo}+"
        if lo <= d <= hi:
            return str(lo) if lo == hi else f"{lo}-{hi}"
    raise AssertionError(d)  # the last bucket is open


def compute_stats(docs: Sequence[Document], *, max_span_size: int, max_subwords: int = 512,
                  subword_counts: Callable[[Sequence[str]], Sequence[int]] | None = None) -> DataStats:
    """Statistics of documents; ``subword_counts`` (each word's subwords, from the encoder's tokenizer) is optional."""
    st = DataStats(max_span_size=max_span_size, max_subwords=max_subwords,
                   over_max_subwords=None if subword_counts is None else 0)
    st.relation_distances = {_bucket(lo): 0 for lo, _ in DISTANCE_BUCKETS}
    ents, rels, lengths = Counter(), Counter(), Counter()
    doc_ids: set[Any] = set()
    for i, doc in enumerate(docs):
        doc_ids.add(doc.extra.get("document", ("record", i)))
        st.records += 1
        sentences = doc.extra.get("sentences")
        st.sentences += len(sentences) if isinstance(sentences, list) and sentences else 1
        st.words += len(doc.tokens)
        for e in doc.entities:
            ents[e.type] += 1
            lengths[e.end - e.start] += 1
            st.longer_than_max_span += (e.end - e.start) > max_span_size
        for j, a in enumerate(doc.entities):
            for b in doc.entities[j + 1:]:
                if a.start < b.end and b.start < a.end:
                    inside = (a.start <= b.start and b.end <= a.end) or (b.start <= a.start and a.end <= b.end)
                    st.nested_pairs += inside
                    st.crossing_pairs += not inside
        for r in doc.relations:
            rels[r.type] += 1
            h, t = doc.entities[r.head], doc.entities[r.tail]
            gap = max(0, max(h.start, t.start) - min(h.end, t.end))
            st.relation_distances[_bucket(gap)] += 1
        if subword_counts is not None and sum(subword_counts(doc.tokens)) + 2 > max_subwords:
            st.over_max_subwords += 1  # type: ignore[operator]
    st.documents = len(doc_ids)
    st.entities, st.relations = dict(ents), dict(rels)
    st.entity_lengths = dict(sorted(lengths.items()))
    return st


def dataset_stats(path: str | Path, **kwargs: Any) -> DataStats:
    """Read a SpERT JSON or JSON Lines file (any types) and compute its statistics."""
    return compute_stats(read_documents(path, None, require_annotations=False), **kwargs)
