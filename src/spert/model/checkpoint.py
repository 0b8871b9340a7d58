"""Self-describing model directories.

A model directory holds everything needed to rebuild and run the model:

  model.safetensors   all weights (encoder + heads), no pickle
  spert.json          format version, model settings, type schema, inference defaults
  config.json         the encoder's Hugging Face config (architecture, no download needed)
  tokenizer files     the encoder's tokenizer

An ONNX export (``spert export onnx``) is a model directory too: ``encoder.onnx`` holds
the encoder, ``model.safetensors`` only the heads, and ``spert.json`` records under
``"backend"`` what the graph is (see :mod:`spert.model.onnx`). :func:`load_model` loads
either; ``backend`` says which the caller expects.

Directories are written atomically (a temporary directory renamed into place).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, PreTrainedTokenizerFast

from spert.atomic import atomic_directory
from spert.errors import CheckpointError, EncoderError
from spert.model.encoding import load_tokenizer
from spert.model.dependency import check_parser, parser_version
from spert.model.network import SpERTModel, encoder_from_config, load_encoder
from spert.model.onnx import OnnxEncoder, OnnxRecord
from spert.model.settings import (BACKENDS, PRECISIONS, Backend, InferenceSettings, ModelSettings, Precision,
                                  check_choice)
from spert.runtime import package_version
from spert.data.schema import TypeSchema

FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
META = "spert.json"


def build_model(settings: ModelSettings, schema: TypeSchema, encoder_source: str, *,
                pack_training: bool = True) -> SpERTModel:
    """A fresh model: pre-trained (or randomly initialised) encoder, new heads."""
    return SpERTModel(settings, schema, load_encoder(encoder_source, settings.random_init),
                      pack_training=pack_training)


def write_model_files(model: SpERTModel, tokenizer, path: Path, inference: InferenceSettings | None = None,
                      onnx: OnnxRecord | None = None) -> None:
    """Write a model directory's files into ``path`` (not atomic on its own). With ``onnx`` (an
    export, whose ``encoder.onnx`` the caller writes), the weights file holds the heads only."""
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
             if onnx is None or not k.startswith("encoder.")}
    save_file(state, str(path / WEIGHTS), metadata={"format": "pt", "spert_format_version": str(FORMAT_VERSION)})
    model.encoder.config.save_pretrained(path)
    tokenizer.save_pretrained(path)
    meta: dict[str, Any] = {"spert_format_version": FORMAT_VERSION, "model": model.settings.model_dump(),
                            "types": model.schema.to_json(), "inference": (inference or InferenceSettings()).model_dump()}
    if model.settings.syntax_model is not None:  # the parser the model's context reads, to refuse predicting without it
        meta["syntax"] = {"model": model.settings.syntax_model, "version": parser_version(model.settings.syntax_model)}
    if onnx is not None:
        meta["backend"] = onnx.to_json()
    (path / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def save_model(model: SpERTModel, tokenizer, path: str | Path, inference: InferenceSettings | None = None) -> None:
    with atomic_directory(path) as tmp:
        write_model_files(model, tokenizer, tmp, inference)


def read_meta(path: str | Path) -> dict[str, Any]:
    """A model directory's ``spert.json`` as stored (its format version checked); :func:`read_model_meta`
    reads it typed."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a model directory")
    meta_file = path / META
    if not meta_file.exists():
        hint = " (a checkpoint of the authors' implementation? convert it with 'spert convert')" \
            if (path / "pytorch_model.bin").exists() else ""
        raise CheckpointError(f"{path}: no {META}; not a spert model directory{hint}")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{meta_file}: not valid JSON ({e.msg})") from None
    version = meta.get("spert_format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{meta_file}: format version {version!r}; this spert reads version {FORMAT_VERSION}")
    return meta


@dataclass(frozen=True)
class ModelMeta:
    """What a model directory's ``spert.json`` says, typed: the model's settings, its types, how it
    predicts by default, and (an ONNX export) what its graph is."""

    settings: ModelSettings
    schema: TypeSchema
    inference: InferenceSettings
    onnx: OnnxRecord | None  # None: a PyTorch model directory
    syntax_version: str | None = None  # the version of settings.syntax_model's pipeline it was trained with

    @property
    def backend(self) -> Backend:
        return "torch" if self.onnx is None else "onnx"


def read_model_meta(path: str | Path) -> ModelMeta:
    """A model directory's ``spert.json``, typed; an error names the file and what is wrong."""
    path = Path(path)
    meta = read_meta(path)
    onnx = stored_backend(meta, path)
    try:
        return ModelMeta(ModelSettings(**meta["model"]), TypeSchema.from_json(meta["types"], path / META),
                         InferenceSettings(**meta.get("inference", {})), onnx,
                         (meta.get("syntax") or {}).get("version"))
    except ValidationError as e:
        raise CheckpointError(f"{path / META}: {_settings_problem(e)}") from None
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{path}: cannot rebuild the model: {str(e).splitlines()[0]}") from None


def stored_backend(meta: dict[str, Any], path: Path) -> OnnxRecord | None:
    """The ONNX record of an exported directory, or None for a PyTorch one."""
    record = meta.get("backend")
    if record is None or record.get("name", "torch") == "torch":
        return None
    if record.get("name") != "onnx":
        raise CheckpointError(f"{path / META}: unknown backend {record.get('name')!r}")
    return OnnxRecord.from_json(record, path / META)


class LoadedModel(NamedTuple):
    """A model directory loaded: the network, its tokenizer and its inference defaults."""

    module: SpERTModel
    tokenizer: PreTrainedTokenizerFast
    inference: InferenceSettings


def load_model(path: str | Path, device: str | torch.device = "cpu", backend: Backend | None = None,
               precision: Precision = "fp32") -> LoadedModel:
    """A model directory, loaded and in eval mode on ``device``; nothing is downloaded.

    ``backend``: ``"torch"`` or ``"onnx"`` to insist on one (an error names the mismatch and
    how to fix it); ``None`` loads what the directory holds. ``precision``: ``"bf16"`` predicts
    under bf16 autocast (PyTorch models only; on a CPU without bf16 instructions it is slower).
    """
    path = Path(path)
    meta = read_model_meta(path)
    if backend is not None:
        check_choice(backend, BACKENDS, "backend")
    check_choice(precision, PRECISIONS, "precision")
    held = meta.backend
    if precision != "fp32" and held == "onnx":
        raise CheckpointError(f"{path}: an ONNX export runs in ONNX Runtime's own precision; precision {precision} "
                              f"is for the PyTorch model directory it was exported from")
    if backend is not None and backend != held:
        hint = (f"export it first: spert export onnx --model {path} --output DIR" if backend == "onnx"
                else "load the PyTorch model directory it was exported from")
        raise CheckpointError(f"{path}: holds a {held} model, not {backend}; {hint}")
    if meta.settings.syntax_model is not None:  # before any weights load
        check_parser(meta.settings.syntax_model, meta.syntax_version, path)
    config = read_encoder_config(path)
    if meta.onnx is None:
        encoder = encoder_from_config(config)
    else:
        encoder = OnnxEncoder(path / meta.onnx.encoder_file, config, device=str(device))
    model = SpERTModel(meta.settings, meta.schema, encoder)
    load_weights(model, path)
    model.to(device).eval()
    model.precision = precision
    try:
        tokenizer = load_tokenizer(str(path))
    except EncoderError as e:
        raise CheckpointError(f"{path / 'tokenizer.json'}: {e}") from None
    return LoadedModel(model, tokenizer, meta.inference)


def read_encoder_config(path: Path) -> Any:
    """A model directory's encoder configuration (``config.json``); an error names the file and what
    is wrong with it, and a directory without its tokenizer is refused here too, before any weights
    load (transformers would otherwise look for one elsewhere)."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{config_file}: missing (the encoder's configuration, written with the model)")
    if not (path / "tokenizer.json").is_file():
        raise CheckpointError(f"{path / 'tokenizer.json'}: missing (the encoder's fast tokenizer, written with the "
                              f"model); copy the whole model directory")
    try:
        return AutoConfig.from_pretrained(path)
    except (KeyError, ValueError, OSError) as e:
        raise CheckpointError(f"{config_file}: cannot rebuild the encoder from it: {str(e).splitlines()[0]}") from None


def _settings_problem(e: ValidationError) -> str:
    """What is wrong with a model directory's settings; a setting this spert does not know means a newer one wrote it."""
    err = e.errors()[0]
    key = ".".join(str(x) for x in err["loc"])
    if err["type"] == "extra_forbidden":
        return (f"setting '{key}' is unknown to this spert ({package_version()}): the model was written by a newer "
                f"version; upgrade spert to load it")
    return f"setting '{key}': {err['msg']}"


def load_weights(model: SpERTModel, path: Path) -> None:
    """Read a model directory's ``model.safetensors`` into ``model``; an error says what does not fit."""
    weights = path / WEIGHTS
    if not weights.exists():
        raise CheckpointError(f"{path}: missing {WEIGHTS}")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as e:  # truncated, garbage, empty: the header cannot be read
        raise CheckpointError(f"{weights}: not a readable safetensors file ({str(e).splitlines()[0]}); it is damaged "
                              f"or was not written completely, so copy or train the model again") from None
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # a tensor of another shape: the first line names it
        detail = next((line.strip() for line in str(e).splitlines() if "size mismatch" in line), str(e))
        raise CheckpointError(f"{weights}: weights do not fit the model ({detail})") from None
    if missing or unexpected:
        kind = getattr(getattr(model.encoder, "config", None), "model_type", "?")
        raise CheckpointError(f"{weights}: weights do not fit the model that config.json describes (a {kind} "
                              f"encoder; missing: {missing[:3]}, unexpected: {unexpected[:3]})")


# what an encoder's config must share with the one a run starts from (the weights' shapes and the ids' meaning)
_SAME_ENCODER = ("model_type", "vocab_size", "hidden_size", "num_hidden_layers", "max_position_embeddings")


def check_start_model(path: str | Path, schema: TypeSchema, encoder_config: Any) -> None:
    """Refuse a model directory a run cannot start from (``init_model``), before any weights are
    read: it must be a PyTorch model directory with the run's types, and its encoder of the same
    kind and size as the run's (the same tokenizer's ids). The error names the setting and what differs."""
    try:
        _check_start_model(Path(path), schema, encoder_config)
    except CheckpointError as e:
        raise CheckpointError(f"init_model: {e}") from None


def _check_start_model(path: Path, schema: TypeSchema, encoder_config: Any) -> None:
    meta = read_model_meta(path)
    if meta.onnx is not None:
        raise CheckpointError(f"{path}: an ONNX export; start from the PyTorch model directory it was exported from")
    theirs = meta.schema.to_json()
    if theirs != schema.to_json():
        raise CheckpointError(f"{path}: its types ({_types(theirs)}) are not the types file's "
                              f"({_types(schema.to_json())}); a run starts from a model of the same types")
    config = read_encoder_config(path).to_dict()
    ours = encoder_config.to_dict()
    differ = [f"{k} {config.get(k)!r} against {ours.get(k)!r}" for k in _SAME_ENCODER if config.get(k) != ours.get(k)]
    if differ:
        raise CheckpointError(f"{path}: its encoder is not the run's encoder ({'; '.join(differ)}); set the run's "
                              f"encoder to the one the model was trained from")


def _types(schema: dict[str, Any]) -> str:
    return f"entities {', '.join(schema['entities']) or '-'}; relations {', '.join(schema['relations']) or '-'}"
