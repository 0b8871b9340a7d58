"""Fault injection: a full disk while writing a checkpoint, predictions or an export.

Where this process may mount one (root), a real tmpfs too small for the run; everywhere, the same
writes failing with ENOSPC through ``kill_at.py --enospc``. Each time: one line naming the path and
the cause (exit status 2), the previous checkpoint or output intact, no temporary left, and once
there is space again the run resumes to the uninterrupted result.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from safetensors.torch import load_file

from paths import CONLL04
from fault_fixtures import spert_process as _spert, train_args as _train_args


@pytest.fixture
def small_disk(tmp_path):
    """A mounted tmpfs and a function that resizes it; skipped where mounting is not allowed (the
    ENOSPC tests below run everywhere)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=9m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root); the injected ENOSPC tests cover the same paths")

    def resize(size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(mnt)], check=True)

    yield mnt, resize
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _one_line(stderr: str, path: Path) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:") or "Traceback" in line]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert str(path) in lines[0] and "No space left on device" in lines[0], lines[0]
    return lines[0]


def _state(run: Path) -> dict:
    return json.loads((run / "last" / "trainer_state.json").read_text())["state"]


def _same_weights(a: Path, b: Path) -> bool:
    x, y = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return x.keys() == y.keys() and all(bool((x[k] == y[k]).all()) for k in x)


def test_training_on_a_full_tmpfs_keeps_its_checkpoint_and_resumes(small_disk, tmp_path, tiny_encoder_dir):
    mnt, resize = small_disk
    run = mnt / "run"
    args = _train_args(tiny_encoder_dir, run)
    p = _spert(args)  # last/ is 5 MB: the second checkpoint does not fit beside the first on 9 MB
    assert p.returncode == 2
    _one_line(p.stderr, run / "last")
    assert _state(run)["update"] == 2  # the first checkpoint, whole
    assert not [x for x in run.iterdir() if x.name.startswith(".")]
    resize("64m")
    p = _spert(args + ["--resume"])
    assert p.returncode == 0, p.stderr[-3000:]
    whole = tmp_path / "whole"
    assert _spert(_train_args(tiny_encoder_dir, whole)).returncode == 0
    assert _same_weights(run / "model", whole / "model")


def test_predictions_on_a_full_tmpfs_keep_the_previous_file(small_disk, tmp_path, tiny_model_dir):
    mnt, resize = small_disk
    resize("64k")
    out = mnt / "out.jsonl"
    out.write_text("the previous file\n")
    args = ["predict", "-m", str(tiny_model_dir), str(CONLL04 / "conll04_test.json"), "-o", str(out),
            "--chunk-size", "32"]
    p = _spert(args)
    assert p.returncode == 2
    _one_line(p.stderr, out)
    assert out.read_text() == "the previous file\n"
    assert [x.name for x in mnt.iterdir()] == ["out.jsonl"]


@pytest.mark.parametrize("where, kill", [
    ("the checkpoint's optimizer state", ("spert.train.resume:save_file", 1, "optimizer")),  # the first checkpoint's
    ("the checkpoint's optimizer state", ("spert.train.resume:save_file", 2, "optimizer")),  # the second's
    ("the final model's weights", ("spert.model.checkpoint:save_file", 1, ".model.")),
])
def test_training_when_a_write_fails_with_enospc(where, kill, tmp_path, tiny_encoder_dir):
    run = tmp_path / "run"
    args = _train_args(tiny_encoder_dir, run)
    first = kill[1] == 1 and "checkpoint" in where  # nothing to keep yet: the run starts again
    p = _spert(args, kill, enospc=True)
    assert p.returncode == 2, p.stderr[-3000:]
    line = _one_line(p.stderr, run / ("last" if "checkpoint" in where else "model"))
    assert "what it held before is kept" in line
    assert (run / "last" / "trainer_state.json").exists() != first
    assert not [x for x in run.iterdir() if x.name.startswith(".")]
    p = _spert(args + ([] if first else ["--resume"]))
    assert p.returncode == 0, p.stderr[-3000:]


def test_export_when_a_write_fails_with_enospc(tmp_path, tiny_model_dir):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "onnx"
    args = ["export", "onnx", "--model", str(tiny_model_dir), "--output", str(out)]
    p = _spert(args, ("spert.model.checkpoint:save_file", 1, None), enospc=True)
    assert p.returncode == 2, p.stderr[-3000:]
    _one_line(p.stderr, out)
    assert not out.exists() and not list(tmp_path.glob(".onnx.*"))
