"""Fixtures writing the hand-written exports of ``annotation_fixtures`` into a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotation_fixtures import BRAT_D1_ANN, BRAT_D1_TXT, BRAT_D2_ANN, BRAT_D2_TXT, DOCCANO_LINES, LS_TASKS, write_brat


@pytest.fixture
def brat_dir(tmp_path) -> Path:
    return write_brat(tmp_path / "brat", {"d1": (BRAT_D1_TXT, BRAT_D1_ANN), "d2": (BRAT_D2_TXT, BRAT_D2_ANN)})


@pytest.fixture
def doccano_file(tmp_path) -> Path:
    p = tmp_path / "doccano.jsonl"
    p.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in DOCCANO_LINES), encoding="utf-8")
    return p


@pytest.fixture
def labelstudio_file(tmp_path) -> Path:
    p = tmp_path / "ls.json"
    p.write_text(json.dumps(LS_TASKS, ensure_ascii=False, indent=1), encoding="utf-8")
    return p
