"""Fixtures of the Label Studio backend's tests: the tiny model loaded once, and for each test a
backend of its own (its versions directory, its fake Label Studio), so that no test sees what
another left behind, whatever their order."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from label_studio_fixtures import QUICK_TRAINING, FakeLabelStudio, annotated_task, make_backend_app
from paths import CONLL04
from spert.infer.extractor import SpERT


@pytest.fixture(scope="session")
def extractor(tiny_model_dir) -> SpERT:
    return SpERT.load(tiny_model_dir)


@pytest.fixture(scope="session")
def annotated_tasks() -> list[dict]:
    records = json.loads((CONLL04 / "conll04_dev.json").read_text())[:12]
    return [annotated_task(i + 1, r) for i, r in enumerate(records)]


@pytest.fixture
def fake_ls(annotated_tasks) -> FakeLabelStudio:
    return FakeLabelStudio(annotated_tasks)


@pytest.fixture
def client(tiny_model_dir, extractor, tmp_path, fake_ls):
    """The backend serving the tiny model, its versions in this test's temporary directory."""
    app = make_backend_app(tiny_model_dir, extractor, tmp_path / "versions", fake_ls, train_overrides=QUICK_TRAINING)
    with TestClient(app) as c:
        yield c
