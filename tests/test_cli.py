"""Configuration and command-line behaviour: strict settings, clear one-line errors."""

import json
import subprocess
import sys

import pytest

from paths import CONLL04
from spert.train.config import TrainConfig, load_config, parse_overrides
from spert.errors import ConfigError


def _run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "spert", *args], capture_output=True, text=True, **kw)


def test_overrides_parse_yaml_scalars():
    assert parse_overrides(["--lr", "1e-4", "--epochs=3", "--freeze_encoder", "--encoder", "bert-base-cased",
                            "--max-span-size", "8"]) == {
        "lr": 1e-4, "epochs": 3, "freeze_encoder": True, "encoder": "bert-base-cased", "max_span_size": 8}


def test_yaml_config_and_override(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("train_path: a.json\ntypes_path: t.json\nepochs: 5\npooling: mean\n")
    cfg = load_config(cfg_file, {"epochs": 2})
    assert cfg.epochs == 2 and cfg.pooling == "mean" and cfg.lr == 5e-5 and cfg.batch_size == 2


def test_mixed_precision_no_survives_yaml(tmp_path):
    """YAML 1.1 reads ``no`` as false; the setting's own word must still be accepted, file or flag."""
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("train_path: a.json\ntypes_path: t.json\nmixed_precision: no\n")
    assert load_config(cfg_file, {}).mixed_precision == "no"
    assert load_config(cfg_file, parse_overrides(["--mixed_precision", "no"])).mixed_precision == "no"
    assert load_config(cfg_file, parse_overrides(["--mixed_precision", "bf16"])).mixed_precision == "bf16"
    with pytest.raises(ConfigError, match="mixed_precision"):
        load_config(cfg_file, parse_overrides(["--mixed_precision", "yes"]))


def test_bad_override_is_named_as_coming_from_the_command_line(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("train_path: a.json\ntypes_path: t.json\nepochs: many\n")
    with pytest.raises(ConfigError) as e:
        load_config(cfg_file, {"pack_sequences": "maybe"})
    assert "'pack_sequences' (from --pack_sequences on the command line): Input should be a valid boolean" \
        in str(e.value)
    assert "'epochs': Input should be a valid integer" in str(e.value)  # from the file: no such note


@pytest.mark.parametrize("text,expected", [
    ("train_path: a\ntypes_path: t\nepoch: 3\n", "'epoch': unknown setting"),
    ("train_path: a\ntypes_path: t\nepochs: many\n", "'epochs': Input should be a valid integer"),
    ("train_path: a\ntypes_path: t\npooling: median\n", "'pooling': Input should be 'max', 'mean' or 'sum'"),
    ("types_path: t\n", "'train_path': required setting is missing"),
    ("train_path: a\ntypes_path: t\nlr: -1\n", "'lr': Input should be greater than 0"),
    ("- a\n- b\n", "a config must be a mapping"),
    ("a: [\n", "not valid YAML"),
])
def test_config_errors_name_the_key(tmp_path, text, expected):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(cfg_file)
    assert str(e.value).startswith(str(cfg_file)) and expected in str(e.value)


def test_shipped_configs_are_valid():
    from paths import ROOT

    names = {p.stem for p in (ROOT / "configs").glob("*.yaml")}
    assert {"conll04", "scierc", "ade"} <= names
    for p in (ROOT / "configs").glob("*.yaml"):
        cfg = load_config(p)
        assert cfg.lr == 5e-5 and cfg.batch_size == 2 and cfg.epochs == 20


def test_train_help_documents_every_setting():
    res = _run("train", "--help")
    assert res.returncode == 0
    flat = " ".join(res.stdout.split())
    for name in TrainConfig.model_fields:
        assert f"--{name}" in flat, name


def test_cli_bad_input_one_line_no_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"tokens": ["a"], "entities": [{"type": "Nope", "start": 0, "end": 1}],
                                "relations": []}]))
    res = _run("train", "--train_path", str(bad), "--types_path", str(CONLL04 / "conll04_types.json"),
               "--output_dir", str(tmp_path / "out"), "--encoder", "/nonexistent/encoder")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error: ")
    res = _run("train", "--train_path", str(bad), "--types_path", str(CONLL04 / "conll04_types.json"),
               "--output_dir", str(tmp_path / "out"), "--epoch", "3")
    assert res.returncode == 2 and "'epoch': unknown setting" in res.stderr and "Traceback" not in res.stderr


def test_cli_bad_data_names_file_document_field(tmp_path, tiny_encoder_dir):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"tokens": ["a"], "entities": [{"type": "Nope", "start": 0, "end": 1}],
                                "relations": []}]))
    res = _run("train", "--train_path", str(bad), "--types_path", str(CONLL04 / "conll04_types.json"),
               "--output_dir", str(tmp_path / "out"), "--encoder", str(tiny_encoder_dir), "-q")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"error: {bad}: document 0: field 'entities[0].type': unknown entity type 'Nope'" in res.stderr


def test_evaluate_missing_model_is_clear(tmp_path):
    res = _run("evaluate", "--model", str(tmp_path / "none"), "--data", str(CONLL04 / "conll04_test.json"),
               "--output", str(tmp_path / "o"))
    assert res.returncode == 2 and "not a model directory" in res.stderr and "Traceback" not in res.stderr


def test_ctrl_c_in_spert_train_writes_the_checkpoint_and_says_how_to_go_on(tmp_path, tiny_encoder_dir):
    """A real process, a real SIGINT while it trains: exit status 130, one message naming the checkpoint and
    --resume, no traceback; --resume then finishes the run."""
    import signal
    import time

    out = tmp_path / "run"
    args = ["train", "--train_path", str(CONLL04 / "conll04_train.json"), "--types_path",
            str(CONLL04 / "conll04_types.json"), "--encoder", str(tiny_encoder_dir), "--output_dir", str(out),
            "--max_train_docs", "200", "--epochs", "1", "--log_every", "1", "--neg_entity_count", "10",
            "--neg_relation_count", "10", "-q"]
    proc = subprocess.Popen([sys.executable, "-m", "spert", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while not (out / "log.csv").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "stopped by SIGINT after update" in err and f"{out / 'last'} holds it" in err and "--resume" in err
    state = json.loads((out / "last" / "trainer_state.json").read_text())["state"]
    assert 0 < state["epoch_updates"] < 100 and state["epoch"] == 0
    res = _run(*args, "--resume")
    assert res.returncode == 0, res.stderr
    assert (out / "model" / "model.safetensors").exists()
    assert len((out / "log.csv").read_text().splitlines()) == 1 + 100  # every update logged once
