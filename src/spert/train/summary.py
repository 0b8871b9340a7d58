"""What an experiment of several training runs reports: one row per run and, for each group of
runs, the mean and sample standard deviation of every score over its finished runs.

Typed records that ``train.experiments`` builds from its runs; ``to_json``/``from_json`` are
``summary.json``'s shape and ``ExperimentSummary.markdown`` is ``summary.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

from spert.atomic import atomic_write_text
from spert.eval.metrics import TASKS, Metrics
from spert.eval.significance import mean_std

AVERAGES = ("micro", "macro")
SCORE_TITLES = {"ner": "NER", "rel": "REL", "rel_plus": "REL+"}
STD_NOTE = "sample standard deviation (n - 1) over the finished runs"

Status = Literal["done", "failed", "pending"]


def score_key(task: str, average: str) -> str:
    """A score's name in the summary: ``ner_micro_f1``, ..."""
    return f"{task}_{average}_f1"


SCORE_KEYS = tuple(score_key(task, avg) for task in TASKS for avg in AVERAGES)
SCORE_HEADS = tuple(f"{SCORE_TITLES[task]} {avg}" for task in TASKS for avg in AVERAGES)  # SCORE_KEYS' columns


def scores_of(metrics: Metrics) -> dict[str, float]:
    """A run's micro and macro F1 of each task, by SCORE_KEYS."""
    tasks = metrics.tasks()
    return {score_key(t, a): float(getattr(tasks[t], a).f1) for t in TASKS for a in AVERAGES}


def format_scores(scores: Mapping[str, float]) -> str:
    return ", ".join(f"{SCORE_TITLES[t]} {scores[score_key(t, 'micro')]:.2f}/{scores[score_key(t, 'macro')]:.2f}"
                     for t in TASKS) + " (micro/macro F1)"


@dataclass(frozen=True)
class Spread:
    """A score's mean and sample standard deviation over a group's finished runs (None without them)."""

    mean: float | None = None
    std: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread":
        return cls(*mean_std(values))

    def to_json(self) -> dict[str, float | None]:
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Spread":
        return cls(obj["mean"], obj["std"])

    def cell(self) -> str:
        if self.mean is None:
            return "–"
        return f"{self.mean:.2f}" + (f" ± {self.std:.2f}" if self.std is not None else "")


@dataclass(frozen=True)
class RunSummary:
    """One run: where it is, how far it got and its scores (by SCORE_KEYS; none unless done)."""

    group: str
    fold: int | None
    seed: int
    status: Status
    output_dir: str
    scores: dict[str, float]
    train_seconds: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "fold": self.fold, "seed": self.seed, "status": self.status,
                "output_dir": self.output_dir, "scores": self.scores, "train_seconds": self.train_seconds,
                "error": self.error}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "RunSummary":
        return cls(obj["group"], obj["fold"], obj["seed"], obj["status"], obj["output_dir"], dict(obj["scores"]),
                   obj["train_seconds"], obj["error"])

    def markdown_row(self) -> str:
        cells = [f"{self.scores[k]:.2f}" if k in self.scores else "–" for k in SCORE_KEYS]
        minutes = f"{self.train_seconds / 60:.1f}" if self.train_seconds is not None else "–"
        status = self.status + (f": {self.error}" if self.error else "")
        fold = "–" if self.fold is None else self.fold
        return (f"| {self.group} | {fold} | {self.seed} | {status} | " + " | ".join(cells)
                + f" | {minutes} | {self.output_dir} |")


@dataclass(frozen=True)
class GroupSummary:
    """Runs averaged together (one setting, several seeds or folds) and their scores' spread."""

    group: str
    setting: str  # what this group changes ("context=cls"), or ""
    epochs: int
    encoder: str
    seeds: tuple[int, ...]
    folds: tuple[int, ...]
    runs: int
    done: int
    failed: int
    scores: dict[str, Spread]  # by SCORE_KEYS

    @classmethod
    def of(cls, group: str, setting: str, epochs: int, encoder: str, runs: Sequence[RunSummary]) -> "GroupSummary":
        done = [r for r in runs if r.status == "done"]
        return cls(group, setting, epochs, encoder, tuple(sorted({r.seed for r in runs})),
                   tuple(sorted({r.fold for r in runs if r.fold is not None})), len(runs), len(done),
                   sum(r.status == "failed" for r in runs),
                   {k: Spread.of([r.scores[k] for r in done]) for k in SCORE_KEYS})

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "setting": self.setting, "epochs": self.epochs, "encoder": self.encoder,
                "seeds": list(self.seeds), "folds": list(self.folds), "runs": self.runs, "done": self.done,
                "failed": self.failed, "scores": {k: s.to_json() for k, s in self.scores.items()}}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "GroupSummary":
        return cls(obj["group"], obj["setting"], obj["epochs"], obj["encoder"], tuple(obj["seeds"]),
                   tuple(obj["folds"]), obj["runs"], obj["done"], obj["failed"],
                   {k: Spread.from_json(s) for k, s in obj["scores"].items()})

    def markdown_row(self) -> str:
        folds = ",".join(map(str, self.folds)) or "–"
        failed = f" ({self.failed} failed)" if self.failed else ""
        return (f"| {self.group} | {self.setting or '–'} | {self.epochs} | {','.join(map(str, self.seeds))} | "
                f"{folds} | {self.done}/{self.runs}{failed} | " + " | ".join(self.scores[k].cell() for k in SCORE_KEYS)
                + " |")


@dataclass(frozen=True)
class ExperimentSummary:
    """``summary.json`` and ``summary.md``: one row per group, then one per run."""

    title: str
    groups: tuple[GroupSummary, ...]
    runs: tuple[RunSummary, ...]

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "std": STD_NOTE, "groups": [g.to_json() for g in self.groups],
                "runs": [r.to_json() for r in self.runs]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "ExperimentSummary":
        return cls(obj["title"], tuple(GroupSummary.from_json(g) for g in obj["groups"]),
                   tuple(RunSummary.from_json(r) for r in obj["runs"]))

    def markdown(self) -> str:
        rule = "|" + "---|" * (6 + len(SCORE_HEADS))
        return "\n".join([
            f"# {self.title}", "",
            "F1 in percent; mean ± sample standard deviation over the finished runs of each row.", "",
            "| group | setting | epochs | seeds | folds | runs done | " + " | ".join(SCORE_HEADS) + " |", rule,
            *(g.markdown_row() for g in self.groups),
            "", "## Runs", "",
            "| group | fold | seed | status | " + " | ".join(SCORE_HEADS) + " | train min | output |", rule,
            *(r.markdown_row() for r in self.runs)]) + "\n"

    def write(self, root: Path) -> None:
        """``root/summary.json`` and ``root/summary.md``, each replaced atomically."""
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(root / "summary.json", json.dumps(self.to_json(), indent=2))
        atomic_write_text(root / "summary.md", self.markdown())
