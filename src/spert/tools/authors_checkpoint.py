"""Checkpoints of the authors' implementation to our model directories (``spert convert``).

The authors' model directory (SPERT_SPEC.md, last section) holds the encoder's
``config.json`` (plus ``"spert_version"``), the tokenizer's files (``vocab.txt``,
often no fast ``tokenizer.json``) and ``pytorch_model.bin``: a pickled state dict
with the encoder under ``bert.``, ``entity_classifier.*``, ``rel_classifier.*``
and ``size_embeddings.weight``. The published CoNLL04, SciERC and ADE models have
this form.

The weights are read with ``torch.load(weights_only=True)``: tensors and plain
containers only, never arbitrary pickled objects. The encoder's unused pooler
and the ``position_ids`` buffer are dropped; every other key must map onto our
model, and every shape must fit, or nothing is written.

Their checkpoints do not know their types. ``types`` gives the dataset's types
file (the authors' format) and must declare as many entity and relation types as
the classifiers have outputs. Without it, a ``*types*.json`` inside the old
directory is used; failing that, placeholder names (``ENTITY_1``, ``RELATION_1``,
...) with a warning, so the model still runs.

Casing: the fast tokenizer is built from the checkpoint's own vocabulary with its
``do_lower_case``, except that a vocabulary without uppercase entries is always
lowercased (the authors' code defaulted to no lowercasing, which turns most words
into the unknown token of an uncased vocabulary); ``lowercase`` overrides both.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoTokenizer

from spert.errors import CheckpointError, DataError
from spert.model.checkpoint import save_model
from spert.model.network import SpERTModel, encoder_from_config
from spert.model.settings import InferenceSettings, ModelSettings, default_of
from spert.model.spans import MAX_WIDTH_EMBEDDINGS
from spert.data.schema import EntityType, RelationType, TypeSchema, load_types

log = logging.getLogger(__name__)

_DROPPED = ("bert.pooler.", "bert.embeddings.position_ids")


@dataclass(frozen=True)
class ConversionReport:
    source: Path
    target: Path
    entity_types: tuple[str, ...]
    relation_types: tuple[str, ...]
    types_from: str  # the types file used, or "placeholders"
    lowercase: bool
    dropped: tuple[str, ...]  # checkpoint keys not carried over


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors, unpickled safely (``weights_only``) or from safetensors."""
    weights = path / "pytorch_model.bin"
    if (path / "model.safetensors").exists() and not weights.exists():
        return load_file(str(path / "model.safetensors"))
    if not weights.exists():
        raise CheckpointError(f"{path}: no pytorch_model.bin; not a checkpoint of the authors' SpERT")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- any unpickling failure means "not a plain state dict"
        raise CheckpointError(f"{weights}: cannot be read as a plain state dict (weights only): "
                              f"{str(e).splitlines()[0]}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{weights}: not a state dict of tensors")
    return state


def map_keys(state: dict[str, torch.Tensor], path: Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Their key names to ours: (mapped state, dropped keys)."""
    out, dropped, unknown = {}, [], []
    for key, value in state.items():
        if key.startswith(_DROPPED):
            dropped.append(key)
            continue
        if key.startswith("bert."):
            new = "encoder." + key[len("bert."):]
            # checkpoints of old transformers versions name LayerNorm parameters gamma and beta
            new = new.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        elif key == "size_embeddings.weight":
            new = "width_embedding.weight"
        elif key.split(".")[0] in ("entity_classifier", "rel_classifier"):
            new = key
        else:
            unknown.append(key)
            continue
        out[new] = value
    if unknown:
        raise CheckpointError(f"{path}: unexpected weights {unknown[:5]}; not a checkpoint of the authors' SpERT")
    for key in ("width_embedding.weight", "entity_classifier.weight", "rel_classifier.weight"):
        if key not in out:
            raise CheckpointError(f"{path}: the checkpoint has no {key.replace('width_embedding', 'size_embeddings')}")
    return out, dropped


def _encoder_config(path: Path):
    try:
        cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no config.json") from None
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}/config.json: cannot read: {e}") from None
    if "spert_version" not in cfg:
        log.warning("%s/config.json has no 'spert_version'; converting it as the authors' format anyway", path)
    cfg.pop("spert_version", None)
    model_type = cfg.pop("model_type", "bert")  # the authors' SpERT is built on BertModel
    cfg["architectures"] = None
    try:
        return AutoConfig.for_model(model_type, **cfg)
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"{path}/config.json: {str(e).splitlines()[0]}") from None


def _types(path: Path, types: str | Path | None, n_entities: int, n_relations: int) -> tuple[TypeSchema, str]:
    if types is None:
        found = sorted(path.glob("*types*.json"))
        if found:
            types = found[0]
    if types is None:
        log.warning("no types file given (--types): the %d entity and %d relation types get placeholder names; "
                    "pass the dataset's types file for real names", n_entities, n_relations)
        schema = TypeSchema(tuple(EntityType(f"ENTITY_{i}", f"E{i}", f"entity type {i}")
                                  for i in range(1, n_entities + 1)),
                            tuple(RelationType(f"RELATION_{i}", f"R{i}", f"relation type {i}")
                                  for i in range(1, n_relations + 1)))
        return schema, "placeholders"
    schema = load_types(types)
    if schema.num_entity_classes != n_entities + 1 or schema.num_relation_types != n_relations:
        raise DataError(types, f"declares {len(schema.entities)} entity and {schema.num_relation_types} relation "
                        f"types; the checkpoint's classifiers have {n_entities} entity types (plus 'none') and "
                        f"{n_relations} relation types")
    return schema, str(types)


def _vocab_is_cased(tokenizer) -> bool:
    """True if the vocabulary has uppercase entries beyond special tokens such as [CLS]."""
    upper = sum(1 for t in tokenizer.get_vocab() if any(c.isupper() for c in t) and not t.startswith("["))
    return upper > 100


def load_old_tokenizer(path: Path, lowercase: bool | None = None):
    """The checkpoint's tokenizer as a fast tokenizer, with the right casing: (tokenizer, lowercase)."""
    config_file = path / "tokenizer_config.json"
    configured = None
    if config_file.exists():
        try:
            configured = json.loads(config_file.read_text(encoding="utf-8")).get("do_lower_case")
        except (OSError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{config_file}: cannot read: {e}") from None

    def load(**kw):
        try:
            return AutoTokenizer.from_pretrained(str(path), use_fast=True, **kw)
        except (OSError, ValueError, TypeError) as e:
            raise CheckpointError(f"{path}: cannot build a fast tokenizer from the checkpoint's files: "
                                  f"{str(e).splitlines()[0]}") from None

    tok = load()
    if lowercase is None:
        cased_vocab = _vocab_is_cased(tok)
        lowercase = bool(configured) if configured is not None else not cased_vocab
        if not lowercase and not cased_vocab:
            log.warning("%s: the tokenizer is set not to lowercase, but its vocabulary is uncased; lowercasing "
                        "(override with --lowercase/--no-lowercase)", path)
            lowercase = True
    tok = load(do_lower_case=lowercase)
    if not getattr(tok, "is_fast", False):
        raise CheckpointError(f"{path}: no fast tokenizer could be built; SpERT needs one")
    probe = "".join(tok.tokenize("Zq"))
    if lowercase != (probe == probe.lower()):
        raise CheckpointError(f"{path}: the tokenizer ignores the casing setting (lowercase={lowercase}); "
                              "remove its tokenizer.json to rebuild it from vocab.txt")
    return tok, lowercase


def convert_checkpoint(old: str | Path, new: str | Path, *, types: str | Path | None = None,
                       max_span_size: int = default_of(ModelSettings, "max_span_size"), rel_filter_threshold: float | None = None,
                       lowercase: bool | None = None) -> ConversionReport:
    """Convert the authors' checkpoint in ``old`` into our model directory ``new`` (written atomically)."""
    old, new = Path(old), Path(new)
    if not old.is_dir():
        raise CheckpointError(f"{old}: not a directory")
    state, dropped = map_keys(read_state_dict(old), old)
    config = _encoder_config(old)
    H = config.hidden_size
    rows, D = state["width_embedding.weight"].shape
    C, ent_in = state["entity_classifier.weight"].shape
    R, rel_in = state["rel_classifier.weight"].shape
    if rows != MAX_WIDTH_EMBEDDINGS or ent_in != 2 * H + D or rel_in != 3 * H + 2 * D:
        raise CheckpointError(f"{old}: head shapes do not fit SpERT with hidden size {H} and width embedding "
                              f"{D}: size_embeddings {rows}x{D}, entity_classifier in {ent_in} (expected "
                              f"{2 * H + D}), rel_classifier in {rel_in} (expected {3 * H + 2 * D})")
    schema, types_from = _types(old, types, C - 1, R)
    tokenizer, lower = load_old_tokenizer(old, lowercase)

    settings = ModelSettings(encoder=str(old), max_span_size=max_span_size, width_dim=int(D), dropout=0.1,
                             pooling="max", context="localized")
    model = SpERTModel(settings, schema, encoder_from_config(config))
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        raise CheckpointError(f"{old}: the weights do not fit a BERT of its config.json: "
                              f"{str(e).splitlines()[-1].strip()}") from None
    if missing or unexpected:
        raise CheckpointError(f"{old}: the weights do not fit a BERT of its config.json (missing: {missing[:3]}, "
                              f"unexpected: {unexpected[:3]})")
    save_model(model, tokenizer, new, inference=InferenceSettings() if rel_filter_threshold is None
               else InferenceSettings(rel_filter_threshold=rel_filter_threshold))
    return ConversionReport(old, new, tuple(t.name for t in schema.entities), tuple(t.name for t in schema.relations),
                            types_from, lower, tuple(dropped))


def describe(report: ConversionReport) -> str:
    return (f"converted {report.source} -> {report.target}: {len(report.entity_types)} entity types "
            f"({', '.join(report.entity_types)}), {len(report.relation_types)} relation types "
            f"({', '.join(report.relation_types)}) from {report.types_from}; lowercase={report.lowercase}; "
            f"dropped {len(report.dropped)} unused weights")
