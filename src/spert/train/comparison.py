"""``spert compare``: settings compared over their runs' saved test predictions, each against a
baseline, paired by seed (:mod:`spert.eval.significance`).

A group is one setting's runs (``spert train`` output directories, one seed each); the first group
is the baseline. Every run is scored again from its ``predictions.json`` against the gold data of
its ``config.json`` (or ``data``), so all runs are held to the same sentences and the same metric;
nothing loads a model.
"""

from __future__ import annotations

import glob
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from spert.atomic import atomic_write_text
from spert.data.documents import Document, iter_records
from spert.data.grouping import read_corpus
from spert.data.predictions import DocPrediction
from spert.data.schema import load_types
from spert.errors import SpertError
from spert.eval.metrics import TASKS, Metrics, evaluate, gold_tuples
from spert.eval.report import ERROR_GROUPS, error_counts
from spert.eval.significance import Counts, PairedDifference, document_counts, paired_difference
from spert.train.config import read_run_config
from spert.train.evaluation import read_run
from spert.train.summary import SCORE_HEADS, SCORE_KEYS, SCORE_TITLES, Spread, scores_of

COMPARISON_FILES = ("comparison.json", "comparison.md")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunScores:
    """One finished run: its seed, its scores and its per-sentence counts of each task."""

    path: Path
    seed: int
    metrics: Metrics
    counts: dict[str, Counts]  # by TASKS
    errors: dict[str, int]  # spert report's error groups (ERROR_GROUPS) -> count


@dataclass(frozen=True)
class Group:
    """One setting's runs."""

    name: str
    runs: tuple[RunScores, ...]

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(r.seed for r in self.runs)

    def spreads(self) -> dict[str, Spread]:
        """Mean and sample standard deviation of each score (by SCORE_KEYS) over the runs."""
        scores = [scores_of(r.metrics) for r in self.runs]
        return {k: Spread.of([s[k] for s in scores]) for k in SCORE_KEYS}

    def errors(self) -> dict[str, Spread]:
        """Mean and sample standard deviation of each error group's count over the runs."""
        return {k: Spread.of([float(r.errors[k]) for r in self.runs]) for k in ERROR_GROUPS}


def parse_group(text: str) -> tuple[str, list[Path]]:
    """``NAME=DIR[,DIR...]`` or ``DIR[,DIR...]`` (each may be a glob pattern, quoted for the shell, of
    which the directories count) -> the group's name and its run directories, sorted within each pattern."""
    name, sep, dirs = text.partition("=")
    if not sep:
        name, dirs = text, text
    paths: list[Path] = []
    for pattern in filter(None, dirs.split(",")):
        found = sorted(p for p in glob.glob(pattern) if Path(p).is_dir()) if glob.has_magic(pattern) else [pattern]
        if not found:
            raise SpertError(f"{pattern}: no run directory matches (group {name})")
        paths += [Path(p) for p in found]
    if not paths:
        raise SpertError(f"group {text!r} names no run directory")
    return name, paths


def _predictions(run_dir: Path) -> list[DocPrediction]:
    path = run_dir / "predictions.json"
    if not path.is_file():
        raise SpertError(f"{run_dir}: no predictions.json (a run that has not finished its test evaluation)")
    return [DocPrediction.from_json(obj) for _, _, obj in iter_records(path)]


def read_scores(run_dir: Path, data: Path | None = None) -> tuple[RunScores, list[Document]]:
    """A run scored from its saved predictions, and the gold documents they were scored against."""
    cfg = read_run_config(run_dir)
    run = read_run(run_dir, cfg, data=data)
    preds = _predictions(run_dir)
    gold = read_corpus(run.data, load_types(cfg.types_path))
    if run.max_docs is not None:
        gold = gold[:run.max_docs]
    if len(gold) != len(preds):
        raise SpertError(f"{run_dir}/predictions.json: {len(preds)} documents, {run.data} has {len(gold)}")
    for i, (g, p) in enumerate(zip(gold, preds)):
        if tuple(g.tokens) != tuple(p.tokens):
            raise SpertError(f"{run_dir}/predictions.json: document {i}: its tokens are not those of {run.data}")
    pred_docs = [p.to_document() for p in preds]
    g = [gold_tuples(d, run.no_overlap) for d in gold]
    p = [gold_tuples(d, run.no_overlap) for d in pred_docs]
    counts = {task: document_counts([x[i] for x in g], [x[i] for x in p]) for i, task in enumerate(TASKS)}
    return RunScores(Path(run_dir), cfg.seed, evaluate(gold, pred_docs, run.no_overlap), counts,
                     error_counts(gold, pred_docs)), gold


def read_group(name: str, dirs: Sequence[Path], data: Path | None = None,
               skip_unfinished: bool = False) -> tuple[Group, list[Document]]:
    """A group's runs, one seed each; the gold documents of its first run. With ``skip_unfinished`` a
    run without predictions.json is left out with a warning (else it is an error)."""
    if skip_unfinished:
        left = [d for d in dirs if not (Path(d) / "predictions.json").is_file()]
        for d in left:
            log.warning("group %s: %s has not finished (no predictions.json): left out", name, d)
        dirs = [d for d in dirs if d not in left]
        if not dirs:
            raise SpertError(f"group {name}: no finished run")
    runs, golds = zip(*(read_scores(d, data) for d in dirs))
    seeds = [r.seed for r in runs]
    twice = sorted({s for s in seeds if seeds.count(s) > 1})
    if twice:
        raise SpertError(f"group {name}: more than one run of seed {', '.join(map(str, twice))} "
                         f"({', '.join(str(r.path) for r in runs if r.seed in twice)}); pairs are made by seed")
    return Group(name, tuple(sorted(runs, key=lambda r: r.seed))), golds[0]


@dataclass(frozen=True)
class Comparison:
    """Every group's spread of scores and, for each group after the baseline, its paired
    difference to the baseline in each task's micro F1 (over the seeds both have)."""

    baseline: Group
    others: tuple[Group, ...]
    differences: dict[str, dict[str, PairedDifference]]  # group name -> task -> difference

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline.name,
                "groups": [{"name": g.name, "runs": [str(r.path) for r in g.runs], "seeds": list(g.seeds),
                            "scores": {k: s.to_json() for k, s in g.spreads().items()},
                            "errors": {k: s.to_json() for k, s in g.errors().items()},
                            "difference": {t: d.to_json() for t, d in self.differences.get(g.name, {}).items()}}
                           for g in (self.baseline, *self.others)]}

    def markdown(self) -> str:
        """Two tables: the scores (mean ± std over seeds), then each setting's gain over the baseline."""
        lines = ["| setting | seeds | " + " | ".join(SCORE_HEADS) + " |", "| --- | --- |" + " ---: |" * len(SCORE_HEADS)]
        for g in (self.baseline, *self.others):
            spreads = g.spreads()
            lines.append(f"| {g.name} | {', '.join(map(str, g.seeds))} | "
                         + " | ".join(spreads[k].cell() for k in SCORE_KEYS) + " |")
        lines += ["", f"Difference to {self.baseline.name} (micro F1 points; mean ± std of the per-seed "
                  "differences; the interval and P(≤ 0) from a paired bootstrap over seeds and test sentences):",
                  "", "| setting | paired seeds | " + " | ".join(
                      f"{SCORE_TITLES[t]} Δ | interval | P(Δ ≤ 0)" for t in TASKS) + " |",
                  "| --- | --- |" + " ---: | --- | ---: |" * len(TASKS)]
        for g in self.others:
            diffs = self.differences[g.name]
            cells = []
            for t in TASKS:
                d = diffs[t]
                spread = f"{d.mean:+.2f}" + (f" ± {d.std:.2f}" if d.std is not None else "")
                mark = " **beyond noise**" if d.beyond_noise() else ""
                cells.append(f"{spread}{mark} | [{d.low:+.2f}, {d.high:+.2f}] | {d.p_not_better:.3f}")
            lines.append(f"| {g.name} | {', '.join(map(str, diffs[TASKS[0]].seeds))} | " + " | ".join(cells) + " |")
        lines += ["", "Errors by spert report's groups (count on the test set, mean ± std over seeds):", "",
                  "| setting | " + " | ".join(ERROR_GROUPS) + " |", "| --- |" + " ---: |" * len(ERROR_GROUPS)]
        for g in (self.baseline, *self.others):
            errors = g.errors()
            lines.append(f"| {g.name} | " + " | ".join(_count(errors[k]) for k in ERROR_GROUPS) + " |")
        return "\n".join(lines) + "\n"

    def write(self, out: Path) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        json_path, md_path = (out / name for name in COMPARISON_FILES)
        atomic_write_text(json_path, json.dumps(self.to_json(), indent=2))
        atomic_write_text(md_path, self.markdown())
        return [json_path, md_path]


def _count(spread: Spread) -> str:
    return f"{spread.mean:.1f}" + (f" ± {spread.std:.1f}" if spread.std is not None else "")


def compare(groups: Sequence[tuple[str, Sequence[Path]]], *, data: Path | None = None, resamples: int = 10000,
            level: float = 0.95, seed: int = 0, skip_unfinished: bool = False) -> Comparison:
    """Read every group (the first is the baseline) and compare each other group with it."""
    if len(groups) < 2:
        raise SpertError("compare needs a baseline and at least one other group of runs")
    read = [read_group(name, dirs, data, skip_unfinished) for name, dirs in groups]
    names = [g.name for g, _ in read]
    if len(set(names)) != len(names):
        raise SpertError(f"groups of the same name: {', '.join(sorted({n for n in names if names.count(n) > 1}))}")
    (base, gold), others = read[0], read[1:]
    for g, other_gold in others:
        if [d.tokens for d in other_gold] != [d.tokens for d in gold]:
            raise SpertError(f"group {g.name} was tested on other sentences than {base.name} "
                             f"({g.runs[0].path} against {base.runs[0].path}); give --data to score both on one file")
    differences = {}
    for g, _ in others:
        common = sorted(set(base.seeds) & set(g.seeds))
        if not common:
            raise SpertError(f"group {g.name} (seeds {', '.join(map(str, g.seeds))}) shares no seed with "
                             f"{base.name} (seeds {', '.join(map(str, base.seeds))}); runs are paired by seed")
        b = [r for r in base.runs if r.seed in common]
        o = [r for r in g.runs if r.seed in common]
        differences[g.name] = {t: paired_difference([r.counts[t] for r in b], [r.counts[t] for r in o], common,
                                                    resamples=resamples, level=level, seed=seed) for t in TASKS}
    return Comparison(base, tuple(g for g, _ in others), differences)
