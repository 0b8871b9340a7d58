"""Typed settings stored in every model directory: what the model is (architecture) and
how it predicts by default (inference). Each default is written here and nowhere else."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticUndefined

from spert.errors import CheckpointError

PoolingMode = Literal["max", "mean", "sum"]
ContextMode = Literal["localized", "full", "cls", "none", "syntax", "localized+syntax"]
SYNTAX_CONTEXTS = ("syntax", "localized+syntax")  # contexts that read dependency parses (spert.data.syntax)
ContextPooling = Literal["same", "attention"]
# how a model directory is loaded for prediction (spert.infer.options.LoadOptions)
Backend = Literal["torch", "onnx"]
BACKENDS: tuple[str, ...] = get_args(Backend)
Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


def check_choice(value: object, choices: tuple[str, ...], what: str) -> None:
    """Refuse a backend or precision this spert does not know, by name (the loader's message)."""
    if value not in choices:
        raise CheckpointError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")


class ModelSettings(BaseModel):
    """What defines a SpERT model's architecture; stored in every checkpoint."""

    model_config = ConfigDict(extra="forbid")

    encoder: str = Field("all-MiniLM-L6-v2", description="Hugging Face model name or directory of the encoder")
    max_span_size: int = Field(10, ge=1, description="longest candidate span, in words")
    width_dim: int = Field(25, ge=1, description="size of the span-width embedding")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout before both classifiers")
    pooling: PoolingMode = Field("max", description="span and context pooling: max, mean or sum")
    context: ContextMode = Field("localized", description="relation context: localized, full, cls, none, syntax "
                                 "(the words on the dependency path between the two entities, from "
                                 "syntax_model's parser; not the spec's) or localized+syntax (both, side by side)")
    context_pooling: ContextPooling = Field("same", description="how the relation context's words are pooled: "
                                            "same (by `pooling`, as spans are: the spec) or attention (a learned "
                                            "softmax over the context's words of a score of each word; not the "
                                            "spec's, needs context localized or full)")
    context_words: int = Field(0, ge=0, description="document context: up to this many words of the surrounding "
                               "sentences of its document are encoded with each sentence, split left and right "
                               "(0: the sentence alone); spans and pooling stay inside the sentence, attention "
                               "(and so [CLS]) sees the window")
    syntax_model: str | None = Field(None, description="installed spaCy pipeline whose parser gives the dependency "
                                     "trees of context syntax (e.g. en_core_web_sm); recorded with its version in "
                                     "the model directory, needed to predict")
    freeze_encoder: bool = Field(False, description="keep the encoder's weights fixed")
    random_init: bool = Field(False, description="initialise the encoder randomly instead of pre-trained")
    head_init: Literal["bert", "torch"] = Field("bert", description="initialisation of the width embedding and "
                                                "classifiers: bert (N(0, initializer_range), zero bias; the "
                                                "reference's) or torch (PyTorch's layer defaults)")

    @model_validator(mode="after")
    def _check_context(self) -> "ModelSettings":
        if self.context_pooling == "attention" and self.context not in ("localized", "full"):
            raise ValueError(f"context_pooling attention pools the words of a context: it needs context "
                             f"localized or full, not {self.context}")
        if self.context in SYNTAX_CONTEXTS and not self.syntax_model:
            raise ValueError(f"context {self.context} reads dependency parses: give syntax_model, an installed spaCy "
                             "pipeline with a parser (e.g. en_core_web_sm)")
        if self.syntax_model and self.context not in SYNTAX_CONTEXTS:
            raise ValueError(f"syntax_model {self.syntax_model} is read only by context syntax or localized+syntax, "
                             f"not {self.context}")
        return self


class InferenceSettings(BaseModel):
    """How a model predicts unless told otherwise; stored in ``spert.json`` under ``inference``."""

    model_config = ConfigDict(extra="forbid")

    rel_filter_threshold: float = Field(0.4, ge=0, le=1, description="relation probability threshold")

    def resolve(self, rel_filter_threshold: float | None = None) -> float:
        """The threshold to use: the caller's if given, else the model's."""
        return self.rel_filter_threshold if rel_filter_threshold is None else float(rel_filter_threshold)


def default_of(settings: type[BaseModel], name: str) -> Any:
    """The default of setting ``name`` of ``settings`` (a settings class), for code that offers the
    setting elsewhere (a keyword default, a CLI option) without writing the value a second time."""
    default = settings.model_fields[name].default
    if default is PydanticUndefined:
        raise ValueError(f"{settings.__name__}.{name} has no default")
    return default
