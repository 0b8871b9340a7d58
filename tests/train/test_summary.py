"""The experiment summary: summary.json and summary.md, byte for byte, from hand-made run records."""

import json
import math
from pathlib import Path

import pytest

from spert.train.config import load_config
from spert.train.experiments import RunRecord, RunSpec, summarize, write_summary
from spert.train.summary import SCORE_KEYS, ExperimentSummary, Spread, mean_std

GOLDEN = Path(__file__).parent / "golden"


def _spec(group, seed, fold=None, setting="", **kw):
    cfg = load_config(None, {"train_path": "data/train.json", "types_path": "data/types.json",
                             "test_path": "data/test.json", "seed": seed,
                             "output_dir": f"runs/{group}/{'' if fold is None else f'fold_{fold}/'}seed_{seed}", **kw})
    return RunSpec(group, cfg, fold, setting)


def _scores(base: float) -> dict[str, float]:
    return {k: base + i * 1.37 for i, k in enumerate(SCORE_KEYS)}


def records() -> list[RunRecord]:
    """Every case the tables show: means with and without a deviation, folds, a failed, a pending
    and a group with nothing finished, a run without a training time, a non-ASCII error."""
    return [
        RunRecord(_spec("baseline", 1, setting="(base)"), "done", _scores(70.123456), 1234.5),
        RunRecord(_spec("baseline", 2, setting="(base)"), "done", _scores(68.9), 987.25),
        RunRecord(_spec("context_cls", 1, setting="context=cls", epochs=3), "done", _scores(55.5), 60.0),
        RunRecord(_spec("context_cls", 2, setting="context=cls", epochs=3), "failed",
                  error="RuntimeError: out of memory (carte graphique pleine, é)"),
        RunRecord(_spec("context_cls", 3, setting="context=cls", epochs=3)),
        RunRecord(_spec("cv", 42, fold=0, encoder="roberta-base"), "done", _scores(80.0)),
        RunRecord(_spec("cv", 42, fold=1, encoder="roberta-base"), "done", _scores(81.25), 30.0),
        RunRecord(_spec("nothing", 7)),
    ]


def test_summary_files_are_byte_identical_to_the_recorded_ones(tmp_path):
    write_summary(records(), tmp_path, "spert ablate: baseline, context_cls, cv, nothing")
    for name in ("summary.json", "summary.md"):
        assert (tmp_path / name).read_bytes() == (GOLDEN / name).read_bytes(), name


def test_summary_reads_back_from_its_json():
    summary = summarize(records(), "t")
    again = ExperimentSummary.from_json(json.loads(json.dumps(summary.to_json())))
    assert again == summary and again.markdown() == summary.markdown()


def test_mean_and_sample_std_by_hand():
    m, s = mean_std([1.0, 2.0, 6.0])
    assert m == pytest.approx(3.0) and s == pytest.approx(math.sqrt((4 + 1 + 9) / 2))
    assert mean_std([5.0]) == (5.0, None) and mean_std([]) == (None, None)
    assert Spread.of([5.0]).cell() == "5.00" and Spread.of([]).cell() == "–"
    assert Spread.of([1.0, 2.0, 6.0]).cell() == "3.00 ± 2.65"
