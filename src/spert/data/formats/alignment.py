"""Source documents (characters and ids, as annotation tools store them) aligned to SpERT
records of words.

Per document, in these steps (each a function below):

1. Entities (:func:`_char_spans`). A discontinuous entity is skipped or replaced by
   the span covering its fragments (``discontinuous``); whitespace around a span is
   trimmed. Both are changes and counted.
2. Words (:func:`_split_words`). The text is tokenized by the tokenizer ``spert
   predict`` uses (:class:`spert.data.text.TextTokenizer`) and every entity boundary
   that falls inside a word splits that word (:func:`spert.data.text.split_at`), so
   every entity is a whole number of words. Word splits are counted (as notes:
   nothing is lost).
3. Entities become word spans (:func:`_word_entities`, :func:`_drop_overlapping`).
   Duplicates (same type and words) are merged, entities longer than
   ``max_span_size`` words dropped, and with ``no_overlap`` (the ADE setting)
   overlapping entities dropped.
4. Records (:func:`_layout`). ``split``: one record per sentence (sentences that an
   entity crosses are merged first); ``keep``: one record per document, cut at
   sentence boundaries into pieces of at most ``max_subwords`` encoder subwords when a
   tokenizer count is given. In both, a sentence longer than ``max_subwords`` is cut
   into windows between entities (:func:`_fit`), as training refuses longer inputs.
5. Relations (:func:`_relations`). A relation whose entities end up in different
   records is dropped and counted, as are relations to unknown, dropped or skipped
   entities, from an entity to itself, and duplicates.

Every record keeps where it came from (:func:`_records`): ``document`` (the source
id), ``sentence`` (index of its first sentence in the document), ``char_offsets``
(every word's character span in the document's text) and, in ``keep`` mode,
``sentences`` (word ranges inside the record).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from spert.data.documents import remove_overlapping
from spert.data.formats.common import (DISCONTINUOUS_COVERED, DISCONTINUOUS_SKIPPED, DUPLICATE_ENTITY,
                                       DUPLICATE_RELATION, EMPTY_ENTITY, ENTITY_CUT, LONG_DOCUMENT_CUT,
                                       LONG_SENTENCE_CUT, OVERLAPPING, RELATION_ACROSS, RELATION_ACROSS_WINDOWS,
                                       RELATION_DROPPED, RELATION_SELF, RELATION_UNKNOWN_ID, SENTENCES_MERGED,
                                       TOO_LONG, WHITESPACE_TRIMMED, WORD_SPLIT, ImportOptions, ImportResult,
                                       ImportSummary, SourceDocument)
from spert.data.text import TextTokenizer, TokenizedText, is_word, merge_sentences, split_at
from spert.errors import SpertError

_SPECIAL = 2  # the encoder's start and end tokens


@dataclass
class _Entity:
    type: str
    start: int  # words
    end: int
    where: str


@dataclass
class _Layout:
    """How a document's words are cut into records."""

    groups: list[list[tuple[int, int]]]  # per record, its sentences' word ranges
    sentence_starts: list[int]  # first word of every (merged) sentence
    group_of: dict[int, int]  # word -> record index


def to_records(docs: Iterable[SourceDocument], options: ImportOptions, summary: ImportSummary, *,
               tokenizer: TextTokenizer | None = None,
               subword_counts: Callable[[Sequence[str]], Sequence[int]] | None = None) -> ImportResult:
    """SpERT records and a types file from source documents; every change goes to ``summary``.

    ``subword_counts`` gives the encoder's subwords of each word; with it no record is
    longer than ``options.max_subwords`` (see :func:`_fit`).
    """
    tokenizer = tokenizer or TextTokenizer()
    docs = list(docs)
    records: list[dict[str, Any]] = []
    entity_types: set[str] = set()
    relation_types: set[str] = set()
    symmetric = set(options.symmetric)
    for doc in docs:
        symmetric |= doc.symmetric
    for doc, tok in zip(docs, tokenizer.pipe(d.text for d in docs)):
        summary.documents += 1
        entity_types.update(e.type for e in doc.entities)
        relation_types.update(r.type for r in doc.relations)
        records += _convert_document(doc, tok, options, symmetric, summary, subword_counts)
    unknown = options.symmetric - relation_types
    if unknown:
        raise SpertError(f"--symmetric names relation types that the data does not have: "
                         f"{', '.join(sorted(unknown))} (types seen: {', '.join(sorted(relation_types)) or 'none'})")
    summary.records = len(records)
    types = {"entities": {t: {"short": t, "verbose": t} for t in sorted(entity_types)},
             "relations": {t: {"short": t, "verbose": t, "symmetric": t in symmetric}
                           for t in sorted(relation_types)}}
    return ImportResult(records, types, summary)


def _convert_document(doc: SourceDocument, tok: TokenizedText, options: ImportOptions, symmetric: set[str],
                      summary: ImportSummary, subword_counts) -> list[dict[str, Any]]:
    """The records of one document, in the steps of the module's docstring (the summary counts
    every change in the order of these steps)."""
    spans = _char_spans(doc, options, summary)
    tok = _split_words(doc, tok, spans, summary)
    entities, index = _word_entities(doc, tok, spans, options, summary)
    alive = _drop_overlapping(entities, options, summary)
    layout = _layout(doc, tok, entities, alive, options, summary, subword_counts)
    relations = _relations(doc, entities, index, alive, symmetric, layout, summary)
    return _records(doc, tok, entities, alive, layout, relations, options, summary)


def _char_spans(doc: SourceDocument, options: ImportOptions, summary: ImportSummary) -> dict[str, tuple]:
    """Entity id -> (type, char start, char end, where) after discontinuity and trimming."""
    out: dict[str, tuple] = {}
    for e in doc.entities:
        frags = sorted(e.fragments)
        if len(frags) > 1:
            if options.discontinuous == "skip":
                summary.change(DISCONTINUOUS_SKIPPED, e.where)
                doc.skipped_ids.add(e.id)
                continue
            summary.change(DISCONTINUOUS_COVERED, e.where)
        a, b = frags[0][0], max(f[1] for f in frags)
        a0, b0 = a, b
        while a < b and not is_word(doc.text[a]):
            a += 1
        while b > a and not is_word(doc.text[b - 1]):
            b -= 1
        if a == b:
            summary.change(EMPTY_ENTITY, e.where)
            doc.skipped_ids.add(e.id)
            continue
        if (a, b) != (a0, b0):
            summary.change(WHITESPACE_TRIMMED, e.where)
        out[e.id] = (e.type, a, b, e.where)
    return out


def _split_words(doc: SourceDocument, tok: TokenizedText, spans: dict[str, tuple],
                 summary: ImportSummary) -> TokenizedText:
    """The words split at every entity boundary that falls inside a word (a note each)."""
    before = len(tok.words)
    tok = split_at(tok, [x for _, a, b, _ in spans.values() for x in (a, b)])
    summary.note(WORD_SPLIT, f"{doc.id}", len(tok.words) - before)
    return tok


def _word_entities(doc: SourceDocument, tok: TokenizedText, spans: dict[str, tuple], options: ImportOptions,
                   summary: ImportSummary) -> tuple[list[_Entity], dict[str, int]]:
    """The entities as word spans, and entity id -> index into them (a duplicate points to the
    entity it duplicates); an entity of no whole word or longer than ``max_span_size`` is dropped."""
    starts = [a for a, _ in tok.offsets]
    entities: list[_Entity] = []
    index: dict[str, int] = {}
    seen: dict[tuple[str, int, int], int] = {}
    for eid, (etype, a, b, where) in spans.items():
        first = bisect.bisect_left(starts, a)
        last = bisect.bisect_left(starts, b) - 1
        if first > last or tok.offsets[first][0] != a or tok.offsets[last][1] != b:
            summary.change(EMPTY_ENTITY, where)  # only characters spaCy does not keep as words
            doc.skipped_ids.add(eid)
            continue
        key = (etype, first, last + 1)
        if key in seen:
            summary.change(DUPLICATE_ENTITY, where)
            index[eid] = seen[key]
            continue
        if last + 1 - first > options.max_span_size:
            summary.change(TOO_LONG, f"{where} ({last + 1 - first} words)")
            doc.skipped_ids.add(eid)
            continue
        seen[key] = index[eid] = len(entities)
        entities.append(_Entity(etype, first, last + 1, where))
    return entities, index


def _drop_overlapping(entities: list[_Entity], options: ImportOptions, summary: ImportSummary) -> set[int]:
    """Indices of the entities kept: all, or with ``no_overlap`` those overlapping no other."""
    alive = set(range(len(entities)))
    if options.no_overlap:
        kept, _ = remove_overlapping([(e.start, e.end, e.type, i) for i, e in enumerate(entities)], [])
        for i in alive - {k[3] for k in kept}:
            summary.change(OVERLAPPING, entities[i].where)
        alive = {k[3] for k in kept}
    return alive


def _layout(doc: SourceDocument, tok: TokenizedText, entities: list[_Entity], alive: set[int],
            options: ImportOptions, summary: ImportSummary, subword_counts) -> _Layout:
    """Records as word ranges, each fitting the encoder when subwords are counted; an entity that
    no record holds whole is dropped from ``alive``."""
    word_spans = [(entities[i].start, entities[i].end) for i in alive]
    sentences = merge_sentences(tok.sentences, word_spans)
    summary.note(SENTENCES_MERGED, doc.id, len(tok.sentences) - len(sentences))
    counts = list(subword_counts(tok.words)) if subword_counts is not None and tok.words else None
    if options.documents == "split":
        groups = [[s] for s in sentences]
    else:
        groups = _pack(sentences, counts, options.max_subwords)
        summary.note(LONG_DOCUMENT_CUT, doc.id, int(len(groups) > 1))
    if counts is not None:
        fitted = _fit(groups, counts, options.max_subwords, word_spans)
        summary.note(LONG_SENTENCE_CUT, doc.id, len(fitted) - len(groups))
        groups = fitted
    group_of = {}
    for g, group in enumerate(groups):
        for w in range(group[0][0], group[-1][1]):
            group_of[w] = g
    for i in sorted(alive):  # only an entity of more subwords than the encoder takes: no window holds it
        if group_of[entities[i].start] != group_of[entities[i].end - 1]:
            summary.change(ENTITY_CUT, entities[i].where)
            alive.discard(i)
    return _Layout(groups, [a for a, _ in sentences], group_of)


def _relations(doc: SourceDocument, entities: list[_Entity], index: dict[str, int], alive: set[int],
               symmetric: set[str], layout: _Layout, summary: ImportSummary) -> dict[int, list[tuple[str, int, int]]]:
    """Record index -> its relations (type, head, tail as indices into ``entities``)."""
    by_group: dict[int, list[tuple[str, int, int]]] = {}
    seen: set[tuple[str, int, int]] = set()
    for r in doc.relations:
        ends = []
        for eid in (r.head, r.tail):
            if eid in index and index[eid] in alive:
                ends.append(index[eid])
            elif eid in index or eid in doc.skipped_ids:
                ends.append(None)
            else:
                summary.change(RELATION_UNKNOWN_ID, f"{r.where} (id {eid!r})")
                break
        if len(ends) < 2:
            continue
        if None in ends:
            summary.change(RELATION_DROPPED, r.where)
            continue
        h, t = ends
        if h == t:
            summary.change(RELATION_SELF, r.where)
            continue
        if r.type in symmetric and (entities[t].start, entities[t].end) < (entities[h].start, entities[h].end):
            h, t = t, h
        gh, gt = layout.group_of[entities[h].start], layout.group_of[entities[t].start]
        if gh != gt:
            crossing = bisect.bisect_right(layout.sentence_starts, entities[h].start) != \
                bisect.bisect_right(layout.sentence_starts, entities[t].start)
            summary.change(RELATION_ACROSS if crossing else RELATION_ACROSS_WINDOWS, r.where)
            continue
        if (r.type, h, t) in seen:
            summary.change(DUPLICATE_RELATION, r.where)
            continue
        seen.add((r.type, h, t))
        by_group.setdefault(gh, []).append((r.type, h, t))
    return by_group


def _records(doc: SourceDocument, tok: TokenizedText, entities: list[_Entity], alive: set[int], layout: _Layout,
             relations: dict[int, list[tuple[str, int, int]]], options: ImportOptions,
             summary: ImportSummary) -> list[dict[str, Any]]:
    """One SpERT record per group, entity and relation indices local to it."""
    records = []
    for g, group in enumerate(layout.groups):
        s, e = group[0][0], group[-1][1]
        ents = sorted((i for i in alive if s <= entities[i].start < e),
                      key=lambda i: (entities[i].start, entities[i].end, entities[i].type))
        local = {i: k for k, i in enumerate(ents)}
        rels = sorted((rt, local[h], local[t]) for rt, h, t in relations.get(g, []))
        record: dict[str, Any] = {
            "tokens": list(tok.words[s:e]),
            "entities": [{"type": entities[i].type, "start": entities[i].start - s, "end": entities[i].end - s}
                         for i in ents],
            "relations": [{"type": rt, "head": h, "tail": t} for rt, h, t in rels],
            "document": doc.id,
            "sentence": bisect.bisect_right(layout.sentence_starts, s) - 1,
        }
        if options.documents == "keep":
            record["sentences"] = [[a - s, b - s] for a, b in group]
        record["char_offsets"] = [list(o) for o in tok.offsets[s:e]]
        summary.entities += len(ents)
        summary.relations += len(rels)
        records.append(record)
    return records


def _pack(sentences: list[tuple[int, int]], counts: list[int] | None,
          budget: int) -> list[list[tuple[int, int]]]:
    """Consecutive sentences grouped greedily into pieces of at most ``budget`` subwords.

    Without subword counts the document is one piece. A sentence longer than the budget
    is a piece of its own (:func:`_fit` then cuts it).
    """
    if not sentences:
        return []
    if counts is None:
        return [list(sentences)]
    groups: list[list[tuple[int, int]]] = [[]]
    used = _SPECIAL
    for s, e in sentences:
        n = sum(counts[s:e])
        if groups[-1] and used + n > budget:
            groups.append([])
            used = _SPECIAL
        groups[-1].append((s, e))
        used += n
    return groups


def _fit(groups: list[list[tuple[int, int]]], counts: list[int], budget: int,
         spans: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Cut every group longer than ``budget`` subwords into consecutive word windows that fit.

    Training refuses a sequence longer than the encoder takes, so a sentence that long is
    cut, at the last word boundary that fits and lies inside no entity (the windows do
    not overlap: an entity is trained on once). A relation whose entities fall into
    different windows is then dropped, and counted.
    """
    inside = {p for a, b in spans for p in range(a + 1, b)}  # cuts that would split an entity
    out = []
    for group in groups:
        s, e = group[0][0], group[-1][1]
        if _SPECIAL + sum(counts[s:e]) <= budget:
            out.append(group)
            continue
        start, used = s, _SPECIAL
        for w in range(s, e):
            if used + counts[w] > budget and w > start:
                cut = w
                while cut > start and cut in inside:
                    cut -= 1
                if cut == start:  # an entity longer than a window: cut through it (it is dropped, and counted)
                    cut = w
                out.append([(start, cut)])
                start, used = cut, _SPECIAL + sum(counts[cut:w])
            used += counts[w]
        out.append([(start, e)])
    return out
