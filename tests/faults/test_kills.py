"""Fault injection: processes killed with SIGKILL at chosen moments, then run again.

A training run killed inside an update, while its checkpoint is written, in the middle of the
checkpoint's swap, during validation, while the final model is put in place and while the final
evaluation is written, each time resumed with ``--resume``, ends with the weights and metrics of an
uninterrupted run (one thread). Commands killed mid-way leave their output path as it was.
Each kill is a real SIGKILL of a real process (``kill_at.py``), so nothing is cleaned up by us.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from safetensors.torch import load_file

from fault_fixtures import spert_process as _spert, train_args as _train_args
from paths import CONLL04

# (function whose Nth call is killed, N, count only calls with a path argument holding this), in run order
TRAINING_KILLS = [
    ("spert.train.optim:AdamWNoBiasCorrection.step", 3, None),  # inside an update
    ("spert.train.resume:save_file", 1, None),  # while last/ is written (its model files already are)
    ("spert.atomic:os.replace", 1, "run/last"),  # mid-swap: the old last/ moved aside, the new one not in place
    ("spert.train.loop:predict_and_score", 1, None),  # during validation
    ("spert.train.optim:AdamWNoBiasCorrection.step", 4, None),  # inside an update, later
    ("spert.atomic:os.replace", 1, ".model."),  # while the final model directory is put in place
    ("spert.train.loop:write_evaluation", 1, None),  # during the final evaluation
]


def _without_times(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not k.endswith("seconds") and k != "sentences_per_second"}


def test_training_killed_seven_times_resumes_to_the_uninterrupted_result(tmp_path, tiny_encoder_dir):
    every = ["--log_every", "1"]  # a kill between checkpoints leaves logged updates that run again
    whole = tmp_path / "whole"
    ref = _spert(_train_args(tiny_encoder_dir, whole / "run") + every)
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "killed" / "run"
    args = _train_args(tiny_encoder_dir, out) + every
    for kill in TRAINING_KILLS:
        resume = ["--resume"] if (out / "last").exists() or (out / ".last.old").exists() else []
        p = _spert(args + resume, kill)
        assert p.returncode == -signal.SIGKILL, f"{kill} did not fire: {p.returncode}\n{p.stderr[-2000:]}"
    p = _spert(args + ["--resume"])
    assert p.returncode == 0, p.stderr[-3000:]
    a, b = load_file(str(whole / "run" / "model" / "model.safetensors")), load_file(str(out / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a), "weights differ"
    assert _without_times(json.loads((out / "metrics.json").read_text())) == \
        _without_times(json.loads((whole / "run" / "metrics.json").read_text()))
    assert (out / "predictions.json").read_text() == (whole / "run" / "predictions.json").read_text()
    for log in ("log.csv", "eval.csv"):  # each update and epoch logged once, as uninterrupted
        rows = [line.split(",")[:3] for line in (out / log).read_text().splitlines()]
        assert rows == [line.split(",")[:3] for line in (whole / "run" / log).read_text().splitlines()], log
    left = sorted(p.name for p in out.iterdir() if p.name.startswith("."))
    assert left == [], f"temporary copies left behind: {left}"


def test_predict_killed_mid_way_leaves_the_previous_output(tmp_path, tiny_model_dir):
    sentences = tmp_path / "in.jsonl"
    sentences.write_text("".join(json.dumps({"tokens": d["tokens"]}) + "\n"
                                 for d in json.loads((CONLL04 / "conll04_test.json").read_text())[:40]))
    out = tmp_path / "out.jsonl"
    out.write_text("the previous file\n")
    args = ["predict", "-m", str(tiny_model_dir), str(sentences), "-o", str(out), "--batch-size", "4",
            "--chunk-size", "8"]  # two chunks are written (to the temporary) before the kill
    p = _spert(args, ("spert.model.network:SpERTModel.predict", 5, None))  # the fifth batch, third chunk
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    assert out.read_text() == "the previous file\n"
    assert _spert(args).returncode == 0
    assert len(out.read_text().splitlines()) == 40
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl.")]  # the rerun's own temporary went


def test_data_import_killed_mid_way_leaves_nothing_half_written(tmp_path, brat_dir):
    out, types = tmp_path / "imported.json", tmp_path / "types.json"
    args = ["data", "import", "brat", str(brat_dir), "-o", str(out), "--types-output", str(types)]
    p = _spert(args, ("spert.data.documents:RecordWriter.write_serialised", 2, None))  # the second record
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    assert not out.exists()
    p = _spert(args)
    assert p.returncode == 0, p.stderr[-2000:]
    assert len(json.loads(out.read_text())) == 3  # d1 has two sentences, d2 one


def test_export_onnx_killed_mid_way_leaves_no_directory(tmp_path, tiny_model_dir):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "onnx"
    args = ["export", "onnx", "--model", str(tiny_model_dir), "--output", str(out)]
    p = _spert(args, ("spert.tools.onnx_export:write_model_files", 1, None))  # the graph written, the rest not
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    assert not out.exists()
    p = _spert(args)
    assert p.returncode == 0, p.stderr[-2000:]
    assert (out / "spert.json").exists()


def test_cross_validation_killed_in_its_second_fold_resumes_to_the_same_summary(tmp_path, tiny_encoder_dir):
    import yaml

    docs = json.loads((CONLL04 / "conll04_train.json").read_text())[:24]
    for k in range(2):
        (tmp_path / f"conll_split_{k}_train.json").write_text(json.dumps(docs[12 * k:12 * k + 8]))
        (tmp_path / f"conll_split_{k}_test.json").write_text(json.dumps(docs[12 * k + 8:12 * k + 12]))
    settings = dict(train_path=str(tmp_path / "conll_split_0_train.json"), test_path=str(tmp_path / "conll_split_0_test.json"),
                    types_path=str(CONLL04 / "conll04_types.json"), encoder=str(tiny_encoder_dir), epochs=2,
                    batch_size=2, lr=1e-3, checkpoint_every=2, neg_entity_count=20, neg_relation_count=20)

    def cv(name: str, kill=("", 0, None)):
        config = tmp_path / f"{name}.yaml"
        config.write_text(yaml.safe_dump({**settings, "output_dir": str(tmp_path / name)}))
        return _spert(["cv", "-c", str(config), "-q"], kill)

    assert cv("whole").returncode == 0
    step = "spert.train.optim:AdamWNoBiasCorrection.step"
    assert cv("killed", (step, 11, None)).returncode == -signal.SIGKILL  # fold 1's third update (8 a fold)
    assert (tmp_path / "killed" / "fold_0").exists() and (tmp_path / "killed" / "fold_1" / "seed_42" / "last").exists()
    p = cv("killed", ("spert.atomic:os.replace", 1, "seed_42/last"))  # again, mid-swap of its next checkpoint
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    p = cv("killed")
    assert p.returncode == 0, p.stderr[-3000:]
    whole, killed = (json.loads((tmp_path / n / "summary.json").read_text()) for n in ("whole", "killed"))
    assert [g["scores"] for g in killed["groups"]] == [g["scores"] for g in whole["groups"]]
    for k in range(2):
        a = json.loads((tmp_path / "whole" / f"fold_{k}" / "seed_42" / "metrics.json").read_text())
        b = json.loads((tmp_path / "killed" / f"fold_{k}" / "seed_42" / "metrics.json").read_text())
        assert _without_times(a) == _without_times(b)


def test_report_killed_mid_way_leaves_the_previous_report(tmp_path, tiny_encoder_dir):
    run = tmp_path / "run"
    assert _spert(_train_args(tiny_encoder_dir, run)).returncode == 0
    out = tmp_path / "report"
    args = ["report", str(run), "-o", str(out), "-q"]
    assert _spert(args).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    # killed between its files: report.html already new, report.md not yet written
    p = _spert(args + ["--max-docs", "4"], ("spert.eval.report:atomic_write_text", 1, "report.md"))
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert set(after) == set(before) and after["report.md"] == before["report.md"]
    assert after["report.html"] != before["report.html"] and after["report.html"].rstrip().endswith(b"</html>")
    assert _spert(args).returncode == 0
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}["report.md"] == before["report.md"]


@pytest.mark.slow
def test_training_killed_at_random_moments_many_times(tmp_path, tiny_encoder_dir):
    """The long part (``-m slow``): SIGKILL after a random 1.5 to 6 s, up to 25 times (whatever the process is
    doing then: loading, an update, a checkpoint, validation, the end), resumed each time."""
    import random
    import time

    from fault_fixtures import ENV, KILL_AT

    whole = tmp_path / "whole"
    more = ["--max_train_docs", "120", "--epochs", "5"]
    assert _spert(_train_args(tiny_encoder_dir, whole) + more).returncode == 0
    out = tmp_path / "killed"
    args = _train_args(tiny_encoder_dir, out) + more
    rng, kills = random.Random(26), 0
    for _ in range(25):
        resume = ["--resume"] if (out / "last").exists() or (out / ".last.old").exists() else []
        proc = subprocess.Popen([sys.executable, str(KILL_AT), "x:y", "0", "--", *args, *resume], env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(1.5, 6.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()[-3000:]
    p = _spert(args + (["--resume"] if (out / "last").exists() else []))
    assert p.returncode == 0, p.stderr[-3000:]
    assert kills >= 10
    a, b = load_file(str(whole / "model" / "model.safetensors")), load_file(str(out / "model" / "model.safetensors"))
    assert all(bool((a[k] == b[k]).all()) for k in a)
    assert _without_times(json.loads((out / "metrics.json").read_text())) == \
        _without_times(json.loads((whole / "metrics.json").read_text()))
