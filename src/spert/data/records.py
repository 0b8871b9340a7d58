"""Prediction records and inputs: what goes into and comes out of an extractor.

Torch-free, so that rendering, the HTTP server and the annotation formats' writers depend
on the records and not on the model. See :mod:`spert.infer.extractor` for the inputs each
kind of item means.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

from spert.data.documents import is_int, parse_document
from spert.errors import DataError
from spert.data.text import TokenizedText, align_words, from_words

_RECORD_FIELDS = ("text", "tokens", "sentences", "entities", "relations")

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter), read lazily: how every prediction path
    (the Python API, streaming ``spert predict``, the Ray driver) cuts its inputs into chunks."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PredictedEntity:
    type: str
    start: int  # first word (index into the document's tokens)
    end: int  # one past the last word
    char_start: int  # character span in the document's text
    char_end: int
    text: str  # == document text[char_start:char_end]
    score: float | None  # softmax probability of the type; None for given entities


@dataclass(frozen=True, slots=True)
class PredictedRelation:
    type: str
    head: int  # index into the document's entities
    tail: int
    score: float | None  # sigmoid probability; None when read from data without scores


@dataclass(frozen=True, slots=True)
class Triple:
    head: PredictedEntity
    relation: str
    tail: PredictedEntity
    score: float | None


@dataclass
class Prediction:
    """Entities and relations of one input document."""

    text: str
    tokens: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...]  # character span of every token in ``text``
    sentences: tuple[tuple[int, int], ...]  # word ranges [start, end)
    entities: list[PredictedEntity] = field(default_factory=list)
    relations: list[PredictedRelation] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # input fields passed through (an id)

    def triples(self) -> list[Triple]:
        return [Triple(self.entities[r.head], r.type, self.entities[r.tail], r.score) for r in self.relations]

    def to_json(self) -> dict[str, Any]:
        """SpERT JSON (tokens, entities, relations) plus text, sentences and character offsets."""
        return {
            "text": self.text,
            "tokens": list(self.tokens),
            "sentences": [list(s) for s in self.sentences],
            "entities": [{"type": e.type, "start": e.start, "end": e.end, "char_start": e.char_start,
                          "char_end": e.char_end, "text": e.text, "score": round_score(e.score)}
                         for e in self.entities],
            "relations": [{"type": r.type, "head": r.head, "tail": r.tail, "score": round_score(r.score)}
                          for r in self.relations],
            **self.extra,
        }

    @classmethod
    def from_json(cls, obj: Any, *, path: str | Path | None = None, line: int | None = None,
                  doc: int | None = None) -> "Prediction":
        """Read :meth:`to_json` output or a plain SpERT JSON record (scores then ``None``)."""
        inp = parse_input(obj, path=path, line=line, doc=doc)
        if inp.tokenized is None:
            raise DataError(path, "a prediction record needs 'tokens'", doc=doc, line=line, field="tokens")
        tok = inp.tokenized
        if tok.words:  # validates entities and relations (types, ranges, indices)
            parse_document({"tokens": list(tok.words), "entities": obj.get("entities", []),
                            "relations": obj.get("relations", [])}, None, path=path, doc=doc, line=line,
                           require_annotations=False)
        elif obj.get("entities") or obj.get("relations"):
            raise DataError(path, "entities in a document without tokens", doc=doc, line=line, field="entities")
        ents = [entity_record(tok, e["type"], e["start"], e["end"], _score(e.get("score"), path, line, doc))
                for e in obj.get("entities") or []]
        rels = [PredictedRelation(r["type"], r["head"], r["tail"], _score(r.get("score"), path, line, doc))
                for r in obj.get("relations") or []]
        return cls(tok.text, tok.words, tok.offsets, tok.sentences, ents, rels, inp.extra)


def round_score(x: float | None) -> float | None:
    """A score as every output stores it (``spert predict``, the pre-annotation writers): six decimals."""
    return None if x is None else round(x, 6)


def _score(x: Any, path, line, doc) -> float | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise DataError(path, f"a score must be a number, got {x!r}", doc=doc, line=line)
    return float(x)


def entity_record(tok: TokenizedText, etype: str, start: int, end: int, score: float | None) -> PredictedEntity:
    a, b = tok.offsets[start][0], tok.offsets[end - 1][1]
    return PredictedEntity(etype, start, end, a, b, tok.text[a:b], score)


# -- inputs ----------------------------------------------------------------------------


@dataclass
class Input:
    """One document to predict on, checked but not yet tokenized."""

    text: str | None = None  # raw text, to be tokenized
    tokenized: TokenizedText | None = None  # or words given (split into sentences when the record says so)
    entities: list[tuple[str, int, int]] | None = None  # given entities: word spans, or char spans with text
    extra: dict[str, Any] = field(default_factory=dict)
    where: tuple[Any, int | None, int | None] = (None, None, None)  # (path, line, doc) for messages

    def error(self, problem: str, fld: str | None = None) -> DataError:
        path, line, doc = self.where
        return DataError(path, problem, doc=doc, line=line, field=fld)


def parse_input(item: Any, *, given_entities: bool = False, path: str | Path | None = None,
                line: int | None = None, doc: int | None = None) -> Input:
    """Check one input (raw string, word list or record) without tokenizing it."""
    inp = Input(where=(path, line, doc))
    if isinstance(item, str):
        inp.text = _unicode(item, inp, "text")
    elif isinstance(item, (list, tuple)):
        inp.tokenized = from_words(_words(item, inp, "tokens"))
    elif isinstance(item, dict):
        _parse_record(item, inp)
    else:
        raise inp.error(f"a document must be a string, a list of words or a JSON object, got {type(item).__name__}")
    if given_entities:
        raw = item.get("entities") if isinstance(item, dict) else None
        if raw is None:
            raise inp.error("relations for given entities need each record's 'entities'", "entities")
        inp.entities = _given(raw, inp)
    return inp


def _words(obj: Any, inp: Input, fld: str) -> list[str]:
    if not isinstance(obj, (list, tuple)):
        raise inp.error(f"must be a list of strings, got {type(obj).__name__}", fld)
    for i, w in enumerate(obj):
        if not isinstance(w, str):
            raise inp.error(f"must be a string, got {type(w).__name__}", f"{fld}[{i}]")
        _unicode(w, inp, f"{fld}[{i}]")
    return list(obj)


def _unicode(s: str, inp: Input, fld: str) -> str:
    """``s``, if it is valid Unicode: a lone surrogate (from broken UTF-16 or JSON escapes) is an error."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise inp.error(f"character {e.start} is a lone surrogate (U+{ord(s[e.start]):04X}), not valid Unicode",
                        fld) from None
    return s


def _parse_record(obj: dict, inp: Input) -> None:
    inp.extra = {k: v for k, v in obj.items() if k not in _RECORD_FIELDS}
    text = obj.get("text")
    if text is not None and not isinstance(text, str):
        raise inp.error(f"must be a string, got {type(text).__name__}", "text")
    if text is not None:
        _unicode(text, inp, "text")
    if "tokens" not in obj:
        if text is None:
            raise inp.error("a record needs 'text' (raw text) or 'tokens' (words)", "text")
        inp.text = text
        return
    words = _words(obj["tokens"], inp, "tokens")
    sentences = _sentences(obj.get("sentences"), len(words), inp)
    if text is None:
        inp.tokenized = from_words(words, sentences)
        return
    offsets = align_words(text, words)
    if offsets is None:
        raise inp.error("the tokens do not occur in order in the record's 'text'", "tokens")
    inp.tokenized = TokenizedText(text, tuple(words), offsets, tuple(sentences) if sentences is not None
                              else (((0, len(words)),) if words else ()))


def _sentences(obj: Any, n: int, inp: Input) -> list[tuple[int, int]] | None:
    if obj is None:
        return None
    if not isinstance(obj, list):
        raise inp.error(f"must be a list of [start, end] word ranges, got {type(obj).__name__}", "sentences")
    out, pos = [], 0
    for i, s in enumerate(obj):
        if not (isinstance(s, list) and len(s) == 2 and all(is_int(x) for x in s)) or s[0] != pos or s[1] <= s[0]:
            raise inp.error(f"must be [start, end] word ranges that follow each other from word 0, got {s!r}",
                            f"sentences[{i}]")
        out.append((s[0], s[1]))
        pos = s[1]
    if pos != n:
        raise inp.error(f"the sentences cover {pos} words of {n}", "sentences")
    return out


def _given(raw: Any, inp: Input) -> list[tuple[str, int, int]]:
    """Given entities as (type, start, end): words next to 'tokens', characters next to 'text'."""
    if not isinstance(raw, list):
        raise inp.error(f"must be a list, got {type(raw).__name__}", "entities")
    by_chars = inp.tokenized is None
    keys = ("char_start", "char_end") if by_chars else ("start", "end")
    limit = len(inp.text or "") if by_chars else len(inp.tokenized.words)  # type: ignore[union-attr]
    out = []
    for i, e in enumerate(raw):
        fld = f"entities[{i}]"
        if not isinstance(e, dict):
            raise inp.error(f"must be an object, got {type(e).__name__}", fld)
        for key in ("type", *keys):
            if key not in e:
                raise inp.error("missing field", f"{fld}.{key}")
        etype, a, b = e["type"], e[keys[0]], e[keys[1]]
        if not isinstance(etype, str):
            raise inp.error(f"must be a string, got {type(etype).__name__}", f"{fld}.type")
        if not (is_int(a) and is_int(b)):
            raise inp.error(f"{keys[0]} and {keys[1]} must be integers, got {a!r} and {b!r}", fld)
        if not 0 <= a < b <= limit:
            unit = "characters" if by_chars else "words"
            raise inp.error(f"span [{a}, {b}) is empty or outside the document's {limit} {unit}", fld)
        out.append((etype, a, b))
    return out
