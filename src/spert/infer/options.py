"""The options of a prediction, typed and frozen, each default written here once.

Two groups travel together, as Hugging Face's ``GenerationConfig`` does for generation:

* :class:`LoadOptions`: how a model directory is loaded (backend, device, precision) and how
  raw text is split into words and sentences (language or spaCy pipeline). They hold for
  every prediction of the loaded model: :meth:`spert.infer.extractor.SpERT.load`, ``spert
  serve``, the Ray actors and the spaCy component take them.
* :class:`PredictOptions`: what each prediction call decides (relation threshold, the
  no-overlap rule, given entities, batch and chunk sizes). The Python API, streaming
  ``spert predict``, the Ray path, the server's micro-batches (whose key is the options: equal
  options share model calls), the Label Studio backend and the spaCy component take them.

Both are frozen pydantic models: invalid values are refused where they are made, a copy with
changes is :meth:`PredictOptions.with_` / ``model_copy``, and they hash (the server's batch key).
The command line takes its defaults and help texts from the fields (:func:`default`, :func:`describe`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from spert.errors import ConfigError
from spert.model.settings import BACKENDS, PRECISIONS, Backend, Precision, check_choice


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def make(cls, where: str | None = None, **values: Any) -> Any:
        """The options with ``values`` (None: the default), refused with one line naming the option
        (after ``where``, what gave the values; default: the class's name)."""
        try:
            return cls(**{k: v for k, v in values.items() if v is not None})
        except ValidationError as e:
            err = e.errors()[0]
            name = ".".join(str(x) for x in err["loc"])
            raise ConfigError(f"{where or cls.__name__}: {name}: {err['msg']}") from None

    def with_(self, **changes: Any) -> Any:
        """A copy with the changes that are not None, checked like a new one."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        return self.make(**{**self.model_dump(), **changes})


class PredictOptions(_Options):
    """What one prediction call decides; the defaults are the Python API's and the command line's."""

    rel_filter_threshold: float | None = Field(None, ge=0, le=1, description="relation threshold (None: the "
                                                                             "model's own)")
    no_overlap: bool = Field(False, description="ADE setting: drop relations between overlapping entities, and "
                                                "entities overlapping another unless a relation that stays "
                                                "needs them")
    given_entities: bool = Field(False, description="take the entities from the input records and predict only "
                                                    "relations between them")
    batch_size: int = Field(8, ge=1, description="sentences per forward pass")
    chunk_size: int = Field(256, ge=1, description="inputs read, predicted and written at a time when streaming")


class LoadOptions(_Options):
    """How a model is loaded and how its raw text is split; fixed for the loaded model's life."""

    backend: Backend | None = Field(None, description="torch or onnx (None: what the model directory holds)")
    device: str = Field("cpu", description="torch device of the model (cpu, cuda, cuda:1, ...)")
    precision: Precision = Field("fp32", description="fp32, or bf16: predict under bf16 autocast")
    language: str | None = Field(None, description="language of raw text: a spaCy language code or an installed "
                                                   "pipeline's name (None: English)")
    spacy_model: str | None = Field(None, description="installed spaCy pipeline for words and sentences (the "
                                                      "older spelling of language; give one of the two)")

    @field_validator("backend", mode="before")
    @classmethod
    def _known_backend(cls, value: object) -> object:
        if value is not None:
            check_choice(value, BACKENDS, "backend")  # the loader's own message and error
        return value

    @field_validator("precision", mode="before")
    @classmethod
    def _known_precision(cls, value: object) -> object:
        check_choice(value, PRECISIONS, "precision")
        return value

    @model_validator(mode="after")
    def _one_pipeline(self) -> LoadOptions:
        self.text_pipeline()  # language and spacy_model both given: refused by name, before any loading
        return self

    def text_pipeline(self) -> str | None:
        """The spaCy pipeline raw text is split with (:func:`spert.data.text.text_pipeline`)."""
        from spert.data.text import text_pipeline

        return text_pipeline(self.language, self.spacy_model)

    def resolved(self) -> LoadOptions:
        """The same options with language and spacy_model folded into one pipeline name (what a Ray actor
        or a worker process is handed, so that both sides split text alike)."""
        return self.model_copy(update={"language": None, "spacy_model": self.text_pipeline()})


def default(options: type[_Options], name: str) -> Any:
    """A field's default (the command line's option defaults come from here)."""
    return options.model_fields[name].default


def describe(options: type[_Options], name: str) -> str:
    """A field's description (the command line's help texts)."""
    return options.model_fields[name].description or ""
