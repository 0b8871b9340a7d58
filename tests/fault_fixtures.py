"""Fault injection's shared parts: ``spert`` in a process of its own, killed or made to fail at a chosen
moment (``faults/kill_at.py``), and the small training run the fault tests interrupt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from paths import CONLL04, ROOT

KILL_AT = ROOT / "tests" / "faults" / "kill_at.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}


def spert_process(args: list[str], kill: tuple[str, int, str | None] = ("", 0, None), cwd: Path | None = None,
                  enospc: bool = False) -> subprocess.CompletedProcess:
    """``spert ARGS`` in a process of its own, killed (or its write failing: ``enospc``) at ``kill``."""
    target, n, when = kill
    own = [target or "x:y", str(n)] + (["--when-arg", when] if when else []) + (["--enospc"] if enospc else [])
    return subprocess.run([sys.executable, str(KILL_AT), *own, "--", *args], env=ENV, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def train_args(encoder: Path, out: Path) -> list[str]:
    """A two-epoch run on 12 CoNLL04 sentences with the tiny encoder, a checkpoint every 2 updates."""
    return ["train", "--train_path", str(CONLL04 / "conll04_train.json"),
            "--types_path", str(CONLL04 / "conll04_types.json"), "--valid_path", str(CONLL04 / "conll04_dev.json"),
            "--test_path", str(CONLL04 / "conll04_test.json"), "--encoder", str(encoder), "--max_train_docs", "12",
            "--max_eval_docs", "8", "--epochs", "2", "--batch_size", "2", "--lr", "1e-3", "--eval_every", "1",
            "--checkpoint_every", "2", "--neg_entity_count", "20", "--neg_relation_count", "20",
            "--output_dir", str(out), "-q"]
