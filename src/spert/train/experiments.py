"""Experiments made of several training runs: repeated seeds, k-fold cross-validation and ablations.

Every run has its own output directory and is resumable: a finished run (``metrics.json``
written by the same settings) is reused, an interrupted one resumes from its last checkpoint,
a missing one is trained. The summary (``train.summary``: mean and sample standard deviation
over the finished runs of each group, and one row per run) is rewritten after every run, as
JSON and Markdown, so it is there, with unfinished runs marked, however far the experiment got.
"""

from __future__ import annotations

import gc
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import yaml

from spert.errors import ConfigError, SpertError, TrainingStopped
from spert.eval.metrics import Metrics
from spert.train.config import BASE_KEY, TrainConfig, load_config
from spert.train.loop import TrainResult, train
from spert.train.resume import can_resume, changed_settings
from spert.train.summary import ExperimentSummary, GroupSummary, RunSummary, Status, format_scores, scores_of

log = logging.getLogger(__name__)

FOLD = "{fold}"  # the fold number's place in a split file pattern


@dataclass(frozen=True)
class RunSpec:
    """One training run of an experiment. Runs of the same ``group`` are averaged together."""

    group: str
    cfg: TrainConfig
    fold: int | None = None
    setting: str = ""  # what this group changes, for the table ("context=cls")

    @property
    def output_dir(self) -> Path:
        return Path(self.cfg.output_dir)

    @property
    def name(self) -> str:
        fold = f"fold {self.fold} " if self.fold is not None else ""
        return f"{self.group} {fold}seed {self.cfg.seed}"


@dataclass
class RunRecord:
    """How far a run got: pending, failed (with the error) or done (with its scores)."""

    spec: RunSpec
    status: Status = "pending"
    scores: dict[str, float] = field(default_factory=dict)  # train.summary.SCORE_KEYS -> F1
    train_seconds: float | None = None
    error: str | None = None

    @classmethod
    def done(cls, spec: RunSpec, metrics: Metrics, train_seconds: float | None) -> "RunRecord":
        return cls(spec, "done", scores_of(metrics), train_seconds)

    def summary(self) -> RunSummary:
        return RunSummary(self.spec.group, self.spec.fold, self.spec.cfg.seed, self.status, str(self.spec.output_dir),
                          self.scores, self.train_seconds, self.error)


# --- building the runs -------------------------------------------------------------------------

def parse_distinct_ints(text: str | None, what: str) -> list[int] | None:
    """Distinct integers, at least one (seeds, folds): ``"42,43,44"`` -> [42, 43, 44]; None (not given)
    stays None. (Benchmark sizes, which must be positive and may be none, are
    :func:`spert.tools.bench.settings.parse_positive_ints`.)"""
    if text is None:
        return None
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--{what}: expected comma-separated integers, got {text!r}") from None
    if not values or len(set(values)) != len(values):
        raise ConfigError(f"--{what}: expected distinct comma-separated integers, got {text!r}")
    return values


def _with(cfg: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy of ``cfg`` with some settings changed (validated)."""
    return TrainConfig(**{**cfg.model_dump(), **changes})


def seed_runs(cfg: TrainConfig, seeds: Sequence[int], root: Path, group: str = "train",
              setting: str = "", fold: int | None = None) -> list[RunSpec]:
    """One run per seed, each in ``root/seed_S``."""
    return [RunSpec(group, _with(cfg, seed=s, output_dir=root / f"seed_{s}"), fold, setting) for s in seeds]


def fold_pattern(path: Path, option: str) -> str:
    """A split file pattern with ``{fold}``: given as such, or read off an ADE-layout file name
    (``ade_split_0_train.json`` -> ``ade_split_{fold}_train.json``)."""
    text = str(path)
    if FOLD in text:
        return text
    name = re.sub(r"_split_\d+_", f"_split_{FOLD}_", path.name, count=1)
    if name == path.name:
        raise ConfigError(f"{path}: not a fold's file (NAME_split_K_PART.json); give --{option} with {FOLD}")
    return str(path.with_name(name))


def find_folds(pattern: str) -> list[int]:
    """The fold numbers for which ``pattern`` names an existing file."""
    path = Path(pattern)
    if FOLD in str(path.parent):
        raise ConfigError(f"{pattern}: {FOLD} may only appear in the file name")
    head, _, tail = path.name.partition(FOLD)
    rx = re.compile(re.escape(head) + r"(\d+)" + re.escape(tail) + "$")
    found = (rx.match(p.name) for p in path.parent.glob(head + "*" + tail)) if path.parent.is_dir() else ()
    return sorted(int(m.group(1)) for m in found if m)


def cv_runs(cfg: TrainConfig, root: Path, seeds: Sequence[int] | None, folds: Sequence[int] | None,
            train_pattern: str | None = None, test_pattern: str | None = None, *,
            source: str = "config") -> list[RunSpec]:
    """One run per fold and seed, in ``root/fold_K/seed_S``, training on the fold's train file and
    testing on its test file. A pattern not given is read off the config's ``train_path`` or
    ``test_path`` (``source`` names the config in errors); folds default to those whose files
    exist, seeds to the config's."""
    if test_pattern is None and cfg.test_path is None:
        raise ConfigError(f"{source}: cross-validation needs test_path or --test-pattern")
    train_pattern = train_pattern or fold_pattern(cfg.train_path, "train-pattern")
    test_pattern = test_pattern or fold_pattern(cfg.test_path, "test-pattern")
    for pattern in (train_pattern, test_pattern):
        if FOLD not in pattern:
            raise ConfigError(f"{pattern}: a split file pattern needs {FOLD}")
    if folds is None:
        folds = find_folds(train_pattern)
        if not folds:
            raise ConfigError(f"no split files match {train_pattern} (make them with 'spert data split --folds K')")
    missing = [p for k in folds for p in (train_pattern.format(fold=k), test_pattern.format(fold=k))
               if not Path(p).is_file()]
    if missing:
        raise ConfigError("split files not found: " + ", ".join(missing))
    runs = []
    for k in folds:
        fold_cfg = _with(cfg, train_path=train_pattern.format(fold=k), test_path=test_pattern.format(fold=k))
        runs += seed_runs(fold_cfg, seeds or [cfg.seed], root / f"fold_{k}", group="cv", fold=k)
    return runs


def ablation_setting(path: Path) -> str:
    """What an ablation config changes: its own keys (not its base's), as ``key=value, ...``."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return ", ".join(f"{k}={v}" for k, v in raw.items() if k != BASE_KEY) or "(base)"


def ablation_runs(configs: Sequence[Path], root: Path, seeds: Sequence[int] | None,
                  overrides: dict[str, Any]) -> list[RunSpec]:
    """One group per ablation config (named by its file), one run per seed in ``root/NAME/seed_S``;
    ``overrides`` apply to every config."""
    if not configs:
        raise ConfigError("give ablation config files, e.g. spert ablate configs/ablations/*.yaml")
    if "output_dir" in overrides:
        raise ConfigError("--output_dir: use -o/--output-dir DIR for the ablation's root directory")
    names = [Path(c).stem for c in configs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError("ablation configs need distinct file names; repeated: " + ", ".join(dupes))
    runs = []
    for path, name in zip(configs, names):
        cfg = load_config(path, overrides)
        runs += seed_runs(cfg, seeds or [cfg.seed], root / name, group=name, setting=ablation_setting(Path(path)))
    return runs


# --- running ------------------------------------------------------------------------------------

def _finished(spec: RunSpec) -> RunRecord | None:
    """The record of a run an earlier invocation finished (its ``metrics.json``), if any."""
    path = spec.output_dir / "metrics.json"
    if not path.exists():
        return None
    obj = json.loads(path.read_text(encoding="utf-8"))
    return RunRecord.done(spec, Metrics.from_json(obj), obj.get("train_seconds"))


def _trained(spec: RunSpec, result: TrainResult) -> RunRecord:
    if result.metrics is None:
        raise SpertError(f"{spec.name}: the run has no scores (no test or validation set)")
    # the training time as metrics.json holds it, so that a reused run's record is the same
    return RunRecord.done(spec, result.metrics, round(result.train_seconds, 1))


def check_runs(specs: Sequence[RunSpec]) -> None:
    """Before anything trains: every run can be scored, no two share a directory, and a directory
    an earlier run left holds the same settings (so reusing or resuming it is right)."""
    dirs = [s.output_dir.resolve() for s in specs]
    if len(set(dirs)) != len(dirs):
        raise ConfigError("two runs of the experiment would share an output directory")
    for s in specs:
        if s.cfg.test_path is None and s.cfg.valid_path is None:
            raise ConfigError(f"{s.name}: an experiment's runs need test_path or valid_path to be scored")
        old = s.output_dir / "config.json"
        if old.exists():
            changed = changed_settings(json.loads(old.read_text(encoding="utf-8")), s.cfg)
            if changed:
                raise SpertError(f"{s.output_dir}: holds a run with other settings ({changed}); "
                                 "remove it or choose another output directory")


def run_experiment(specs: Sequence[RunSpec], root: Path, title: str, *, show_progress: bool = True,
                   trainer: Callable[..., Any] = train) -> list[RunRecord]:
    """Run (or reuse, or resume) every run in order, rewriting the summary after each; a run that
    fails is recorded as failed and the others go on."""
    check_runs(specs)
    records = [_finished(s) or RunRecord(s) for s in specs]
    write_summary(records, root, title)
    todo = sum(r.status != "done" for r in records)
    log.info("%s: %d runs, %d already finished, %d to train; summary in %s", title, len(records),
             len(records) - todo, todo, root / "summary.md")
    for i, rec in enumerate(records):
        if rec.status == "done":
            continue
        spec = rec.spec
        resume = can_resume(spec.output_dir)
        log.info("[%d/%d] %s: %s in %s", i + 1, len(records), spec.name, "resuming" if resume else "training",
                 spec.output_dir)
        try:
            result = trainer(spec.cfg, resume=resume, show_progress=show_progress)
            records[i] = _trained(spec, result)
            log.info("[%d/%d] %s: %s", i + 1, len(records), spec.name, format_scores(records[i].scores))
        except (KeyboardInterrupt, SystemExit, TrainingStopped):  # the user's stop ends the experiment
            raise
        except Exception as e:  # noqa: BLE001 - one failed run must not lose the others
            log.error("[%d/%d] %s failed: %s", i + 1, len(records), spec.name, e)
            log.debug("traceback", exc_info=True)
            records[i] = RunRecord(spec, "failed", error=f"{type(e).__name__}: {e}")
        gc.collect()  # the finished run's model and optimiser go before the next run's arrive
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        write_summary(records, root, title)
    return records


# --- summary --------------------------------------------------------------------------------------

def summarize(records: Sequence[RunRecord], title: str) -> ExperimentSummary:
    """One group per ``RunSpec.group`` (in order of first appearance), then every run."""
    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        groups.setdefault(r.spec.group, []).append(r)
    return ExperimentSummary(title, tuple(
        GroupSummary.of(name, recs[0].spec.setting, recs[0].spec.cfg.epochs, recs[0].spec.cfg.encoder,
                        [r.summary() for r in recs]) for name, recs in groups.items()),
        tuple(r.summary() for r in records))


def write_summary(records: Sequence[RunRecord], root: Path, title: str) -> ExperimentSummary:
    summary = summarize(records, title)
    summary.write(root)
    return summary
