"""The server's application with the backend on it: only where it can train and switch models."""

from __future__ import annotations

import pytest

from spert.errors import ConfigError
from spert.integrations.label_studio.mount import create_app
from spert.serve import server
from spert.serve.settings import LabelStudioSettings, ServeSettings


def test_workers_must_be_one(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="--workers 1"):
        create_app(ServeSettings(model=tiny_model_dir, workers=2,
                                 label_studio=LabelStudioSettings(versions_dir=tmp_path)))


def test_the_plain_server_refuses_label_studio_settings(tiny_model_dir, tmp_path, extractor):
    settings = ServeSettings(model=tiny_model_dir, label_studio=LabelStudioSettings(versions_dir=tmp_path))
    with pytest.raises(ConfigError, match="spert.integrations.label_studio.mount.create_app"):
        server.create_app(settings, extractor)
    plain = create_app(settings.model_copy(update={"label_studio": None}), extractor)
    assert not any(p.startswith("/label-studio") for p in plain.openapi()["paths"])
    assert "/label-studio/predict" in create_app(settings, extractor).openapi()["paths"]


def _sdk_missing(monkeypatch):
    """label-studio-sdk as if not installed (it is not in CI either; this makes the test independent of that)."""
    import importlib.util
    import sys

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "label_studio_sdk"
                        else real(name, *a))
    monkeypatch.setitem(sys.modules, "label_studio_sdk", None)  # import raises ImportError


def test_training_without_the_sdk_is_refused_before_the_server_starts(tiny_model_dir, tmp_path, monkeypatch):
    """Issue 26: it used to start, and Label Studio's "Start Training" got a 500."""
    from spert.errors import SpertError
    from spert.integrations.label_studio.mount import check_ready

    _sdk_missing(monkeypatch)
    config = tmp_path / "train.yaml"
    config.write_text("epochs: 1\n")
    for ls in (LabelStudioSettings(versions_dir=tmp_path, train_config=config, projects=[1]),
               LabelStudioSettings(versions_dir=tmp_path, url="http://localhost:8080")):
        with pytest.raises(SpertError, match="needs label-studio-sdk: pip install 'spert\\[label-studio\\]'"):
            check_ready(ServeSettings(model=tiny_model_dir, label_studio=ls))
    check_ready(ServeSettings(model=tiny_model_dir, label_studio=LabelStudioSettings(versions_dir=tmp_path)))
    with pytest.raises(ConfigError, match="--workers 1"):
        check_ready(ServeSettings(model=tiny_model_dir, workers=2, label_studio=LabelStudioSettings(versions_dir=tmp_path)))


def test_start_training_without_the_sdk_is_a_503_not_a_500(tiny_model_dir, extractor, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from label_studio_fixtures import LABEL_CONFIG
    from serve_errors import error

    _sdk_missing(monkeypatch)
    settings = ServeSettings(model=tiny_model_dir, label_studio=LabelStudioSettings(
        versions_dir=tmp_path, url="http://localhost:1", api_key="t"))
    with TestClient(create_app(settings, extractor)) as c:
        r = c.post("/label-studio/webhook", json={"action": "START_TRAINING",
                                                  "project": {"id": 3, "label_config": LABEL_CONFIG}})
        error(r, 503, "not_configured")
        assert "label-studio-sdk" in r.json()["message"]
