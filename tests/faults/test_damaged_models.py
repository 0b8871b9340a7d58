"""Fault injection: damaged model directories. Every way in (the commands, the Python API, the server's
start-up, the spaCy component) answers one line naming the damaged file, exit status 2 on the command
line, never a traceback from the library that read it."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Callable

import pytest

from paths import CONLL04
from spert.errors import SpertError


def _truncate(d: Path) -> None:
    p = d / "model.safetensors"
    p.write_bytes(p.read_bytes()[:1000])


def _garbage(d: Path) -> None:
    (d / "model.safetensors").write_bytes(bytes(range(256)) * 20)


def _edit_config(d: Path, **changes) -> None:
    p = d / "config.json"
    p.write_text(json.dumps({**json.loads(p.read_text()), **changes}))


# damage -> the file the one line must name
DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated weights": (_truncate, "model.safetensors"),
    "garbage weights": (_garbage, "model.safetensors"),
    "empty weights": (lambda d: (d / "model.safetensors").write_bytes(b""), "model.safetensors"),
    "missing weights": (lambda d: (d / "model.safetensors").unlink(), "model.safetensors"),
    "missing config.json": (lambda d: (d / "config.json").unlink(), "config.json"),
    "garbled config.json": (lambda d: (d / "config.json").write_text("{not json"), "config.json"),
    "missing spert.json": (lambda d: (d / "spert.json").unlink(), "spert.json"),
    "garbled spert.json": (lambda d: (d / "spert.json").write_text("[1, 2"), "spert.json"),
    "spert.json of another shape": (lambda d: (d / "spert.json").write_text('{"format_version": 1}'), "spert.json"),
    "missing tokenizer": (lambda d: (d / "tokenizer.json").unlink(), "tokenizer.json"),
    "garbled tokenizer": (lambda d: (d / "tokenizer.json").write_text("xx"), "tokenizer.json"),
    "weights of another size": (lambda d: _edit_config(d, hidden_size=64, intermediate_size=128),
                                "model.safetensors"),
    "another architecture": (lambda d: _edit_config(d, model_type="gpt2"), "config.json"),
}


@pytest.fixture(params=sorted(DAMAGES), scope="module")
def damaged(request, tiny_model_dir, tmp_path_factory) -> tuple[Path, str]:
    damage, named = DAMAGES[request.param]
    d = tmp_path_factory.mktemp("damaged") / "model"
    shutil.copytree(tiny_model_dir, d)
    damage(d)
    return d, named


def _one_line(message: str, model: Path, named: str) -> None:
    lines = [line for line in message.splitlines() if line.strip()]
    assert len(lines) == 1, message
    assert str(model) in lines[0] and (named in lines[0] or "not a spert model directory" in lines[0]), lines[0]
    assert "Traceback" not in message


def _cli(monkeypatch, capsys, *args: str) -> str:
    """``spert ARGS`` in this process, as the console script runs it: exit status 2 and stderr's text."""
    from spert.cli import main

    monkeypatch.setattr(sys, "argv", ["spert", *args])
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 2
    return capsys.readouterr().err


@pytest.fixture
def sentences(tmp_path) -> Path:
    p = tmp_path / "in.jsonl"
    p.write_text('{"tokens": ["John", "lives", "in", "Paris", "."]}\n')
    return p


def test_spert_predict(damaged, monkeypatch, capsys, sentences, tmp_path):
    model, named = damaged
    out = tmp_path / "out.jsonl"
    _one_line(_cli(monkeypatch, capsys, "predict", "-m", str(model), str(sentences), "-o", str(out)), model, named)
    assert not out.exists()


def test_spert_evaluate(damaged, monkeypatch, capsys, tmp_path):
    model, named = damaged
    err = _cli(monkeypatch, capsys, "evaluate", "-m", str(model), "-d", str(CONLL04 / "conll04_test.json"),
               "-o", str(tmp_path / "ev"), "-q")
    _one_line(err, model, named)


def test_spert_export_onnx(damaged, monkeypatch, capsys, tmp_path):
    pytest.importorskip("onnxruntime")
    model, named = damaged
    err = _cli(monkeypatch, capsys, "export", "onnx", "--model", str(model), "--output", str(tmp_path / "x"))
    _one_line(err, model, named)
    assert not (tmp_path / "x").exists()


def test_python_api(damaged):
    from spert import SpERT

    model, named = damaged
    with pytest.raises(SpertError) as e:
        SpERT.load(model)
    _one_line(str(e.value), model, named)


def test_server_start_up(damaged, monkeypatch):
    pytest.importorskip("uvicorn")
    import uvicorn

    from spert.serve.server import run
    from spert.serve.settings import ServeSettings

    model, named = damaged
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("the server started on a damaged model"))
    with pytest.raises(SpertError) as e:
        run(ServeSettings(model=model))
    _one_line(str(e.value), model, named)


def test_spacy_component(damaged):
    spacy = pytest.importorskip("spacy")

    model, named = damaged
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("spert", config={"model": str(model)})  # adding never loads (see spacy_pipe)
    with pytest.raises(SpertError) as e:
        pipe.load()
    _one_line(str(e.value), model, named)
