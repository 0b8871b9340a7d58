"""The Python API: load a trained model and extract entities and relations.

    from spert import SpERT

    model = SpERT.load("runs/conll04/model")
    for doc in model.predict(["Ada Lovelace was born in London.", "Babbage met her there."]):
        for t in doc.triples():
            print(t.head.text, t.relation, t.tail.text)

Inputs, freely mixed within one call:

* ``str``: raw text. It is tokenized and split into sentences (see ``text.py``);
  every sentence is one SpERT input, and results carry character offsets into
  the string (``text[e.char_start:e.char_end] == e.text``).
* a list of ``str``: pre-tokenized words, one sentence. Character offsets refer
  to the words joined by single spaces.
* a ``dict``: a SpERT JSON record ``{"tokens": [...]}`` (one sentence, or the
  sentences its ``"sentences": [[start, end], ...]`` field gives; offsets into its
  ``"text"`` when it has one that holds the tokens in order, else into the joined
  words) or ``{"text": "..."}``. Other fields (an id) are passed through.

Relations for given entities (``given_entities=True``, or :meth:`SpERT.predict_relations`):
records carry ``"entities"``, word spans ``{"type", "start", "end"}`` next to
``"tokens"`` or character spans ``{"type", "char_start", "char_end"}`` next to
``"text"``. The given entities come back unchanged and in order (score ``None``;
character spans trimmed to whole words) so relation heads and tails index the
input's list. Words are split where a character span cuts one, and sentences
that an entity crosses are merged. Any entity type name is accepted: the
relation classifier does not look at entity types.

Results serialise to SpERT JSON plus character offsets (:meth:`Prediction.to_json`)
and back (:meth:`Prediction.from_json`), which also reads plain SpERT JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from .data import is_int
from .errors import DataError
from .text import TextTokenizer, TokenizedText, align_words, from_words, merge_sentences, split_at

_RECORD_FIELDS = ("text", "tokens", "sentences", "entities", "relations")


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
                          "char_end": e.char_end, "text": e.text, "score": _round(e.score)}
                         for e in self.entities],
            "relations": [{"type": r.type, "head": r.head, "tail": r.tail, "score": _round(r.score)}
                          for r in self.relations],
            **self.extra,
        }

    @classmethod
    def from_json(cls, obj: Any, *, path: str | Path | None = None, line: int | None = None,
                  doc: int | None = None) -> "Prediction":
        """Read :meth:`to_json` output or a plain SpERT JSON record (scores then ``None``)."""
        from .data import parse_document

        inp = parse_input(obj, path=path, line=line, doc=doc)
        if inp.words is None:
            raise DataError(path, "a prediction record needs 'tokens'", doc=doc, line=line, field="tokens")
        tok = inp.words
        if tok.words:  # validates entities and relations (types, ranges, indices)
            parse_document({"tokens": list(tok.words), "entities": obj.get("entities", []),
                            "relations": obj.get("relations", [])}, None, path=path, doc=doc, line=line,
                           require_annotations=False)
        elif obj.get("entities") or obj.get("relations"):
            raise DataError(path, "entities in a document without tokens", doc=doc, line=line, field="entities")
        ents = [_entity(tok, e["type"], e["start"], e["end"], _score(e.get("score"), path, line, doc))
                for e in obj.get("entities") or []]
        rels = [PredictedRelation(r["type"], r["head"], r["tail"], _score(r.get("score"), path, line, doc))
                for r in obj.get("relations") or []]
        return cls(tok.text, tok.words, tok.offsets, tok.sentences, ents, rels, inp.extra)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _score(x: Any, path, line, doc) -> float | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise DataError(path, f"a score must be a number, got {x!r}", doc=doc, line=line)
    return float(x)


def _entity(tok: TokenizedText, etype: str, start: int, end: int, score: float | None) -> PredictedEntity:
    a, b = tok.offsets[start][0], tok.offsets[end - 1][1]
    return PredictedEntity(etype, start, end, a, b, tok.text[a:b], score)


# -- inputs ----------------------------------------------------------------------------


@dataclass
class Input:
    """One document to predict on, checked but not yet tokenized."""

    text: str | None = None  # raw text, to be tokenized
    words: TokenizedText | None = None  # or words given
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
        inp.text = item
    elif isinstance(item, (list, tuple)):
        inp.words = from_words(_words(item, inp, "tokens"))
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
    return list(obj)


def _parse_record(obj: dict, inp: Input) -> None:
    inp.extra = {k: v for k, v in obj.items() if k not in _RECORD_FIELDS}
    text = obj.get("text")
    if text is not None and not isinstance(text, str):
        raise inp.error(f"must be a string, got {type(text).__name__}", "text")
    if "tokens" not in obj:
        if text is None:
            raise inp.error("a record needs 'text' (raw text) or 'tokens' (words)", "text")
        inp.text = text
        return
    words = _words(obj["tokens"], inp, "tokens")
    sentences = _sentences(obj.get("sentences"), len(words), inp)
    if text is None:
        inp.words = from_words(words, sentences)
        return
    offsets = align_words(text, words)
    if offsets is None:
        raise inp.error("the tokens do not occur in order in the record's 'text'", "tokens")
    inp.words = TokenizedText(text, tuple(words), offsets, tuple(sentences) if sentences is not None
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
    by_chars = inp.words is None
    keys = ("char_start", "char_end") if by_chars else ("start", "end")
    limit = len(inp.text or "") if by_chars else len(inp.words.words)  # type: ignore[union-attr]
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


# -- the model -------------------------------------------------------------------------


class SpERT:
    """A trained model ready for prediction (wraps the ``nn.Module``, its tokenizer and defaults)."""

    def __init__(self, module, tokenizer, defaults: dict[str, Any] | None = None, *,
                 spacy_model: str | None = None) -> None:
        from .inference import max_subwords

        self.module, self.tokenizer = module, tokenizer
        self.defaults = dict(defaults or {})
        self.text_tokenizer = TextTokenizer(spacy_model)
        # longest encoder input (start and end tokens included); longer sentences are windowed
        self.max_length: int = max_subwords(module, tokenizer)

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu", spacy_model: str | None = None) -> "SpERT":
        """Load a model directory (``spert train`` output or ``spert convert`` result)."""
        from .checkpoint import load_model

        module, tokenizer, defaults = load_model(path, device)
        return cls(module, tokenizer, defaults, spacy_model=spacy_model)

    @property
    def entity_types(self) -> list[str]:
        return [t.name for t in self.module.schema.entities]

    @property
    def relation_types(self) -> list[str]:
        return [t.name for t in self.module.schema.relations]

    @property
    def rel_filter_threshold(self) -> float:
        return float(self.defaults.get("rel_filter_threshold", 0.4))

    def predict(self, inputs: str | Iterable[Any], *, batch_size: int = 8, rel_filter_threshold: float | None = None,
                no_overlap: bool = False, given_entities: bool = False) -> list[Prediction]:
        """One :class:`Prediction` per input, in order (a single string counts as one input)."""
        if isinstance(inputs, (str, dict)):  # one document, not an iterable of them
            inputs = [inputs]
        return list(self.iter_predict(inputs, batch_size=batch_size, rel_filter_threshold=rel_filter_threshold,
                                      no_overlap=no_overlap, given_entities=given_entities))

    def predict_relations(self, inputs: Iterable[Any], **kwargs: Any) -> list[Prediction]:
        """Relations between the entities each input record gives (see the module's docs)."""
        return self.predict(inputs, given_entities=True, **kwargs)

    def iter_predict(self, inputs: Iterable[Any], *, chunk_size: int = 256, batch_size: int = 8,
                     rel_filter_threshold: float | None = None, no_overlap: bool = False,
                     given_entities: bool = False) -> Iterator[Prediction]:
        """Lazily predict an iterable of any length, ``chunk_size`` inputs at a time."""
        chunk: list[Input] = []
        for i, item in enumerate(inputs):
            chunk.append(parse_input(item, given_entities=given_entities, doc=i))
            if len(chunk) >= chunk_size:
                yield from self.predict_inputs(chunk, batch_size=batch_size, given_entities=given_entities,
                                               rel_filter_threshold=rel_filter_threshold, no_overlap=no_overlap)
                chunk = []
        if chunk:
            yield from self.predict_inputs(chunk, batch_size=batch_size, given_entities=given_entities,
                                           rel_filter_threshold=rel_filter_threshold, no_overlap=no_overlap)

    def predict_inputs(self, inputs: Sequence[Input], *, batch_size: int = 8,
                       rel_filter_threshold: float | None = None, no_overlap: bool = False,
                       given_entities: bool = False,
                       on_error: Callable[[DataError], None] | None = None) -> list[Prediction | None]:
        """Predict checked inputs together (sorted by length into batches, returned in order).

        An input whose given entities do not fit its words raises a :class:`DataError`, or,
        with ``on_error``, is reported to it and gets ``None``.
        """
        docs: list[_Doc | None] = []
        texts = iter(self.text_tokenizer.pipe([i.text for i in inputs if i.words is None]))
        for inp in inputs:
            tok = inp.words if inp.words is not None else next(texts)
            try:
                docs.append(_resolve(inp, tok, given_entities))
            except DataError as e:
                if on_error is None:
                    raise
                on_error(e)
                docs.append(None)
        threshold = self.rel_filter_threshold if rel_filter_threshold is None else rel_filter_threshold
        return self._run(docs, batch_size, threshold, no_overlap, given_entities)

    def _run(self, docs: list[_Doc | None], batch_size: int, threshold: float, no_overlap: bool,
             given_entities: bool) -> list[Prediction | None]:
        from .encoding import encode_words_batch
        from .inference import predict_documents
        from .windows import predict_windowed

        # every sentence of every document is one model input ("unit")
        units: list[tuple[int, int, int]] = []  # (doc, first word, end word)
        for d, doc in enumerate(docs):
            if doc is not None:
                units += [(d, s, e) for s, e in doc.tok.sentences]
        words = [docs[d].tok.words[s:e] for d, s, e in units]  # type: ignore[union-attr]
        encodings = encode_words_batch(self.tokenizer, words)
        device = next(self.module.parameters()).device
        results: list[Any] = [None] * len(units)
        kw = dict(threshold=threshold, no_overlap=no_overlap, batch_size=batch_size, device=device)

        if given_entities:
            local = [[(t, a - s, b - s) for t, a, b in docs[d].given if s <= a and b <= e]  # type: ignore[union-attr]
                     for d, s, e in units]
            results = predict_windowed(self.module, self.tokenizer, words, encodings, limit=self.max_length,
                                       given=local, **kw)
        else:
            short = [i for i, enc in enumerate(encodings) if len(enc.input_ids) <= self.max_length]
            long = [i for i, enc in enumerate(encodings) if len(enc.input_ids) > self.max_length]
            if short:
                for i, p in zip(short, predict_documents(self.module, self.tokenizer, [words[i] for i in short],
                                                         encodings=[encodings[i] for i in short], **kw)):
                    results[i] = p
            if long:
                for i, p in zip(long, predict_windowed(self.module, self.tokenizer, [words[i] for i in long],
                                                       [encodings[i] for i in long], limit=self.max_length, **kw)):
                    results[i] = p

        out: list[Prediction | None] = []
        per_doc: dict[int, list[tuple[int, Any]]] = {}
        for (d, s, _), r in zip(units, results):
            per_doc.setdefault(d, []).append((s, r))
        for d, doc in enumerate(docs):
            out.append(None if doc is None else _assemble(doc, per_doc.get(d, []), given_entities))
        return out


@dataclass
class _Doc:
    tok: TokenizedText
    given: list[tuple[str, int, int]] | None  # document word spans, input order
    extra: dict[str, Any]


def _resolve(inp: Input, tok: TokenizedText, given_entities: bool) -> _Doc:
    """Tokenized input with given entities as word spans (words split, sentences merged as needed)."""
    if not given_entities:
        return _Doc(tok, None, inp.extra)
    from .sampling import MAX_WIDTH_EMBEDDINGS

    given = inp.entities or []
    if inp.words is None:  # character spans: make them fall on word boundaries, then map to words
        tok = split_at(tok, [x for _, a, b in given for x in (a, b)])
        spans = []
        for i, (t, a, b) in enumerate(given):
            inside = [w for w, (x, y) in enumerate(tok.offsets) if a <= x and y <= b]
            if not inside:
                raise inp.error(f"characters [{a}, {b}) ({tok.text[a:b]!r}) hold no word", f"entities[{i}]")
            spans.append((t, inside[0], inside[-1] + 1))
        given = spans
    for i, (_, a, b) in enumerate(given):
        if b - a >= MAX_WIDTH_EMBEDDINGS:
            raise inp.error(f"entity of {b - a} words; the model's width embedding covers at most "
                            f"{MAX_WIDTH_EMBEDDINGS - 1}", f"entities[{i}]")
    sentences = merge_sentences(tok.sentences, [(a, b) for _, a, b in given])
    tok = TokenizedText(tok.text, tok.words, tok.offsets, tuple(sentences))
    return _Doc(tok, given, inp.extra)


def _assemble(doc: _Doc, parts: list[tuple[int, Any]], given_entities: bool) -> Prediction:
    """Sentence results (sentence-local word and entity indices) into one document's prediction."""
    tok = doc.tok
    ents: list[PredictedEntity] = []
    rels: list[PredictedRelation] = []
    if given_entities:
        given = doc.given or []
        ents = [_entity(tok, t, a, b, None) for t, a, b in given]
        for s, p in sorted(parts, key=lambda x: x[0]):
            # the sentence's given entities, in input order, are p.entities
            index = [i for i, (_, a, b) in enumerate(given) if s <= a and b <= s + len(p.tokens)]
            rels += [PredictedRelation(r.type, index[r.head], index[r.tail], r.score) for r in p.relations]
    else:
        for s, p in sorted(parts, key=lambda x: x[0]):
            base = len(ents)
            ents += [_entity(tok, e.type, s + e.start, s + e.end, e.score) for e in p.entities]
            rels += [PredictedRelation(r.type, base + r.head, base + r.tail, r.score) for r in p.relations]
    return Prediction(tok.text, tok.words, tok.offsets, tok.sentences, ents, rels, doc.extra)
