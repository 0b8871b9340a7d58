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
