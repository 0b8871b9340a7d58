"""Model directories that cannot be rebuilt say which setting is wrong, and a newer spert's setting says so."""

import json
import shutil

import pytest

from spert.errors import CheckpointError
from spert.model.checkpoint import load_model


def _edited(tiny_model_dir, tmp_path, **model_settings):
    path = tmp_path / "model"
    shutil.copytree(tiny_model_dir, path)
    meta = json.loads((path / "spert.json").read_text())
    meta["model"].update(model_settings)
    (path / "spert.json").write_text(json.dumps(meta))
    return path


def test_a_setting_from_a_newer_spert_is_named(tiny_model_dir, tmp_path):
    path = _edited(tiny_model_dir, tmp_path, span_router="learned")
    with pytest.raises(CheckpointError, match=r"spert.json: setting 'span_router' is unknown to this spert .*newer"):
        load_model(path)


def test_a_bad_setting_value_is_named(tiny_model_dir, tmp_path):
    path = _edited(tiny_model_dir, tmp_path, max_span_size=0)
    with pytest.raises(CheckpointError, match=r"spert.json: setting 'max_span_size': Input should be greater"):
        load_model(path)


def test_a_model_directory_reads_back_typed(tiny_model_dir):
    from spert.model.checkpoint import LoadedModel, read_model_meta
    from spert.model.settings import InferenceSettings, ModelSettings

    meta = read_model_meta(tiny_model_dir)
    stored = json.loads((tiny_model_dir / "spert.json").read_text())
    assert isinstance(meta.settings, ModelSettings) and meta.settings.model_dump() == stored["model"]
    assert meta.schema.to_json() == stored["types"] and meta.onnx is None and meta.backend == "torch"
    assert meta.inference == InferenceSettings(**stored["inference"])
    loaded = load_model(tiny_model_dir)
    assert isinstance(loaded, LoadedModel) and loaded.module.settings == meta.settings
    assert loaded.inference == meta.inference and loaded.tokenizer.is_fast
    module, tokenizer, inference = loaded  # a named tuple: callers may unpack it
    assert module is loaded.module and inference is loaded.inference


def test_a_broken_spert_json_is_named_when_read_typed(tiny_model_dir, tmp_path):
    from spert.model.checkpoint import read_model_meta

    path = _edited(tiny_model_dir, tmp_path, max_span_size=0)
    with pytest.raises(CheckpointError, match=r"spert.json: setting 'max_span_size'"):
        read_model_meta(path)
