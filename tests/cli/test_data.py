"""``spert data import|stats`` and ``spert predict --format``: the command line, errors, and the
whole path: brat in -> training -> predict -> brat out -> import again."""

from __future__ import annotations

import json
import subprocess
import sys

from annotation_fixtures import (
    BRAT_D1_TXT,
    BRAT_D2_TXT,
    BRAT_RECORDS,
    DOCCANO_RECORDS,
    write_brat,
)
from typer.testing import CliRunner

from spert.cli import app
from spert.errors import SpertError
from spert.train.config import load_config
from spert.train.loop import train

runner = CliRunner()


def _spert(*args):
    return subprocess.run([sys.executable, "-m", "spert", *map(str, args)], capture_output=True, text=True)


def test_import_writes_records_types_and_summary(tmp_path, doccano_file):
    out, types = tmp_path / "o" / "train.json", tmp_path / "o" / "types.json"
    res = runner.invoke(app, ["data", "import", "doccano", str(doccano_file), "-o", str(out), "--types-output",
                              str(types), "--symmetric", "located_in"])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text(encoding="utf-8")) == DOCCANO_RECORDS
    assert json.loads(types.read_text())["relations"]["located_in"]["symmetric"] is True
    summary = json.loads((tmp_path / "o" / "train.summary.json").read_text())
    assert summary["changes"] == {"relation across sentences dropped": 1, "relation to an unknown id dropped": 1}
    assert "relation across sentences dropped" in res.output and "3 records" in res.output
    res = runner.invoke(app, ["data", "stats", str(out), "--no-subwords"])
    assert res.exit_code == 0 and "documents 2, records 3, sentences 3, words 20" in res.output


def test_errors_are_one_line_exit_2_and_leave_no_output(tmp_path, doccano_file):
    bad = write_brat(tmp_path / "bad", {"d": ("Bob.", "T1\tPer 0 3\tBib\n")})
    out = tmp_path / "o"
    res = _spert("data", "import", "brat", bad, "-o", out / "x.json", "--types-output", out / "t.json")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == f"error: {bad / 'd.ann'}: line 1: T1: the annotation quotes 'Bib' but the " \
                                 "text at 0-3 is 'Bob'"
    res = runner.invoke(app, ["data", "import", "doccano", str(doccano_file), "-o", str(out / "x.json"),
                              "--types-output", str(out / "t.json"), "--strict"])
    assert isinstance(res.exception, SpertError) and str(res.exception).endswith("(--strict refuses every change)")
    assert not out.exists()


def test_import_choices_and_options_are_checked_by_the_library(tmp_path, doccano_file, labelstudio_file):
    out = tmp_path / "o"
    for fmt, source, flags, message in (
            ("doccano", doccano_file, ["--discontinuous", "all"], "--discontinuous must be one of skip, cover, got 'all'"),
            ("doccano", doccano_file, ["--documents", "all"], "--documents must be one of split, keep, got 'all'"),
            ("labelstudio", labelstudio_file, ["--annotation", "last"],
             "--annotation must be one of latest, first, prediction, got 'last'"),
            ("doccano", doccano_file, ["--annotation", "first"],
             "the doccano format takes no option 'pick' (only labelstudio does)")):
        res = runner.invoke(app, ["data", "import", fmt, str(source), "-o", str(out / "x.json"),
                                  "--types-output", str(out / "t.json"), *flags])
        assert isinstance(res.exception, SpertError) and str(res.exception) == message, res.output
    assert not out.exists()


def test_brat_in_train_predict_brat_out_import_again(tmp_path, brat_dir, tiny_encoder_dir):
    data, types = tmp_path / "train.json", tmp_path / "types.json"
    res = runner.invoke(app, ["data", "import", "brat", str(brat_dir), "-o", str(data), "--types-output", str(types)])
    assert res.exit_code == 0, res.output
    assert json.loads(data.read_text(encoding="utf-8")) == BRAT_RECORDS
    cfg = load_config(None, dict(train_path=str(data), types_path=str(types), output_dir=str(tmp_path / "run"),
                                 encoder=str(tiny_encoder_dir), epochs=12, batch_size=3, lr=5e-3, lr_warmup=0.0,
                                 eval_every=0, neg_entity_count=10, neg_relation_count=10, log_every=50))
    train(cfg, show_progress=False)
    model = tmp_path / "run" / "model"
    inputs = tmp_path / "docs.jsonl"
    inputs.write_text("".join(json.dumps({"text": t, "document": d}, ensure_ascii=False) + "\n"
                              for d, t in (("d1", BRAT_D1_TXT), ("d2", BRAT_D2_TXT))), encoding="utf-8")
    exports = {"brat": tmp_path / "pre", "doccano": tmp_path / "pre.jsonl", "labelstudio": tmp_path / "pre.json"}
    for args in (["-o", str(tmp_path / "pred.jsonl")],
                 *(["--format", fmt, "-o", str(path)] for fmt, path in exports.items())):
        res = runner.invoke(app, ["predict", str(inputs), "--model", str(model), "-q", *args])
        assert res.exit_code == 0, res.output
    assert (tmp_path / "pre" / "d1.txt").read_bytes() == BRAT_D1_TXT.encode("utf-8")
    preds = [json.loads(x) for x in (tmp_path / "pred.jsonl").read_text(encoding="utf-8").splitlines()]
    predicted = _triples(preds, _token_offsets)
    assert predicted[0] and predicted[1]  # the overfitted model finds entities and relations
    tasks = json.loads(exports["labelstudio"].read_text(encoding="utf-8"))
    scores = [r["score"] for r in tasks[0]["predictions"][0]["result"]]
    assert scores and tasks[0]["predictions"][0]["score"] == min(scores)  # reviewers sort by confidence
    for fmt, path in exports.items():
        again = tmp_path / f"again-{fmt}.json"
        res = runner.invoke(app, ["data", "import", fmt, str(path), "-o", str(again), "--types-output",
                                  str(tmp_path / "t2.json"), "--strict",
                                  *(["--annotation", "prediction"] if fmt == "labelstudio" else [])])
        assert res.exit_code == 0, res.output
        records = json.loads(again.read_text(encoding="utf-8"))
        # documents come back in input order (brat: file names d1, d2); their ids are the tool's
        ids = list(dict.fromkeys(r["document"] for r in records))
        for r in records:
            r["document"] = ["d1", "d2"][ids.index(r["document"])]
        assert _triples(records, lambda d: d["char_offsets"]) == predicted, fmt


def _triples(docs, offsets_of):
    """The entities and relations of records, as (document, type, character span)."""
    ents, rels = set(), set()
    for doc in docs:
        offs = offsets_of(doc)
        span = [(e["type"], offs[e["start"]][0], offs[e["end"] - 1][1]) for e in doc["entities"]]
        ents |= {(doc["document"], *s) for s in span}
        rels |= {(doc["document"], r["type"], span[r["head"]], span[r["tail"]]) for r in doc["relations"]}
    return ents, rels


def _token_offsets(pred):
    """Character span of every token of a prediction record (tokens occur in order in its text)."""
    out, pos = [], 0
    for t in pred["tokens"]:
        i = pred["text"].index(t, pos)
        out.append((i, i + len(t)))
        pos = i + len(t)
    return out


def test_jsonl_output_keep_mode_and_subword_stats(tmp_path, brat_dir, tiny_encoder_dir):
    out = tmp_path / "docs.jsonl"
    res = runner.invoke(app, ["data", "import", "brat", str(brat_dir), "-o", str(out), "--types-output",
                              str(tmp_path / "t.json"), "--documents", "keep", "--encoder", str(tiny_encoder_dir)])
    assert res.exit_code == 0, res.output
    records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["sentences"] for r in records] == [[[0, 9], [9, 16]], [[0, 9]]]
    res = runner.invoke(app, ["data", "stats", str(out), "--encoder", str(tiny_encoder_dir), "--json"])
    st = json.loads(res.output)
    assert (st["documents"], st["records"], st["sentences"], st["over_max_subwords"]) == (2, 2, 3, 0)
