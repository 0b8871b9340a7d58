"""What every importer shares: source documents, the summary of changes, and the
conversion of character offsets into SpERT records of words.

Conversion, per document:

1. Entities. A discontinuous entity is skipped or replaced by the span covering its
   fragments (``discontinuous``); whitespace around a span is trimmed. Both are
   changes and counted.
2. Words. The text is tokenized by the tokenizer ``spert predict`` uses
   (:class:`spert.data.text.TextTokenizer`) and every entity boundary that falls
   inside a word splits that word (:func:`spert.data.text.split_at`), so every entity
   is a whole number of words. Word splits are counted (as notes: nothing is lost).
3. Entities become word spans. Duplicates (same type and words) are merged, entities
   longer than ``max_span_size`` words dropped, and with ``no_overlap`` (the ADE
   setting) overlapping entities dropped.
4. Records. ``split``: one record per sentence (sentences that an entity crosses are
   merged first); ``keep``: one record per document, cut at sentence boundaries into
   pieces of at most ``max_subwords`` encoder subwords when a tokenizer count is given.
   A relation whose entities end up in different records is dropped and counted.

Every record keeps where it came from: ``document`` (the source id), ``sentence``
(index of its first sentence in the document), ``char_offsets`` (every word's
character span in the document's text) and, in ``keep`` mode, ``sentences`` (word
ranges inside the record).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from spert.data.documents import remove_overlapping
from spert.data.text import TextTokenizer, TokenizedText, is_word, merge_sentences, split_at
from spert.errors import DataError, SpertError

MAX_EXAMPLES = 5  # examples kept per reason

# Reasons an item is not carried over exactly (changes: --strict refuses each).
DISCONTINUOUS_SKIPPED = "discontinuous entity skipped"
DISCONTINUOUS_COVERED = "discontinuous entity replaced by its covering span"
WHITESPACE_TRIMMED = "whitespace trimmed from an entity's ends"
EMPTY_ENTITY = "entity without a visible character dropped"
DUPLICATE_ENTITY = "duplicate entity (same type and words) merged"
TOO_LONG = "entity longer than max_span_size words dropped"
OVERLAPPING = "overlapping entity dropped (--no-overlap)"
ENTITY_CUT = "entity longer than the encoder takes dropped"
RELATION_UNKNOWN_ID = "relation to an unknown id dropped"
RELATION_DROPPED = "relation to a dropped or skipped annotation dropped"
RELATION_SELF = "relation from an entity to itself dropped"
RELATION_ACROSS = "relation across sentences dropped"
RELATION_ACROSS_WINDOWS = "relation across the pieces of a long document or sentence dropped"
DUPLICATE_RELATION = "duplicate relation merged"

# Notes: counted, nothing of the annotation is lost.
WORD_SPLIT = "word split at an entity boundary"
SENTENCES_MERGED = "sentences merged because an entity crosses them"
LONG_DOCUMENT_CUT = "document cut at sentence boundaries to fit the encoder"
LONG_SENTENCE_CUT = "sentence longer than the encoder cut into windows"

_SPECIAL = 2  # the encoder's start and end tokens


@dataclass
class SourceEntity:
    id: str
    type: str
    fragments: tuple[tuple[int, int], ...]  # character spans [start, end) in the document text
    where: str  # "file: line N: id" for messages and examples


@dataclass
class SourceRelation:
    type: str
    head: str  # entity ids
    tail: str
    where: str


@dataclass
class SourceDocument:
    """One annotated text as an annotation tool stores it: characters and ids."""

    id: str
    text: str
    entities: list[SourceEntity] = field(default_factory=list)
    relations: list[SourceRelation] = field(default_factory=list)
    skipped_ids: set[str] = field(default_factory=set)  # ids of annotations skipped (events, ...)
    symmetric: set[str] = field(default_factory=set)  # relation types symmetric by construction


@dataclass(frozen=True)
class ImportOptions:
    discontinuous: Literal["skip", "cover"] = "skip"
    documents: Literal["split", "keep"] = "split"
    max_span_size: int = 10
    no_overlap: bool = False
    symmetric: frozenset[str] = frozenset()
    max_subwords: int = 512  # keep mode: a record's subwords, [CLS] and [SEP] included
    strict: bool = False


@dataclass
class ImportSummary:
    """What an import carried over, and every item it changed or dropped, by reason."""

    strict: bool = False
    documents: int = 0
    records: int = 0
    entities: int = 0  # carried over into the records
    relations: int = 0
    changes: dict[str, int] = field(default_factory=dict)  # reason -> count (refused by --strict)
    notes: dict[str, int] = field(default_factory=dict)  # reason -> count (nothing lost)
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> first few "file: line: id"

    def change(self, reason: str, where: str, count: int = 1) -> None:
        if self.strict:
            raise SpertError(f"{where}: {reason} (--strict refuses every change)")
        self._count(self.changes, reason, where, count)

    def note(self, reason: str, where: str, count: int = 1) -> None:
        self._count(self.notes, reason, where, count)

    def _count(self, table: dict[str, int], reason: str, where: str, count: int) -> None:
        if count <= 0:
            return
        table[reason] = table.get(reason, 0) + count
        ex = self.examples.setdefault(reason, [])
        if len(ex) < MAX_EXAMPLES:
            ex.append(where)

    @property
    def changed(self) -> int:
        return sum(self.changes.values())

    def to_json(self) -> dict[str, Any]:
        return {"documents": self.documents, "records": self.records, "entities": self.entities,
                "relations": self.relations, "changes": dict(sorted(self.changes.items())),
                "notes": dict(sorted(self.notes.items())),
                "examples": {k: v for k, v in sorted(self.examples.items())}}

    def format(self) -> str:
        lines = [f"{self.documents} documents -> {self.records} records, "
                 f"{self.entities} entities, {self.relations} relations"]
        for title, table in (("changed or dropped", self.changes), ("notes", self.notes)):
            if table:
                lines.append(f"{title}:")
                for reason, n in sorted(table.items()):
                    ex = "; ".join(self.examples.get(reason, []))
                    lines.append(f"  {n:6d}  {reason}" + (f"  (e.g. {ex})" if ex else ""))
        if not self.changes:
            lines.append("every entity and relation carried over exactly")
        return "\n".join(lines)


@dataclass
class ImportResult:
    records: list[dict[str, Any]]
    types: dict[str, Any]  # the types file
    summary: ImportSummary


# -- checks the readers share ---------------------------------------------------------------------


def check_fragments(path: Any, line: int | None, eid: str, text: str, fragments: Sequence[tuple[int, int]],
                    quoted: str | None, *, sep: str = " ") -> None:
    """Offsets inside the text, and the text an export quotes equal to the text at them.

    ``quoted`` is what the tool wrote for the entity (fragments joined by ``sep``);
    line breaks in the text count as spaces, as line-oriented formats cannot hold them.
    """
    for a, b in fragments:
        if not (0 <= a < b <= len(text)):
            raise DataError(path, f"{eid}: offsets {a}-{b} are empty or outside the text's {len(text)} "
                            "characters", line=line)
    if quoted is None:
        return
    found = sep.join(text[a:b] for a, b in fragments)
    if _flat(found) != _flat(quoted):
        raise DataError(path, f"{eid}: the annotation quotes {quoted!r} but the text at "
                        f"{';'.join(f'{a}-{b}' for a, b in fragments)} is {found!r}", line=line)


def _flat(s: str) -> str:
    """Line breaks as spaces, one per character, so the quoted text keeps the span's length."""
    return s.replace("\r", " ").replace("\n", " ")


def read_text(path: Any) -> str:
    """A UTF-8 text file exactly as stored: no newline translation (offsets count every \\r)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as e:
        raise DataError(path, f"cannot read file: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(path, f"not valid UTF-8 (byte {e.start})") from None


def load_json(path: Any) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(path, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None


# -- conversion ---------------------------------------------------------------------------------------


@dataclass
class _Entity:
    type: str
    start: int  # words
    end: int
    where: str


def convert(docs: Iterable[SourceDocument], options: ImportOptions, summary: ImportSummary, *,
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


def _convert_document(doc: SourceDocument, tok: TokenizedText, options: ImportOptions, symmetric: set[str],
                      summary: ImportSummary, subword_counts) -> list[dict[str, Any]]:
    spans = _char_spans(doc, options, summary)
    before = len(tok.words)
    tok = split_at(tok, [x for _, a, b, _ in spans.values() for x in (a, b)])
    summary.note(WORD_SPLIT, f"{doc.id}", len(tok.words) - before)
    starts = [a for a, _ in tok.offsets]

    # entity ids -> word spans; duplicates point to the entity they duplicate
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
    alive = set(range(len(entities)))
    if options.no_overlap:
        kept, _ = remove_overlapping([(e.start, e.end, e.type, i) for i, e in enumerate(entities)], [])
        for i in alive - {k[3] for k in kept}:
            summary.change(OVERLAPPING, entities[i].where)
        alive = {k[3] for k in kept}

    # records: word ranges, each fitting the encoder when subwords are counted
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
    sentence_starts = [a for a, _ in sentences]
    group_of = {}  # word -> record index
    for g, group in enumerate(groups):
        for w in range(group[0][0], group[-1][1]):
            group_of[w] = g
    for i in sorted(alive):  # only an entity of more subwords than the encoder takes: no window holds it
        if group_of[entities[i].start] != group_of[entities[i].end - 1]:
            summary.change(ENTITY_CUT, entities[i].where)
            alive.discard(i)

    # relations: by record, with local entity indices
    rels_by_group: dict[int, list[tuple[str, int, int]]] = {}
    seen_rel: set[tuple[str, int, int]] = set()
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
        gh, gt = group_of[entities[h].start], group_of[entities[t].start]
        if gh != gt:
            crossing = bisect.bisect_right(sentence_starts, entities[h].start) != \
                bisect.bisect_right(sentence_starts, entities[t].start)
            summary.change(RELATION_ACROSS if crossing else RELATION_ACROSS_WINDOWS, r.where)
            continue
        if (r.type, h, t) in seen_rel:
            summary.change(DUPLICATE_RELATION, r.where)
            continue
        seen_rel.add((r.type, h, t))
        rels_by_group.setdefault(gh, []).append((r.type, h, t))

    records = []
    for g, group in enumerate(groups):
        s, e = group[0][0], group[-1][1]
        ents = sorted((i for i in alive if s <= entities[i].start < e),
                      key=lambda i: (entities[i].start, entities[i].end, entities[i].type))
        local = {i: k for k, i in enumerate(ents)}
        rels = sorted((rt, local[h], local[t]) for rt, h, t in rels_by_group.get(g, []))
        record: dict[str, Any] = {
            "tokens": list(tok.words[s:e]),
            "entities": [{"type": entities[i].type, "start": entities[i].start - s, "end": entities[i].end - s}
                         for i in ents],
            "relations": [{"type": rt, "head": h, "tail": t} for rt, h, t in rels],
            "document": doc.id,
            "sentence": bisect.bisect_right(sentence_starts, s) - 1,
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
