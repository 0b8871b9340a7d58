"""Typed training configuration: YAML files and command-line overrides map onto it strictly.

An unknown key, a wrong type or a value out of range is an error that names the key.
Relative paths are relative to the working directory (run commands from the project root).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from spert.errors import ConfigError
from spert.model.settings import SYNTAX_CONTEXTS, InferenceSettings, ModelSettings


class TrainConfig(ModelSettings, InferenceSettings):
    """Every setting of ``spert train``: the model's and its inference defaults (inherited) and the
    run's; defaults are the paper's."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # data
    train_path: Path = Field(description="training data (SpERT JSON or .jsonl, or DyGIE JSON Lines)")
    types_path: Path = Field(description="types file declaring entity and relation types")
    valid_path: Path | None = Field(None, description="validation data, evaluated at chosen epochs")
    test_path: Path | None = Field(None, description="test data, evaluated once after training")
    output_dir: Path = Field(Path("runs/spert"), description="where checkpoints, logs and metrics go")
    max_train_docs: int | None = Field(None, ge=1, description="use only the first N training documents")
    max_eval_docs: int | None = Field(None, ge=1, description="use only the first N validation/test documents")
    init_model: Path | None = Field(None, description="start from this trained spert model directory (its "
                                    "encoder and heads) instead of new heads on the pre-trained encoder; its types "
                                    "must be the types file's and its encoder the run's encoder")
    # distillation (spert distill)
    teacher: Path | None = Field(None, description="a trained spert model directory whose outputs the student "
                                 "learns from too (spert distill); its types and max_span_size must be the run's, "
                                 "its encoder and tokenizer may differ")
    distill_weight: float = Field(0.5, ge=0, le=1, description="weight of the loss toward the teacher's outputs: "
                                  "(1 - w) x gold loss + w x distillation loss (0: plain training, bit for bit)")
    distill_temperature: float = Field(2.0, gt=0, description="softmax/sigmoid temperature of the distillation "
                                       "loss (both sides; the loss is scaled by its square)")
    distill_spans: int = Field(0, ge=0, description="more candidate spans per sentence that only the distillation "
                               "loss sees (toward the teacher's class distribution over them), drawn at random "
                               "among those the sentence's sample lacks (0: the sample's spans only)")
    distill_teacher_pairs: int = Field(0, ge=0, description="up to N ordered pairs per sentence of the spans the "
                                       "teacher itself would keep (its entity predictions) that the sample has no "
                                       "pair of, for the distillation loss alone (0: none)")
    silver_path: Path | None = Field(None, description="sentences without annotations (a .txt file, one text a "
                                     "line, or SpERT JSON / JSON Lines, whose annotations are dropped) that the "
                                     "teacher labels and the student trains on too (spert distill)")
    silver_swap: int = Field(0, ge=0, description="silver copies of each training sentence with its entity mentions "
                             "replaced by other training mentions of the same type, labelled by the teacher "
                             "(spert distill; 0: none)")
    teacher_outputs: Literal["auto", "cached", "online"] = Field(
        "auto", description="where the teacher's outputs come from: cached (computed once before training, read "
        "back from OUTPUT_DIR/teacher_outputs: a teacher pass over the training sentences instead of one per "
        "update), online (beside the student at every update), auto (cached unless the student draws pairs the "
        "cache does not hold: neg_cross_sentence_count or negatives weak)")
    # sampling
    neg_entity_count: int = Field(100, ge=0, description="negative spans sampled per sentence")
    neg_relation_count: int = Field(100, ge=0, description="negative pairs sampled per sentence")
    neg_cross_sentence_count: int = Field(0, ge=0, description="relation negatives across sentences: pairs of "
                                          "gold entities of two neighbouring sentences of a batch, per pair of "
                                          "sentences (0: the paper's sampling); context localized or full")
    negatives: Literal["strong", "weak"] = Field("strong", description="negative pairs from gold entities "
                                                 "(strong) or from all entity samples (weak)")
    # optimisation
    epochs: int = Field(20, ge=1, description="training epochs")
    batch_size: int = Field(2, ge=1, description="sentences per update (per process)")
    grad_accumulation: int = Field(1, ge=1, description="micro-batches accumulated per update")
    lr: float = Field(5e-5, gt=0, description="peak learning rate")
    lr_warmup: float = Field(0.1, ge=0, le=1, description="fraction of updates for linear warm-up")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay")
    max_grad_norm: float = Field(1.0, gt=0, description="gradient norm clipping")
    seed: int = Field(42, description="seed for initialisation, sampling, order and dropout")
    mixed_precision: Literal["no", "bf16", "fp16"] = Field("no", description="mixed precision (GPU)")
    cpu: bool = Field(False, description="train on the CPU even when a GPU is present")
    # speed (each gives the same result as the plain computation, up to float rounding)
    pack_sequences: bool = Field(True, description="run a training batch's documents as one packed sequence, "
                                 "without padding (BERT-style encoders; others are padded)")
    compact_embeddings: bool = Field(True, description="train only the word-embedding rows of the training "
                                     "vocabulary; the other rows get their weight decay lazily")
    # evaluation
    eval_batch_size: int = Field(8, ge=1, description="sentences per inference batch")
    eval_every: int = Field(0, ge=0, description="evaluate on valid_path every N epochs (0: after the last)")
    early_stopping: int = Field(0, ge=0, description="stop after N evaluations without a better REL+ F1 (0: off)")
    no_overlap: bool = Field(False, description="remove overlapping entities in evaluation (ADE)")
    log_every: int = Field(20, ge=1, description="log the loss every N updates")
    checkpoint_every: int = Field(0, ge=0, description="also write the resumable checkpoint (last/) every N "
                                  "updates inside an epoch, for runs whose epochs are long (0: at each epoch's "
                                  "end only); --resume goes on from the update it stopped at")

    @field_validator("mixed_precision", mode="before")
    @classmethod
    def _no_is_a_word(cls, value: Any) -> Any:
        """YAML reads a bare ``no`` (``--mixed_precision no``, ``mixed_precision: no``) as false: it means "no"."""
        return "no" if value is False else value

    @model_validator(mode="after")
    def _check(self) -> "TrainConfig":
        if self.early_stopping and self.valid_path is None:
            raise ValueError("early_stopping needs valid_path")
        shaping = self.distill_spans or self.distill_teacher_pairs or self.teacher_outputs != "auto"
        if shaping and self.teacher is None:
            raise ValueError("distill_spans, distill_teacher_pairs and teacher_outputs shape a distillation loss: "
                             "they need a teacher (spert distill --teacher DIR)")
        if (self.silver_path or self.silver_swap) and (self.teacher is None or self.distill_weight == 0):
            raise ValueError("silver_path and silver_swap are sentences a teacher labels: they need a teacher "
                             "(spert distill --teacher DIR) and a distill_weight above 0")
        if (self.silver_path or self.silver_swap) and self.context_words:
            raise ValueError("silver sentences have no documents to give context_words of context: use "
                             "context_words 0 with silver_path or silver_swap")
        if self.teacher_outputs == "cached" and not self.cacheable_pairs():
            raise ValueError("teacher_outputs cached holds pairs of gold entities and of the spans the teacher keeps, "
                             "inside one sentence: with neg_cross_sentence_count or negatives weak use "
                             "teacher_outputs online (or auto)")
        if self.neg_cross_sentence_count and (self.context in SYNTAX_CONTEXTS or self.context_words):
            raise ValueError("neg_cross_sentence_count pairs sentences of a batch, which have no dependency path "
                             "between them and no shared document window: use it with context localized, full or "
                             "cls and context_words 0")
        return self

    def cacheable_pairs(self) -> bool:
        """Whether every pair the student draws joins gold entities (or spans the teacher keeps) of one sentence."""
        return self.neg_cross_sentence_count == 0 and self.negatives == "strong"

    def teacher_cached(self) -> bool:
        """Whether the teacher's outputs are computed once and cached (``teacher_outputs``)."""
        return self.teacher_outputs == "cached" or (self.teacher_outputs == "auto" and self.cacheable_pairs())

    def model_settings(self) -> ModelSettings:
        return ModelSettings(**{k: getattr(self, k) for k in ModelSettings.model_fields})

    def inference_settings(self) -> InferenceSettings:
        return InferenceSettings(**{k: getattr(self, k) for k in InferenceSettings.model_fields})


def _format_validation(e: ValidationError, source: str, overridden: frozenset[str] = frozenset()) -> str:
    parts = []
    for err in e.errors():
        key = ".".join(str(x) for x in err["loc"]) or "config"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting (see 'spert train --help' for the list)"
        elif err["type"] == "missing":
            msg = "required setting is missing"
        where = f" (from --{key} on the command line)" if key in overridden else ""
        parts.append(f"'{key}'{where}: {msg}")
    return f"{source}: " + "; ".join(parts)


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """``--key value`` / ``--key=value`` pairs; values are parsed as YAML scalars."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if not a.startswith("--"):
            raise ConfigError(f"unexpected argument {a!r}: overrides look like --key value")
        key, eq, value = a[2:].partition("=")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                value = "true"  # a bare flag
            else:
                i += 1
                value = args[i]
        key = key.replace("-", "_")
        try:
            parsed = yaml.safe_load(value) if value != "" else None
        except yaml.YAMLError:
            parsed = value
        if isinstance(parsed, str):  # YAML 1.1 reads 1e-4 as a string
            try:
                parsed = float(parsed)
            except ValueError:
                pass
        out[key] = parsed
        i += 1
    return out


BASE_KEY = "base"  # a config may start from another: ``base: ../conll04.yaml`` (relative to the file)


def read_config_file(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file's settings, merged over those of its ``base`` file (recursively)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a mapping of settings")
    base = raw.pop(BASE_KEY, None)
    if base is None:
        return raw
    base_path = (path.parent / str(base)).resolve()
    if base_path in _seen:
        raise ConfigError(f"{path}: '{BASE_KEY}' makes a cycle through {base_path}")
    return {**read_config_file(base_path, (*_seen, base_path)), **raw}


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        raw = read_config_file(path)
    raw.update(overrides or {})
    try:
        return TrainConfig(**raw)
    except ValidationError as e:
        # with a config file, say which bad values came from the command line instead
        from_cli = frozenset(overrides or ()) if path is not None else frozenset()
        raise ConfigError(_format_validation(e, str(path) if path else "config", from_cli)) from None


RUN_CONFIG = "config.json"  # the settings a run was started with, in its output directory


def read_run_config(run_dir: str | Path) -> TrainConfig:
    """The settings a ``spert train`` run was started with (``OUTPUT_DIR/config.json``); a setting its
    file lacks (a run older than the setting) has its default, and ``model_fields_set`` says which the
    file sets."""
    path = Path(run_dir) / RUN_CONFIG
    if not path.exists():
        raise ConfigError(f"{run_dir}: not a spert train output directory (no {RUN_CONFIG})")
    try:
        return TrainConfig.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as e:
        raise ConfigError(_format_validation(e, str(path))) from None


def settings_help() -> str:
    """One line per setting, for ``--help``."""
    lines = []
    for name, f in TrainConfig.model_fields.items():
        default = "required" if f.is_required() else f"default: {f.default}"
        lines.append(f"--{name}: {f.description} ({default})")
    return "\n".join(lines)
