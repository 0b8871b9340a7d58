"""``spert predict``: formats, order, streaming in chunks, bad lines, and no half-written output."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from spert.infer import stream as predict_mod
from spert.infer.extractor import SpERT
from spert.errors import DataError
from spert.infer.options import PredictOptions
from spert.infer.stream import StreamSpec, read_inputs, run_predict

LINES = ["John Smith works for Acme Corp. in New York. He was born in London!", "",
         "Zoë met José in Zürich 😀.", "   ", "control \x07 and zero\u200bwidth characters"]


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir) -> Path:
    return tiny_model_dir


@pytest.fixture(scope="module")
def model(model_dir) -> SpERT:
    return SpERT.load(model_dir)


def run_cli(monkeypatch, *args: str, stdin: bytes | None = None) -> int:
    from spert.cli import main

    monkeypatch.setattr(sys, "argv", ["spert", *args])
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    try:
        main()
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_record(r: dict) -> None:
    for e in r["entities"]:
        assert r["text"][e["char_start"]:e["char_end"]] == e["text"]
        assert set(e) == {"type", "start", "end", "char_start", "char_end", "text", "score"}
        assert 0 <= e["start"] < e["end"] <= len(r["tokens"])
    for rel in r["relations"]:
        assert set(rel) == {"type", "head", "tail", "score"}
        assert 0 <= rel["head"] < len(r["entities"]) and 0 <= rel["tail"] < len(r["entities"])
    assert sum(e - s for s, e in r["sentences"]) == len(r["tokens"])


def no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_text_file_one_record_per_line_in_order(model_dir, tmp_path, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "pred.jsonl"
    assert run_cli(monkeypatch, "predict", "--model", str(model_dir), str(src), "-o", str(out), "-q",
                   "--chunk-size", "2", "--batch-size", "3") == 0
    records = read_jsonl(out)
    assert [r["text"] for r in records] == LINES
    assert records[1]["tokens"] == [] and records[1]["entities"] == []
    assert any(r["relations"] for r in records)
    for r in records:
        check_record(r)
    assert no_temp_files(out.parent)


def test_jsonl_records_to_spert_json(model_dir, tmp_path, monkeypatch):
    src = tmp_path / "in.jsonl"
    rows = [{"text": LINES[0], "id": "a"}, {"tokens": ["New", "York", "is", "big"], "orig_id": 2}, "plain string",
            ["word", "list"]]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows[:2]) + "\n\n" +
                   "\n".join(json.dumps(r) for r in rows[2:]) + "\n", encoding="utf-8")
    out = tmp_path / "pred.json"
    assert run_cli(monkeypatch, "predict", "-m", str(model_dir), str(src), "-o", str(out), "-q") == 0
    records = json.loads(out.read_text(encoding="utf-8"))  # one JSON list
    assert [r["text"] for r in records] == [LINES[0], "New York is big", "plain string", "word list"]
    assert records[0]["id"] == "a" and records[1]["orig_id"] == 2
    for r in records:
        check_record(r)


def test_spert_json_input_and_stdin_stdout(model_dir, tmp_path, monkeypatch, capsys):
    src = tmp_path / "data.json"
    src.write_text(json.dumps([{"tokens": ["Acme", "hired", "Ann", "."], "entities": [], "relations": []}]))
    assert run_cli(monkeypatch, "predict", "-m", str(model_dir), str(src), "-q") == 0
    [record] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert record["tokens"] == ["Acme", "hired", "Ann", "."]
    assert run_cli(monkeypatch, "predict", "-m", str(model_dir), "-", "-q",
                   stdin="first line\nsecond line\n".encode()) == 0
    assert [json.loads(x)["text"] for x in capsys.readouterr().out.splitlines()] == ["first line", "second line"]


def test_thresholds_at_predict_time(model_dir, tmp_path, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text(LINES[0] + "\n", encoding="utf-8")
    counts = []
    for thr in ("0.05", "0.9999"):
        out = tmp_path / f"out{thr}.jsonl"
        assert run_cli(monkeypatch, "predict", "-m", str(model_dir), str(src), "-o", str(out), "-q",
                       "--rel-filter-threshold", thr) == 0
        counts.append(len(read_jsonl(out)[0]["relations"]))
    assert counts[0] > counts[1]
    out = tmp_path / "flat.jsonl"
    assert run_cli(monkeypatch, "predict", "-m", str(model_dir), str(src), "-o", str(out), "-q", "--no-overlap") == 0
    spans = sorted((e["start"], e["end"]) for e in read_jsonl(out)[0]["entities"])
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_given_entities_through_the_cli(model_dir, tmp_path, monkeypatch):
    src = tmp_path / "gold.jsonl"
    rows = [{"tokens": ["John", "works", "for", "Acme", "."],
             "entities": [{"type": "Peop", "start": 0, "end": 1}, {"type": "Org", "start": 3, "end": 4}],
             "relations": []},
            {"text": "Ann lives in Paris.", "entities": [{"type": "Peop", "char_start": 0, "char_end": 3},
                                                         {"type": "Loc", "char_start": 13, "char_end": 18}]}]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "rel.jsonl"
    assert run_cli(monkeypatch, "predict", "-m", str(model_dir), str(src), "-o", str(out), "-q",
                   "--given-entities", "--rel-filter-threshold", "0") == 0
    records = read_jsonl(out)
    assert [e["text"] for e in records[0]["entities"]] == ["John", "Acme"]
    assert [e["text"] for e in records[1]["entities"]] == ["Ann", "Paris"]
    assert all(e["score"] is None for r in records for e in r["entities"])
    assert {(x["head"], x["tail"]) for x in records[1]["relations"]} == {(0, 1), (1, 0)}
    # text input has no entities to give
    assert run_cli(monkeypatch, "predict", "-m", str(model_dir), str(tmp_path / "gold.jsonl"), "-q",
                   "--given-entities", "--input-format", "text") == 2


@pytest.mark.parametrize("content, message", [
    (b'{"text": "fine"}\n{"text": "fine too"}\n{"text": "broken"\n', "line 3: not valid JSON"),
    (b'{"text": "fine"}\n\n{"tokens": ["a", 5]}\n', "line 3: field 'tokens[1]': must be a string"),
    (b'{"text": "fine"}\n{"words": ["a"]}\n', "line 2: field 'text': a record needs 'text'"),
    (b'{"text": "fine"}\n42\n', "line 2: a document must be a string"),
])
def test_malformed_lines_stop_with_the_line_number(model_dir, tmp_path, monkeypatch, capsys, content, message):
    src = tmp_path / "in.jsonl"
    src.write_bytes(content)
    out = tmp_path / "out.jsonl"
    assert run_cli(monkeypatch, "predict", "-m", str(model_dir), str(src), "-o", str(out), "-q",
                   "--chunk-size", "1") == 2
    err = capsys.readouterr().err
    assert f"error: {src}: {message}" in err and "Traceback" not in err
    assert not out.exists() and no_temp_files(tmp_path)


def test_invalid_utf8_in_a_text_file_names_the_line(model_dir, tmp_path, monkeypatch, capsys):
    src = tmp_path / "in.txt"
    src.write_bytes(b"good line\nanother\nbad \xff\xfe line\n")
    assert run_cli(monkeypatch, "predict", "-m", str(model_dir), str(src), "-o", str(tmp_path / "o.jsonl"),
                   "-q") == 2
    assert f"{src}: line 3: not valid UTF-8" in capsys.readouterr().err


def test_skip_errors_skips_and_reports(model_dir, tmp_path, monkeypatch, capsys, caplog):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"text": "one"}\n{"text": \n{"text": "three"}\n{"tokens": 7}\n{"text": "five"}\n')
    out = tmp_path / "out.jsonl"
    assert run_cli(monkeypatch, "predict", "-m", str(model_dir), str(src), "-o", str(out), "-q",
                   "--skip-errors") == 0
    assert [r["text"] for r in read_jsonl(out)] == ["one", "three", "five"]
    assert "line 2: not valid JSON" in caplog.text and "line 4: field 'tokens'" in caplog.text  # warnings
    assert "skipped 2 bad inputs (lines 2, 4)" in capsys.readouterr().err


def test_a_crash_mid_run_leaves_no_partial_output(model, tmp_path, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(f"Line {i} about Acme." for i in range(10)) + "\n")
    out = tmp_path / "out.jsonl"
    out.write_text("previous results\n")
    calls = []
    real = SpERT.predict_inputs

    def flaky(self, inputs, *a, **kw):
        calls.append(len(inputs))
        if len(calls) == 3:
            raise KeyboardInterrupt  # after two chunks were written to the temporary file
        return real(self, inputs, *a, **kw)

    monkeypatch.setattr(SpERT, "predict_inputs", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_predict(model, StreamSpec(str(src), str(out)), PredictOptions(chunk_size=2), progress=False)
    assert out.read_text() == "previous results\n"  # the old file is untouched
    assert no_temp_files(tmp_path)


def test_input_is_read_lazily_in_chunks(model, tmp_path, monkeypatch):
    """Never more than one chunk of documents is held: the reader is consumed as chunks are predicted."""
    src = tmp_path / "in.txt"
    src.write_text("\n".join(f"Document {i}." for i in range(23)) + "\n")
    read, held = [], []
    real_read = predict_mod.read_inputs

    def counting(*a, **kw):
        for x in real_read(*a, **kw):
            read.append(x)
            yield x

    real = SpERT.predict_inputs

    def spy(self, inputs, *a, **kw):
        held.append((len(inputs), len(read)))
        return real(self, inputs, *a, **kw)

    monkeypatch.setattr(predict_mod, "read_inputs", counting)
    monkeypatch.setattr(SpERT, "predict_inputs", spy)
    summary = run_predict(model, StreamSpec(str(src), str(tmp_path / "o.jsonl")), PredictOptions(chunk_size=5),
                          progress=False)
    assert summary.documents == 23
    assert held == [(5, 5), (5, 10), (5, 15), (5, 20), (3, 23)]


def test_reader_errors_name_file_and_line(tmp_path):
    src = tmp_path / "x.jsonl"
    src.write_text('{"text": "a"}\n[1, 2]\n')
    it = read_inputs(str(src), "jsonl")
    next(it)
    with pytest.raises(DataError) as e:
        next(it)
    assert e.value.line == 2 and str(src) in str(e.value)
    with pytest.raises(DataError, match="file not found"):
        next(read_inputs(str(tmp_path / "missing.txt"), "text"))


def test_precision_flag_reaches_the_model(model_dir, tmp_path, monkeypatch):
    """spert predict --precision bf16 loads the model for bf16 autocast; --ray refuses it by name."""
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text(LINES[0] + "\n", encoding="utf-8")
    loaded = []
    real = SpERT.load

    def spy(path, options=None, **kw):
        loaded.append(options.precision)
        return real(path, options, **kw)

    monkeypatch.setattr(SpERT, "load", staticmethod(spy))
    assert run_cli(monkeypatch, "predict", "-m", str(model_dir), str(src), "-o", str(out), "-q",
                   "--precision", "bf16") == 0
    assert loaded == ["bf16"]
    check_record(json.loads(out.read_text(encoding="utf-8").splitlines()[0]))
    assert run_cli(monkeypatch, "predict", "-m", str(model_dir), str(src), "--ray", "local", "--precision",
                   "bf16") == 2
