"""A spaCy pipeline component that runs a trained SpERT model on the pipeline's own tokens.

    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("spert", config={"model": "runs/conll04/model"})
    doc = nlp("Ada Lovelace was born in London.")
    for span, score in zip(doc.spans["spert"], doc.spans["spert"].attrs["scores"]):
        print(span.text, span.label_, score)
    for rel in doc._.relations:
        print(rel.head.text, rel.label, rel.tail.text, rel.score)

The factory ``spert`` is registered through spaCy's ``spacy_factories`` entry point (see
pyproject.toml): installing spert is enough for ``nlp.add_pipe("spert", ...)`` and for
``spacy.load`` of a pipeline that contains it. Settings (``config={...}``):

* ``model``: a model directory (``spert train`` output, ``spert convert`` result or
  ``spert export onnx`` directory); ``backend``: "torch" or "onnx" (null: what the
  directory holds); ``device``: a torch device (null: the Python API's).
* ``rel_filter_threshold`` (null: the model's own), ``no_overlap`` (the ADE setting).
* ``batch_size``: sentences per model call (null: the Python API's). The documents that
  ``nlp.pipe(texts, batch_size=N)`` hands over together (N at a time) are predicted
  together: their sentences are sorted by length into batches of this size. With
  ``n_process`` > 1 every process runs its own copy of the model; PyTorch's threads do not
  survive a fork, so call ``torch.set_num_threads(1)`` first, or the workers can hang once the
  parent process has run the model.
* ``spans_key`` ("spert"), ``set_ents`` and ``overwrite_ents``: see below.

What it writes on each ``Doc``:

* ``doc.spans[spans_key]``: every predicted entity, nested and overlapping ones
  included, labelled with its type; ``doc.spans[spans_key].attrs["scores"]`` holds their
  scores in the same order (as spaCy's ``spancat`` does).
* ``doc.ents`` (unless ``set_ents`` is false): the entities that do not overlap, the
  longer of two overlapping ones first (``spacy.util.filter_spans``). Entities an
  earlier component set stay, and a SpERT entity that overlaps one is left out of
  ``doc.ents`` (it stays in the span group); with ``overwrite_ents`` SpERT's entities
  win and the earlier ones they overlap go.
* ``doc._.relations``: a list of :class:`Relation` (``head`` and ``tail`` spans labelled
  with their entity types, ``label``, ``score``), in the model's order. The extension is
  registered when the component is created; the relations are kept in ``doc.user_data``
  as plain values, so ``Doc.to_bytes`` and ``DocBin(store_user_data=True)`` keep them.

Words and sentences: SpERT sees the pipeline's tokens, less those that hold no visible
character (the whitespace tokens spaCy makes for runs of spaces and newlines; the rule of
:func:`spert.data.text.is_word`), so no entity starts or ends on one; sentences are the
doc's (parser, senter, sentencizer or set by hand). A doc without sentence boundaries is
split by spaCy's rule-based sentencizer, as ``spert predict`` splits raw text, without
writing the boundaries to the doc. With ``spacy.blank("en")`` the component therefore
sees what ``SpERT.predict(text)`` sees and gives the same results. Sentences longer than
the encoder takes are predicted in windows, as the Python API does.

Saving: ``nlp.to_disk(path)`` copies the model directory into the component's directory
(``path/NAME/model``) and ``spacy.load(path)`` loads it from there, never from the path in
the config, so a pipeline made by ``spacy package`` carries its model. Otherwise the model
loads on first use (or by the component's ``load()``; its ``model`` attribute is there once loaded). ``nlp.to_bytes`` cannot carry a model directory: exclude the component
(``exclude=["spert"]``) or use ``to_disk``.

:func:`render_html` draws docs as ``spert render`` does (same templates and CSS);
``displacy.render(doc, style="ent")`` shows ``doc.ents`` and ``style="span"`` with
``options={"spans_key": "spert"}`` the nested entities.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Literal, Optional, Sequence

from spacy.language import Language
from spacy.pipeline import Sentencizer
from spacy.tokens import Doc, Span, SpanGroup
from spacy.util import filter_spans, minibatch

from spert.data.records import Prediction, PredictedEntity, PredictedRelation
from spert.data.text import is_word
from spert.errors import CheckpointError, ConfigError, SpertError
from spert.infer.options import LoadOptions, PredictOptions

# Every spaCy pipeline imports this module through the entry point: the model code (transformers)
# loads only when a pipeline uses the component.
if TYPE_CHECKING:
    from spert.infer.extractor import SpERT

FACTORY = "spert"
SPANS_KEY = "spert"  # default doc.spans key
MODEL_DIR = "model"  # the model directory inside the component's directory of a saved pipeline
_RELATIONS = "spert.relations"  # doc.user_data key of the relations, as plain (serialisable) values
_SENTENCIZER = Sentencizer()  # the rule-based splitter spert predict uses when a doc has no sentences


@dataclass(frozen=True)
class Relation:
    """A predicted relation: ``head`` and ``tail`` are spans labelled with their entity types."""

    head: Span
    tail: Span
    label: str
    score: float | None


def doc_relations(doc: Doc) -> list[Relation]:
    """``doc._.relations``: the stored relations as spans of ``doc``."""
    return [Relation(Span(doc, hs, he, label=hl), Span(doc, ts, te, label=tl), label, score)
            for hs, he, hl, ts, te, tl, label, score in doc.user_data.get(_RELATIONS, ())]


def _register_extension() -> None:
    if Doc.has_extension("relations"):
        getter = Doc.get_extension("relations")[2]
        if getattr(getter, "__qualname__", None) != doc_relations.__qualname__ or \
                getattr(getter, "__module__", None) != __name__:
            raise ConfigError("the Doc extension 'relations' is registered by another package; the spert "
                              "component needs it for doc._.relations")
        return
    Doc.set_extension("relations", getter=doc_relations)


# -- the doc as SpERT sees it ----------------------------------------------------------------


def doc_words(doc: Doc) -> tuple[list[int], list[tuple[int, int]]]:
    """The token index of every word (a token that holds a visible character) and the
    sentences as word ranges ``[start, end)`` (sentences without words left out)."""
    if doc.has_annotation("SENT_START"):
        bounds = [(s.start, s.end) for s in doc.sents]
    else:
        starts = [i for i, start in enumerate(_SENTENCIZER.predict([doc])[0]) if start]
        bounds = list(zip(starts, starts[1:] + [len(doc)]))
    words: list[int] = []
    sentences: list[tuple[int, int]] = []
    for a, b in bounds:
        first = len(words)
        words += [i for i in range(a, b) if is_word(doc[i].text)]
        if len(words) > first:
            sentences.append((first, len(words)))
    return words, sentences


def _record(doc: Doc, words: list[int], sentences: list[tuple[int, int]]) -> dict[str, Any]:
    """The Python API's input for one doc: its words and sentences (pre-tokenized)."""
    return {"tokens": [doc[i].text for i in words], "sentences": [list(s) for s in sentences]}


def merge_ents(earlier: Sequence[Span], spert: Sequence[Span], overwrite: bool) -> list[Span]:
    """``doc.ents`` from an earlier component's entities and SpERT's (see the module's docs)."""
    chosen = filter_spans(spert)

    def overlaps(span: Span, others: Iterable[Span]) -> bool:
        return any(span.start < o.end and o.start < span.end for o in others)

    if overwrite:
        kept = [e for e in earlier if not overlaps(e, chosen)] + chosen
    else:
        kept = list(earlier) + [s for s in chosen if not overlaps(s, earlier)]
    return sorted(kept, key=lambda s: s.start)


# -- the component -----------------------------------------------------------------------------


class SpertComponent:
    """Entities and relations of a trained SpERT model on each ``Doc`` (see the module's docs)."""

    def __init__(self, nlp: Language, name: str, *, model: str, backend: str | None = None,
                 device: str | None = None, rel_filter_threshold: float | None = None, no_overlap: bool = False,
                 batch_size: int | None = None, spans_key: str = SPANS_KEY, set_ents: bool = True,
                 overwrite_ents: bool = False) -> None:
        where = f"spert component {name!r}"
        # only the settings given: the options' and the model directory's defaults hold for the rest
        self.load_options: LoadOptions = LoadOptions.make(where, backend=backend, device=device)
        self.predict_options: PredictOptions = PredictOptions.make(
            where, rel_filter_threshold=rel_filter_threshold, no_overlap=no_overlap, batch_size=batch_size)
        self.name, self.source = name, Path(model)
        self.spans_key, self.set_ents, self.overwrite_ents = spans_key, set_ents, overwrite_ents
        self._model: SpERT | None = None
        _register_extension()

    def load(self) -> "SpERT":
        """The SpERT model, loaded now if it is not yet (the first doc or :meth:`from_disk` loads it too)."""
        if self._model is None:
            self._model = self._load(self.source)
        return self._model

    @property
    def model(self) -> "SpERT":
        """The loaded SpERT model. Reading it never loads one: spaCy probes components with protocol
        checks (``isinstance(proc, ListenedToComponent)`` in ``spacy.load``) that read every member, and a
        probe that loaded the config's path would fail when that directory is gone (the saved pipeline
        loads its own copy in :meth:`from_disk`). Until then it is missing, as for ``hasattr``."""
        if self._model is None:
            raise AttributeError(f"spert component {self.name!r}: the model is not loaded yet; call .load() "
                                 "or run the pipeline on a doc")
        return self._model

    def _load(self, path: Path) -> "SpERT":
        from spert.infer.extractor import SpERT

        return SpERT.load(path, self.load_options)

    @property
    def labels(self) -> tuple[str, ...]:
        """The entity types the model predicts; empty until the model is loaded (spaCy reads the labels
        for the pipeline's meta before :meth:`from_disk`: reading them must not load the config's path)."""
        return tuple(self._model.entity_types) if self._model is not None else ()

    @property
    def relation_labels(self) -> tuple[str, ...]:
        return tuple(self._model.relation_types) if self._model is not None else ()

    def __call__(self, doc: Doc) -> Doc:
        self.set_annotations([doc], self.predict([doc]))
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Predict ``batch_size`` docs at a time (``nlp.pipe`` passes its own batch size)."""
        for batch in minibatch(stream, size=batch_size):
            self.set_annotations(batch, self.predict(batch))
            yield from batch

    def predict(self, docs: Sequence[Doc]) -> list[tuple[list[int], Prediction]]:
        """Every doc's words (token indices) and the model's prediction on them, without changing the docs."""
        views = [doc_words(doc) for doc in docs]
        preds = self.load().predict([_record(doc, *view) for doc, view in zip(docs, views)], self.predict_options)
        return [(words, pred) for (words, _), pred in zip(views, preds)]

    def set_annotations(self, docs: Sequence[Doc], predictions: Sequence[tuple[list[int], Prediction]]) -> None:
        for doc, (words, pred) in zip(docs, predictions):
            spans = [Span(doc, words[e.start], words[e.end - 1] + 1, label=e.type) for e in pred.entities]
            doc.spans[self.spans_key] = SpanGroup(doc, name=self.spans_key, spans=spans,
                                                  attrs={"scores": [e.score for e in pred.entities]})
            doc.user_data[_RELATIONS] = [
                [h.start, h.end, h.label_, t.start, t.end, t.label_, r.type, r.score]
                for r in pred.relations for h, t in [(spans[r.head], spans[r.tail])]]
            if self.set_ents:
                doc.ents = merge_ents(doc.ents, spans, self.overwrite_ents)

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        """Copy the model directory to ``path/model`` (nothing else: the settings are in the config)."""
        target = Path(path) / MODEL_DIR
        if target.exists() and target.resolve() == self.source.resolve():
            return  # saved where it was loaded from
        if not self.source.is_dir():
            raise CheckpointError(f"spert component {self.name!r}: model directory {self.source} not found, "
                                  f"cannot save the pipeline")
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.source, target)

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> "SpertComponent":
        self.source = Path(path) / MODEL_DIR
        self._model = self._load(self.source)
        return self

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        raise self._no_bytes()

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> "SpertComponent":
        raise self._no_bytes()

    def _no_bytes(self) -> SpertError:
        return SpertError(f"the spert component {self.name!r} keeps its model as a directory: save the pipeline "
                          f"with nlp.to_disk(path), or leave the component out with exclude=[{self.name!r}]")


@Language.factory(FACTORY, assigns=["doc.ents", "doc.spans", "doc._.relations"],
                  default_config={"backend": None, "device": None, "rel_filter_threshold": None,
                                  "no_overlap": False, "batch_size": None, "spans_key": SPANS_KEY,
                                  "set_ents": True, "overwrite_ents": False})
def make_spert(nlp: Language, name: str, model: str, backend: Optional[Literal["torch", "onnx"]],
               device: Optional[str], rel_filter_threshold: Optional[float], no_overlap: bool,
               batch_size: Optional[int], spans_key: str, set_ents: bool, overwrite_ents: bool) -> SpertComponent:
    """The ``spert`` factory (spaCy validates the settings' types from this signature)."""
    return SpertComponent(nlp, name, model=model, backend=backend, device=device,
                          rel_filter_threshold=rel_filter_threshold, no_overlap=no_overlap, batch_size=batch_size,
                          spans_key=spans_key, set_ents=set_ents, overwrite_ents=overwrite_ents)


# -- back to records: rendering ------------------------------------------------------------------


def doc_to_prediction(doc: Doc, spans_key: str = SPANS_KEY) -> Prediction:
    """The doc's SpERT entities and relations as a :class:`Prediction` record (words: the doc's
    words as the component sees them), as ``SpERT.predict`` returns it for the same words."""
    words, sentences = doc_words(doc)
    index = {t: w for w, t in enumerate(words)}
    group = doc.spans[spans_key] if spans_key in doc.spans else SpanGroup(doc)
    scores = group.attrs.get("scores") or [None] * len(group)
    entities: list[PredictedEntity] = []
    position: dict[tuple[int, int, str], int] = {}

    def entity(span: Span, score: float | None) -> int:
        key = (span.start, span.end, span.label_)
        if key not in position:
            inside = [index[i] for i in range(span.start, span.end) if i in index]
            if not inside:
                raise SpertError(f"span {span.text!r} ({span.start}, {span.end}) holds no word")
            position[key] = len(entities)
            entities.append(PredictedEntity(span.label_, inside[0], inside[-1] + 1, span.start_char,
                                            span.end_char, span.text, score))
        return position[key]

    for span, score in zip(group, scores):
        entity(span, score)
    relations = [PredictedRelation(r.label, entity(r.head, None), entity(r.tail, None), r.score)
                 for r in doc_relations(doc)]
    offsets = tuple((doc[i].idx, doc[i].idx + len(doc[i].text)) for i in words)
    return Prediction(doc.text, tuple(doc[i].text for i in words), offsets, tuple(sentences), entities, relations)


def render_html(docs: Iterable[Doc], *, spans_key: str = SPANS_KEY, **options: Any) -> str:
    """One HTML page of the docs' entities and relations, as ``spert render`` draws predictions;
    ``options`` go to :func:`spert.eval.render.render_predictions` (``title``, ``limit``)."""
    # imported here, not at the top: every spaCy pipeline imports this module through the entry point
    from spert.eval.render import render_predictions

    return render_predictions((doc_to_prediction(d, spans_key) for d in docs), **options)
