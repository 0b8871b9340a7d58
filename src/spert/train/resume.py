"""Resumable runs: the last checkpoint a run keeps in ``OUTPUT_DIR/last`` (model files,
optimizer, schedule, random state and the loop's state), loading it back, and the check
that the settings of the run being resumed are those it was started with.

``train.loop`` saves the checkpoint after every epoch and loads it on ``resume=True``;
``train.experiments`` asks which runs can resume and whether a directory an earlier run
left holds the same settings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from spert.atomic import atomic_directory, recover_directory
from spert.errors import SpertError
from spert.model.checkpoint import write_model_files
from spert.model.settings import default_of
from spert.train.config import TrainConfig
from spert.train.optim import optimizer_state_from_tensors, optimizer_state_tensors

LAST = "last"  # the resumable checkpoint's directory inside a run's output directory
_STATE = "trainer_state.json"

# settings that may change when resuming without changing what the run computes
_RESUME_FREE = {"output_dir", "eval_batch_size", "log_every", "cpu", "checkpoint_every"}
# the value a setting had in runs from before it existed (their config.json lacks it)
BEFORE_SETTING = {"pack_sequences": False, "compact_embeddings": False, "head_init": "torch", "context_words": 0,
                   "context_pooling": "same", "init_model": None, "syntax_model": None, "teacher": None,
                   "neg_cross_sentence_count": default_of(TrainConfig, "neg_cross_sentence_count"),
                   # without a teacher these change nothing: the defaults
                   "distill_weight": default_of(TrainConfig, "distill_weight"),
                   "distill_temperature": default_of(TrainConfig, "distill_temperature"),
                   "distill_spans": default_of(TrainConfig, "distill_spans"),
                   "distill_teacher_pairs": default_of(TrainConfig, "distill_teacher_pairs"),
                   "silver_path": None, "silver_swap": default_of(TrainConfig, "silver_swap")}


@dataclass
class TrainerState:
    epoch: int = 0  # epochs completed
    update: int = 0  # optimizer updates done
    epoch_updates: int = 0  # of them, in the epoch under way (a checkpoint inside an epoch: checkpoint_every)
    group: int = 0  # micro-batches per update (processes x accumulation) the run was written with; 0: unknown
    best_score: float = -1.0
    best_epoch: int = -1
    bad_evals: int = 0
    stopped_early: bool = False


def last_checkpoint(output_dir: str | Path) -> Path:
    return Path(output_dir) / LAST


def can_resume(output_dir: str | Path) -> bool:
    """Whether a run in ``output_dir`` left a checkpoint to resume from (one whose save was killed
    mid-swap is the previous, complete copy: :func:`spert.atomic.recover_directory` puts it back)."""
    last = last_checkpoint(output_dir)
    return recover_directory(last) and (last / _STATE).exists()


def check_can_resume(output_dir: str | Path) -> None:
    """Fail before anything loads when there is nothing to resume."""
    if not can_resume(output_dir):
        raise SpertError(f"{last_checkpoint(output_dir)}: nothing to resume (no checkpoint from an earlier run)")


def save_checkpoint(path: Path, model, tokenizer, optimizer, scheduler, state: TrainerState,
                    cfg: TrainConfig) -> None:
    """The resumable checkpoint: model files, optimizer, schedule, RNG and loop state."""
    with atomic_directory(path) as tmp:
        write_model_files(model, tokenizer, tmp, cfg.inference_settings())
        tensors, meta = optimizer_state_tensors(optimizer)
        save_file(tensors, str(tmp / "optimizer.safetensors"))
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state()
        save_file(rng, str(tmp / "rng.safetensors"))
        (tmp / _STATE).write_text(json.dumps({
            "state": asdict(state), "optimizer": meta, "scheduler": scheduler.state_dict(),
            "config": json.loads(cfg.model_dump_json())}, indent=2))


def load_checkpoint(path: Path, model, optimizer, scheduler, cfg: TrainConfig) -> TrainerState:
    """Put the checkpoint's weights, optimizer, schedule and RNG state back; the loop's state.
    Refused when ``cfg`` changes what the run computes."""
    if not (path / _STATE).exists():
        raise SpertError(f"{path}: no resumable checkpoint ({_STATE}) to resume from")
    meta = json.loads((path / _STATE).read_text())
    changed = changed_settings(meta["config"], cfg)
    if changed:
        raise SpertError(f"{path}: cannot resume with changed settings: " + changed)
    model.load_state_dict(load_file(str(path / "model.safetensors")))
    optimizer.load_state_dict(optimizer_state_from_tensors(load_file(str(path / "optimizer.safetensors")),
                                                           meta["optimizer"]))
    scheduler.load_state_dict(meta["scheduler"])
    rng = load_file(str(path / "rng.safetensors"))
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])
    return TrainerState(**meta["state"])


def changed_settings(before: dict[str, Any], cfg: TrainConfig) -> str:
    """The settings that differ between an earlier run's config (JSON) and ``cfg`` and change what
    a run computes, as "key (was X, now Y), ..."; empty when none does."""
    now = json.loads(cfg.model_dump_json())
    before = {**BEFORE_SETTING, **before}  # runs older than a setting ran without it
    changed = sorted(k for k, v in before.items() if k not in _RESUME_FREE and now.get(k) != v)
    return ", ".join(f"{k} (was {before[k]!r}, now {now.get(k)!r})" for k in changed)
