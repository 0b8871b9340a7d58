"""The Python API: load a trained model and extract entities and relations.

    from spert import SpERT

    model = SpERT.load("runs/conll04/model")
    for doc in model.predict(["Ada Lovelace was born in London.", "Babbage met her there."]):
        for t in doc.triples():
            print(t.head.text, t.relation, t.tail.text)

Inputs, freely mixed within one call:

* ``str``: raw text. It is tokenized and split into sentences (see :mod:`spert.data.text`; the
  language is chosen at load, ``SpERT.load(path, language="de")``);
  every sentence is one SpERT input, and results carry character offsets into
  the string (``text[e.char_start:e.char_end] == e.text``).
* a list of ``str``: pre-tokenized words, one sentence. Character offsets refer
  to the words joined by single spaces.
* a ``dict``: a SpERT JSON record ``{"tokens": [...]}`` (one sentence, or the
  sentences its ``"sentences": [[start, end], ...]`` field gives; offsets into its
  ``"text"`` when it has one that holds the tokens in order, else into the joined
  words) or ``{"text": "..."}``. Other fields (an id) are passed through.

Each input is one document: a model with document context (``context_words``, see
:mod:`spert.model.context`) encodes each of its sentences with words of the others; separate
inputs never see each other.

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

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from spert.data.text import TextTokenizer, TokenizedText, merge_sentences, split_at, text_pipeline
from spert.errors import DataError, raise_or_report
from spert.data.records import (Input, Prediction, PredictedEntity, PredictedRelation, chunked, entity_record,
                                parse_input)
from spert.infer.runner import encode_sentences, predict_documents
from spert.infer.windows import predict_windowed
from spert.infer.options import LoadOptions, PredictOptions
from spert.model.checkpoint import load_model
from spert.model.encoders import max_subwords
from spert.model.network import SpERTModel
from spert.model.settings import InferenceSettings
from spert.model.spans import MAX_WIDTH_EMBEDDINGS


# -- the model -------------------------------------------------------------------------


class SpERT:
    """A trained model ready for prediction (wraps the ``SpERTModel``, its tokenizer and inference settings)."""

    def __init__(self, module: SpERTModel, tokenizer, settings: InferenceSettings | None = None, *,
                 spacy_model: str | None = None, language: str | None = None) -> None:
        self.module, self.tokenizer = module, tokenizer
        self.settings = settings or InferenceSettings()
        self.text_tokenizer = TextTokenizer(text_pipeline(language, spacy_model))
        # longest encoder input (start and end tokens included); longer sentences are windowed
        self.max_length: int = max_subwords(module.encoder.config, tokenizer)

    @classmethod
    def load(cls, path: str | Path, options: LoadOptions | None = None, **changes: Any) -> "SpERT":
        """Load a model directory (``spert train`` output, ``spert convert`` result, or a ``spert export
        onnx`` directory) with :class:`~spert.infer.options.LoadOptions`, or their fields as keywords
        (``SpERT.load(path, language="de")``). ``backend`` ("torch" or "onnx") insists on one; by
        default, what the directory holds. With "onnx" the encoder runs in ONNX Runtime, the heads and
        decoding in PyTorch. ``language`` (a spaCy language code such as ``"de"``, or an installed
        pipeline's name) says how raw text is split into words and sentences
        (:func:`spert.data.text.text_pipeline`; default English). ``precision="bf16"`` predicts under
        bf16 autocast (a GPU's speed-up; PyTorch models only)."""
        opts: LoadOptions = (options or LoadOptions()).with_(**changes)
        module, tokenizer, settings = load_model(path, opts.device, opts.backend, opts.precision)
        return cls(module, tokenizer, settings, spacy_model=opts.text_pipeline())

    @property
    def entity_types(self) -> list[str]:
        return [t.name for t in self.module.schema.entities]

    @property
    def relation_types(self) -> list[str]:
        return [t.name for t in self.module.schema.relations]

    @property
    def rel_filter_threshold(self) -> float:
        return self.settings.rel_filter_threshold

    def predict(self, inputs: str | Iterable[Any], options: PredictOptions | None = None,
                **changes: Any) -> list[Prediction]:
        """One :class:`Prediction` per input, in order (a single string counts as one input).
        ``options`` (:class:`~spert.infer.options.PredictOptions`), or their fields as keywords
        (``batch_size=16``, ``rel_filter_threshold=0.5``, ``no_overlap=True``, ``given_entities=True``)."""
        if isinstance(inputs, (str, dict)):  # one document, not an iterable of them
            inputs = [inputs]
        return list(self.iter_predict(inputs, options, **changes))

    def predict_relations(self, inputs: Iterable[Any], options: PredictOptions | None = None,
                          **changes: Any) -> list[Prediction]:
        """Relations between the entities each input record gives (see the module's docs)."""
        return self.predict(inputs, options, **{**changes, "given_entities": True})

    def iter_predict(self, inputs: Iterable[Any], options: PredictOptions | None = None,
                     **changes: Any) -> Iterator[Prediction]:
        """Lazily predict an iterable of any length, ``chunk_size`` inputs at a time."""
        opts: PredictOptions = (options or PredictOptions()).with_(**changes)
        parsed = (parse_input(item, given_entities=opts.given_entities, doc=i) for i, item in enumerate(inputs))
        for chunk in chunked(parsed, opts.chunk_size):
            yield from self.predict_inputs(chunk, opts)  # type: ignore[misc]  (no on_error: never None)

    def predict_inputs(self, inputs: Sequence[Input], options: PredictOptions | None = None, *,
                       on_error: Callable[[DataError], None] | None = None) -> list[Prediction | None]:
        """Predict checked inputs together (sorted by length into batches, returned in order).

        An input whose given entities do not fit its words raises a :class:`DataError`, or,
        with ``on_error``, is reported to it and gets ``None``.
        """
        opts = options or PredictOptions()
        docs: list[_Doc | None] = []
        texts = iter(self.text_tokenizer.pipe([i.text for i in inputs if i.tokenized is None]))
        for inp in inputs:
            tok = inp.tokenized if inp.tokenized is not None else next(texts)
            try:
                docs.append(_resolve(inp, tok, opts.given_entities))
            except DataError as e:
                raise_or_report(e, on_error)
                docs.append(None)
        return self._run(docs, opts)

    def _run(self, docs: list[_Doc | None], opts: PredictOptions) -> list[Prediction | None]:
        # every sentence of every document is one model input ("unit")
        units: list[tuple[int, int, int]] = []  # (doc, first word, end word)
        for d, doc in enumerate(docs):
            if doc is not None:
                units += [(d, s, e) for s, e in doc.tok.sentences]
        words = [docs[d].tok.words[s:e] for d, s, e in units]  # type: ignore[union-attr]
        # the sentences of one input are one document: a model with context_words reads them
        # around each other (a sentence too long alone is encoded alone and goes to the windows)
        documents: dict[int, list[int]] = {}
        for i, (d, _, _) in enumerate(units):
            documents.setdefault(d, []).append(i)
        encodings = encode_sentences(self.module, self.tokenizer, words, list(documents.values()))
        results: list[Any] = [None] * len(units)
        run = opts.with_(rel_filter_threshold=self.settings.resolve(opts.rel_filter_threshold))

        if opts.given_entities:
            local = [[(t, a - s, b - s) for t, a, b in docs[d].given if s <= a and b <= e]  # type: ignore[union-attr]
                     for d, s, e in units]
            results = predict_windowed(self.module, self.tokenizer, words, encodings, run, limit=self.max_length,
                                       given=local)
        else:
            short = [i for i, enc in enumerate(encodings) if len(enc.input_ids) <= self.max_length]
            long = [i for i, enc in enumerate(encodings) if len(enc.input_ids) > self.max_length]
            if short:
                for i, p in zip(short, predict_documents(self.module, self.tokenizer, [words[i] for i in short], run,
                                                         encodings=[encodings[i] for i in short])):
                    results[i] = p
            if long:
                for i, p in zip(long, predict_windowed(self.module, self.tokenizer, [words[i] for i in long],
                                                       [encodings[i] for i in long], run, limit=self.max_length)):
                    results[i] = p

        out: list[Prediction | None] = []
        per_doc: dict[int, list[tuple[int, Any]]] = {}
        for (d, s, _), r in zip(units, results):
            per_doc.setdefault(d, []).append((s, r))
        for d, doc in enumerate(docs):
            out.append(None if doc is None else _assemble(doc, per_doc.get(d, []), opts.given_entities))
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
    given = inp.entities or []
    if inp.tokenized is None:  # character spans: make them fall on word boundaries, then map to words
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
        ents = [entity_record(tok, t, a, b, None) for t, a, b in given]
        for s, p in sorted(parts, key=lambda x: x[0]):
            # the sentence's given entities, in input order, are p.entities
            index = [i for i, (_, a, b) in enumerate(given) if s <= a and b <= s + len(p.tokens)]
            rels += [PredictedRelation(r.type, index[r.head], index[r.tail], r.score) for r in p.relations]
    else:
        for s, p in sorted(parts, key=lambda x: x[0]):
            base = len(ents)
            ents += [entity_record(tok, e.type, s + e.start, s + e.end, e.score) for e in p.entities]
            rels += [PredictedRelation(r.type, base + r.head, base + r.tail, r.score) for r in p.relations]
    return Prediction(tok.text, tok.words, tok.offsets, tok.sentences, ents, rels, doc.extra)
