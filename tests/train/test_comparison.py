"""spert compare: runs of settings read back from their saved predictions, paired by seed with the
baseline's, and the one-line errors of groups that cannot be compared."""

import json
import subprocess
import sys

import pytest

from paths import CONLL04
from spert.errors import SpertError
from spert.eval.metrics import evaluate
from spert.data.documents import read_documents
from spert.data.schema import load_types
from spert.train.comparison import compare, parse_group

GOLD = json.loads((CONLL04 / "conll04_dev.json").read_text())[:12]


def _run(root, name, seed, keep, gold_path=None):
    """A finished run directory whose predictions are the gold documents with entity ``keep(i, j)``
    kept (relations whose entities are kept stay)."""
    run = root / name
    run.mkdir()
    gold_path = gold_path or root / "gold.json"
    if not gold_path.exists():
        gold_path.write_text(json.dumps(GOLD))
    preds = []
    for i, doc in enumerate(json.loads(gold_path.read_text())):
        kept = [j for j in range(len(doc["entities"])) if keep(i, j)]
        index = {j: n for n, j in enumerate(kept)}
        preds.append({"tokens": doc["tokens"],
                      "entities": [dict(doc["entities"][j], score=0.9) for j in kept],
                      "relations": [{"type": r["type"], "head": index[r["head"]], "tail": index[r["tail"]], "score": 0.8}
                                    for r in doc["relations"] if r["head"] in index and r["tail"] in index]})
    (run / "predictions.json").write_text(json.dumps(preds))
    (run / "config.json").write_text(json.dumps({"train_path": str(CONLL04 / "conll04_train.json"),
                                                 "types_path": str(CONLL04 / "conll04_types.json"),
                                                 "test_path": str(gold_path), "seed": seed}))
    return run


def test_groups_are_scored_from_their_predictions_and_paired_by_seed(tmp_path):
    for seed in (1, 2, 3):
        _run(tmp_path, f"base_s{seed}", seed, lambda i, j, s=seed: (i + j + s) % 3 != 0)
        _run(tmp_path, f"better_s{seed}", seed, lambda i, j: True)  # every gold entity and relation
    _run(tmp_path, "partial_s2", 2, lambda i, j: j % 2 == 0)
    result = compare([parse_group(f"base={tmp_path}/base_s*"), parse_group(f"{tmp_path}/better_s*"),
                      parse_group(f"partial={tmp_path}/partial_s2")], resamples=500)
    assert result.baseline.seeds == (1, 2, 3) and [g.name for g in result.others] == [f"{tmp_path}/better_s*", "partial"]
    gold = read_documents(tmp_path / "gold.json", load_types(CONLL04 / "conll04_types.json"))
    for run in result.baseline.runs:  # scored again from predictions.json as the metric scores them
        preds = read_documents(run.path / "predictions.json", None, require_annotations=False)
        assert run.metrics == evaluate(gold, preds)
        assert run.counts["rel_plus"].micro_f1() == pytest.approx(run.metrics.rel_plus.micro.f1)
    better = result.differences[f"{tmp_path}/better_s*"]
    base_ner = [r.metrics.ner.micro.f1 for r in result.baseline.runs]
    assert better["ner"].per_seed == pytest.approx(tuple(100 - f for f in base_ner))
    assert better["ner"].beyond_noise() and better["ner"].p_not_better == 0.0
    partial = result.differences["partial"]
    assert partial["ner"].seeds == (2,) and partial["ner"].std is None  # only the seed both have
    assert all(v == 0 for r in result.others[0].runs for v in r.errors.values())  # the gold itself: no error
    assert sum(result.baseline.runs[0].errors.values()) > 0
    base = result.baseline.runs[0]  # CoNLL04 has no overlapping entities: each one left out is missed
    predicted = sum(len(d["entities"]) for d in json.loads((base.path / "predictions.json").read_text()))
    assert base.errors["missed entity"] == sum(len(d["entities"]) for d in GOLD) - predicted
    assert base.errors["spurious entity"] == 0 and base.errors["spurious relation"] == 0
    md = result.markdown()
    assert "| base | 1, 2, 3 | " in md and "**beyond noise**" in md and "| partial | 2 | " in md
    paths = result.write(tmp_path / "out")
    assert json.loads(paths[0].read_text())["groups"][1]["difference"]["ner"]["beyond_noise"] is True
    assert paths[1].read_text() == md


def test_groups_that_cannot_be_compared_are_refused(tmp_path):
    _run(tmp_path, "a1", 1, lambda i, j: True)
    _run(tmp_path, "a1b", 1, lambda i, j: False)
    _run(tmp_path, "b2", 2, lambda i, j: True)
    other = tmp_path / "other.json"
    other.write_text(json.dumps(GOLD[1:]))
    _run(tmp_path, "c1", 1, lambda i, j: True, gold_path=other)
    with pytest.raises(SpertError, match="more than one run of seed 1"):
        compare([parse_group(f"a={tmp_path}/a1,{tmp_path}/a1b"), parse_group(f"b={tmp_path}/b2")])
    with pytest.raises(SpertError, match="shares no seed with a"):
        compare([parse_group(f"a={tmp_path}/a1"), parse_group(f"b={tmp_path}/b2")])
    with pytest.raises(SpertError, match="tested on other sentences than a"):
        compare([parse_group(f"a={tmp_path}/a1"), parse_group(f"c={tmp_path}/c1")])
    with pytest.raises(SpertError, match="no run directory matches"):
        parse_group(f"{tmp_path}/nothing_*")
    with pytest.raises(SpertError, match="a baseline and at least one other"):
        compare([parse_group(f"a={tmp_path}/a1")])
    (tmp_path / "b2" / "predictions.json").unlink()
    with pytest.raises(SpertError, match=r"b2: no predictions.json"):
        compare([parse_group(f"a={tmp_path}/a1"), parse_group(f"b={tmp_path}/b2")])
    with pytest.raises(SpertError, match=r"group b: no finished run"):
        compare([parse_group(f"a={tmp_path}/a1"), parse_group(f"b={tmp_path}/b2")], skip_unfinished=True)
    kept = compare([parse_group(f"a={tmp_path}/a1"), parse_group(f"b={tmp_path}/b2,{tmp_path}/a1b")],
                   skip_unfinished=True)
    assert [r.path.name for r in kept.others[0].runs] == ["a1b"]
    bad = json.loads((tmp_path / "a1b" / "predictions.json").read_text())
    bad[3]["tokens"] = ["x"] * len(bad[3]["tokens"])
    (tmp_path / "a1b" / "predictions.json").write_text(json.dumps(bad))
    with pytest.raises(SpertError, match=r"a1b/predictions.json: document 3: its tokens"):
        compare([parse_group(f"a={tmp_path}/a1"), parse_group(f"b={tmp_path}/a1b")])


def test_compare_cli(tmp_path):
    _run(tmp_path, "a1", 1, lambda i, j: j != 0)
    _run(tmp_path, "b1", 1, lambda i, j: True)
    res = subprocess.run([sys.executable, "-m", "spert", "compare", f"a={tmp_path}/a1", f"b={tmp_path}/b1",
                          "--resamples", "200", "-o", str(tmp_path / "cmp")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "| a | 1 |" in res.stdout and "| b | 1 |" in res.stdout and "wrote " in res.stdout
    assert (tmp_path / "cmp" / "comparison.md").is_file()
    res = subprocess.run([sys.executable, "-m", "spert", "compare", f"a={tmp_path}/a1", f"b={tmp_path}/zz"],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "Traceback" not in res.stderr and "zz" in res.stderr
