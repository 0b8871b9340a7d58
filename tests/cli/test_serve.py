"""``spert serve``'s flags take their defaults from the settings (each default written once)."""

from __future__ import annotations

from pathlib import Path

import typer

from spert.cli import app
from spert.infer.options import LoadOptions
from spert.serve.settings import LabelStudioSettings, ServeSettings

# flags whose parameter is not named after its field
RENAMED = {"timeout": "timeout_s", "cors_origin": "cors_origins", "ls_url": "url", "ls_project": "projects",
           "ls_basic_auth": "basic_auth", "ls_max_entities": "max_entities", "ls_max_relations": "max_relations"}
# batch_size is the prediction options' (spert.cli.app); --label-studio switches the settings group on
NOT_A_FIELD = {"batch_size", "label_studio"}
LABEL_STUDIO_FLAGS = {"ls_url", "ls_project", "ls_basic_auth", "ls_max_entities", "ls_max_relations",
                      "train_config", "train_every", "held_out"}


def test_the_flags_defaults_are_the_settings():
    params = {p.name: p for p in typer.main.get_command(app).commands["serve"].params}
    checked = []
    for name, param in params.items():
        settings = LabelStudioSettings if name in LABEL_STUDIO_FLAGS else ServeSettings
        field = settings.model_fields.get(RENAMED.get(name, name))
        if field is None or field.is_required() or name in NOT_A_FIELD:
            continue
        expected = None if field.default_factory is not None else field.default
        assert param.default == expected, (name, param.default, expected)
        checked.append(name)
    assert len(checked) == 23, checked  # every settings flag was compared (15 of the server, 8 of the backend)


def test_versions_beside_the_model_unless_given(tmp_path):
    model = tmp_path / "run" / "model"
    settings = LabelStudioSettings.for_model(model, held_out=None, train_every=3)
    assert settings.versions_dir == model.with_name("model.versions") and settings.train_every == 3
    assert settings.held_out == LabelStudioSettings.model_fields["held_out"].default
    assert LabelStudioSettings.for_model(model, Path("v")).versions_dir == Path("v").resolve()


def test_load_options_hold_what_was_given():
    given = LoadOptions.make(device="cpu", backend=None, precision="bf16", language="de", spacy_model=None)
    assert given == LoadOptions(precision="bf16", language="de")
    assert ServeSettings.model_validate_json(ServeSettings(model=Path("m"), load_options=given).to_environment()
                                             ).load_options == given  # what the workers read
