"""Experiments of several runs: cross-validation, seeds and ablations; resumable, summarised."""

import json

import pytest

from paths import CONLL04, ROOT
from spert.errors import ConfigError, SpertError
from spert.train.config import load_config
from spert.train.experiments import (RunRecord, ablation_runs, ablation_setting, cv_runs, find_folds, fold_pattern,
                                     parse_distinct_ints, run_experiment, seed_runs, summarize)
from spert.train.loop import TrainResult
from spert.train.summary import SCORE_KEYS, ExperimentSummary, Spread, mean_std
from spert.eval.metrics import Metrics, PRF, TaskScores


def _cfg(tmp_path, **kw):
    base = dict(train_path=str(CONLL04 / "conll04_train.json"), types_path=str(CONLL04 / "conll04_types.json"),
                test_path=str(CONLL04 / "conll04_test.json"), output_dir=str(tmp_path / "exp"))
    return load_config(None, {**base, **kw})


def _metrics(f1: float) -> Metrics:
    s = TaskScores(PRF(f1, f1, f1), PRF(f1 / 2, f1 / 2, f1 / 2), {})
    return Metrics(s, s, s)


class FakeTrainer:
    """Writes what spert train writes (config.json, metrics.json); the F1 is the seed (+ 10 x fold)."""

    def __init__(self, fail_on=()):
        self.calls, self.fail_on = [], set(fail_on)

    def __call__(self, cfg, *, resume, show_progress):
        self.calls.append((cfg.seed, str(cfg.train_path), resume))
        out = cfg.output_dir
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(cfg.model_dump_json())
        if cfg.seed in self.fail_on:
            raise RuntimeError("out of memory")
        fold = int(str(cfg.train_path).split("_split_")[1].split("_")[0]) if "_split_" in str(cfg.train_path) else 0
        result = TrainResult(out, 60.0, -1, _metrics(float(cfg.seed + 10 * fold)), "test", cfg.test_path)
        (out / "metrics.json").write_text(json.dumps(result.to_json()))
        return result


def _folds(tmp_path, k=3):
    d = tmp_path / "folds"
    d.mkdir()
    for i in range(k):
        for part in ("train", "test"):
            (d / f"ade_split_{i}_{part}.json").write_text("[]")
    return d


def test_parse_distinct_ints():
    assert parse_distinct_ints("42, 43,44", "seeds") == [42, 43, 44]
    assert parse_distinct_ints(None, "seeds") is None
    for bad in ("a,b", "1,1", ""):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_distinct_ints(bad, "seeds")


def test_fold_pattern_and_discovery(tmp_path):
    d = _folds(tmp_path)
    assert fold_pattern(d / "ade_split_0_train.json", "x") == str(d / "ade_split_{fold}_train.json")
    assert fold_pattern(d / "x_{fold}.json", "x") == str(d / "x_{fold}.json")
    with pytest.raises(ConfigError, match="--train-pattern"):
        fold_pattern(d / "train.json", "train-pattern")
    assert find_folds(str(d / "ade_split_{fold}_train.json")) == [0, 1, 2]
    assert find_folds(str(d / "nothing_{fold}.json")) == []


def test_cv_runs_each_fold_and_seed_in_its_own_directory_and_summarises(tmp_path):
    d = _folds(tmp_path)
    cfg = _cfg(tmp_path)
    specs = cv_runs(cfg, tmp_path / "cv", [1, 2], None, str(d / "ade_split_{fold}_train.json"),
                    str(d / "ade_split_{fold}_test.json"))
    assert [(s.fold, s.cfg.seed, s.output_dir.relative_to(tmp_path / "cv").as_posix()) for s in specs] == [
        (k, s, f"fold_{k}/seed_{s}") for k in range(3) for s in (1, 2)]
    assert str(specs[2].cfg.test_path).endswith("ade_split_1_test.json")
    trainer = FakeTrainer()
    records = run_experiment(specs, tmp_path / "cv", "cv", show_progress=False, trainer=trainer)
    assert all(r.status == "done" for r in records) and len(trainer.calls) == 6
    summary = json.loads((tmp_path / "cv" / "summary.json").read_text())
    (group,) = summary["groups"]
    values = [s + 10 * k for k in range(3) for s in (1, 2)]  # what the fake trainer scores
    mean, std = mean_std(values)
    assert group["scores"]["rel_plus_micro_f1"] == {"mean": pytest.approx(mean), "std": pytest.approx(std)}
    assert group["scores"]["ner_macro_f1"]["mean"] == pytest.approx(mean / 2)
    md = (tmp_path / "cv" / "summary.md").read_text()
    assert f"{mean:.2f} ± {std:.2f}" in md and "fold_2/seed_2" in md
    assert ExperimentSummary.from_json(summary).markdown() == md

    # run again: everything is reused, nothing trains
    again = FakeTrainer()
    run_experiment(specs, tmp_path / "cv", "cv", show_progress=False, trainer=again)
    assert again.calls == []


def test_cv_patterns_default_to_the_configs_fold_files(tmp_path):
    d = _folds(tmp_path, 2)
    cfg = _cfg(tmp_path, train_path=str(d / "ade_split_0_train.json"), test_path=str(d / "ade_split_0_test.json"),
               seed=7)
    specs = cv_runs(cfg, tmp_path / "cv", None, None)
    assert [(s.fold, s.cfg.seed, s.cfg.train_path.name, s.cfg.test_path.name) for s in specs] == [
        (0, 7, "ade_split_0_train.json", "ade_split_0_test.json"), (1, 7, "ade_split_1_train.json",
                                                                    "ade_split_1_test.json")]
    no_test = cfg.model_copy(update={"test_path": None})
    with pytest.raises(ConfigError, match="^ade.yaml: cross-validation needs test_path or --test-pattern"):
        cv_runs(no_test, tmp_path / "cv", None, None, source="ade.yaml")
    assert len(cv_runs(no_test, tmp_path / "cv", [1], None, test_pattern=str(d / "ade_split_{fold}_test.json"))) == 2


def test_a_failed_run_is_recorded_the_others_go_on_and_a_rerun_retries_it(tmp_path):
    cfg = _cfg(tmp_path)
    specs = seed_runs(cfg, [1, 2, 3], tmp_path / "s")
    records = run_experiment(specs, tmp_path / "s", "seeds", show_progress=False, trainer=FakeTrainer(fail_on={2}))
    assert [r.status for r in records] == ["done", "failed", "done"]
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["groups"][0]["done"] == 2 and summary["groups"][0]["failed"] == 1
    assert "out of memory" in (tmp_path / "s" / "summary.md").read_text()
    retry = FakeTrainer()
    run_experiment(specs, tmp_path / "s", "seeds", show_progress=False, trainer=retry)
    assert [c[0] for c in retry.calls] == [2]


def test_an_interrupted_run_resumes(tmp_path):
    cfg = _cfg(tmp_path)
    specs = seed_runs(cfg, [1], tmp_path / "s")
    last = specs[0].output_dir / "last"
    last.mkdir(parents=True)
    (last / "trainer_state.json").write_text("{}")
    trainer = FakeTrainer()
    run_experiment(specs, tmp_path / "s", "seeds", show_progress=False, trainer=trainer)
    assert trainer.calls[0][2] is True


def test_a_directory_with_other_settings_is_refused_before_training(tmp_path):
    cfg = _cfg(tmp_path)
    run_experiment(seed_runs(cfg, [1], tmp_path / "s"), tmp_path / "s", "x", show_progress=False,
                   trainer=FakeTrainer())
    trainer = FakeTrainer()
    with pytest.raises(SpertError, match="epochs"):
        run_experiment(seed_runs(_cfg(tmp_path, epochs=3), [1, 2], tmp_path / "s"), tmp_path / "s", "x",
                       show_progress=False, trainer=trainer)
    assert trainer.calls == []


def test_summary_marks_missing_runs():
    cfg = load_config(None, {"train_path": "a", "types_path": "b", "test_path": "c"})
    recs = seed_runs(cfg, [1, 2], ROOT / "x")
    s = summarize([RunRecord(recs[0], "done", {k: 50.0 for k in SCORE_KEYS}), RunRecord(recs[1])], "t")
    (g,) = s.groups
    assert g.done == 1 and g.runs == 2 and g.scores["ner_micro_f1"] == Spread(50.0, None)
    assert [r.status for r in s.runs] == ["done", "pending"] and s.runs[1].scores == {}


def test_shipped_ablation_configs_change_one_thing_each():
    configs = sorted((ROOT / "configs" / "ablations").glob("*.yaml"))
    base = load_config(ROOT / "configs" / "conll04.yaml")
    names = {c.stem for c in configs}
    assert {"baseline", "negatives_weak", "context_full", "context_cls", "context_none", "pooling_mean",
            "pooling_sum", "encoder_frozen", "encoder_random"} <= names
    assert any(n.startswith("neg_") for n in names)
    for c in configs:
        cfg = load_config(c)
        changed = {k for k in type(cfg).model_fields if getattr(cfg, k) != getattr(base, k)}
        label = ablation_setting(c)
        if c.stem == "baseline":
            assert changed == set() and label == "(base)"
        else:
            assert changed and all(f"{k}=" in label for k in changed), c


def test_shipped_scierc_rows_differ_from_the_sentence_row_in_their_own_settings():
    rows = ROOT / "configs" / "ablations" / "scierc"
    base = load_config(rows / "sentence.yaml")
    expected = {"context_words_100": {"context_words"}, "sentence_attention": {"context_pooling"},
                "context_words_100_attention": {"context_words", "context_pooling"}}
    assert {c.stem for c in rows.glob("*.yaml")} == {"sentence", *expected}
    for name, keys in expected.items():
        cfg = load_config(rows / f"{name}.yaml")
        assert {k for k in type(cfg).model_fields if getattr(cfg, k) != getattr(base, k)} == keys, name


def test_ablation_runs_layout_and_overrides(tmp_path):
    abl = ROOT / "configs" / "ablations"
    specs = ablation_runs([abl / "baseline.yaml", abl / "context_cls.yaml"], tmp_path, [1, 2], {"epochs": 3})
    assert [(s.group, s.cfg.seed, s.cfg.epochs, s.cfg.context) for s in specs] == [
        ("baseline", 1, 3, "localized"), ("baseline", 2, 3, "localized"), ("context_cls", 1, 3, "cls"),
        ("context_cls", 2, 3, "cls")]
    assert specs[3].output_dir == tmp_path / "context_cls" / "seed_2"
    with pytest.raises(ConfigError, match="distinct"):
        ablation_runs([abl / "baseline.yaml", abl / "baseline.yaml"], tmp_path, None, {})
    with pytest.raises(ConfigError, match="give ablation config files"):
        ablation_runs([], tmp_path, None, {})
    with pytest.raises(ConfigError, match="--output_dir: use -o/--output-dir"):
        ablation_runs([abl / "baseline.yaml"], tmp_path, None, {"output_dir": "x"})


def test_config_base_key(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\nepochs: 3\n")
    (tmp_path / "b.yaml").write_text("train_path: x\ntypes_path: y\nepochs: 5\nlr: 0.001\n")
    cfg = load_config(tmp_path / "a.yaml")
    assert cfg.epochs == 3 and cfg.lr == 0.001
    (tmp_path / "c.yaml").write_text("base: c.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "c.yaml")


def _short_docs(tmp_path, n):
    docs = sorted(json.loads((CONLL04 / "conll04_train.json").read_text()), key=lambda d: len(d["tokens"]))
    docs = [d for d in docs if len(d["tokens"]) >= 4][:n]
    path = tmp_path / "short.json"
    path.write_text(json.dumps(docs))
    return path


def _spert(*args):
    from typer.testing import CliRunner

    from spert.cli import app

    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, (res.output, res.exception)
    return res


def _tiny(encoder):
    return ["--types_path", CONLL04 / "conll04_types.json", "--encoder", encoder, "--epochs", "1",
            "--neg_entity_count", "5", "--neg_relation_count", "5", "--max_span_size", "3", "-q"]


def test_cv_end_to_end_on_split_files(tmp_path, tiny_encoder_dir):
    """spert data split --folds 2, then spert cv with the ADE config pointed at the files: real training."""
    data = _short_docs(tmp_path, 8)
    _spert("data", "split", data, "--folds", "2", "-o", tmp_path / "folds", "--name", "ade")
    res = _spert("cv", "-c", ROOT / "configs" / "ade.yaml", "--train_path", tmp_path / "folds/ade_split_0_train.json",
                 "--test_path", tmp_path / "folds/ade_split_0_test.json", "--output_dir", tmp_path / "cv",
                 *_tiny(tiny_encoder_dir))
    summary = json.loads((tmp_path / "cv" / "summary.json").read_text())
    assert [(r["fold"], r["status"]) for r in summary["runs"]] == [(0, "done"), (1, "done")]
    for k in (0, 1):
        metrics = json.loads((tmp_path / "cv" / f"fold_{k}" / "seed_42" / "metrics.json").read_text())
        assert metrics["split"] == "test" and metrics["data"].endswith(f"ade_split_{k}_test.json")
    assert "| cv |" in res.output and "REL+ macro" in res.output


def test_train_with_seeds_end_to_end(tmp_path, tiny_encoder_dir):
    data = _short_docs(tmp_path, 4)
    res = _spert("train", "-c", ROOT / "configs" / "conll04.yaml", "--train_path", data, "--test_path", data,
                 "--output_dir", tmp_path / "t", "--seeds", "1,2", *_tiny(tiny_encoder_dir))
    assert (tmp_path / "t" / "seed_1" / "model").is_dir() and (tmp_path / "t" / "seed_2" / "metrics.json").exists()
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert summary["groups"][0]["seeds"] == [1, 2] and summary["groups"][0]["done"] == 2
    assert "± " in res.output
