"""scripts/teacher_targets.py: a cached teacher's targets held against the gold labels of the
sentences they were computed on (by hand on fixed logits; and through a real cache)."""

import json
import math

import numpy as np
import pytest
import torch

from paths import CONLL04, load_script


def test_the_summary_by_hand():
    tt = load_script("teacher_targets")
    ent = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 2.0], [2.0, 0.0, 0.0]], dtype=np.float32)  # (S=3, C=3)
    ent_gold = np.array([0, 2, 1])  # the teacher right on the first two, wrong on the third
    rel = np.array([[2.0, -2.0]], dtype=np.float32)  # (P=1, R=2)
    rel_gold = np.array([[1, 1]])  # right on the first type, wrong on the second (sigmoid(-2) < 0.4)
    out = tt.summary(ent, ent_gold, rel, rel_gold, t=2.0, threshold=0.4)
    e = math.exp
    right1, wrong1 = e(2) / (e(2) + 2), 1 / (e(2) + 2)  # p(gold) at T=1 where the teacher is right / wrong
    right2, wrong2 = e(1) / (e(1) + 2), 1 / (e(1) + 2)  # at T=2
    name, n, agree, p1, pt = out["entity"][0]
    assert (name, n) == ("all", 3) and agree == pytest.approx(2 / 3)
    assert p1 == pytest.approx((2 * right1 + wrong1) / 3) and pt == pytest.approx((2 * right2 + wrong2) / 3)
    assert out["entity"][1][1:] == pytest.approx((1, 1.0, right1, right2))  # no entity: the first span
    assert out["entity"][2][1:] == pytest.approx((2, 0.5, (right1 + wrong1) / 2, (right2 + wrong2) / 2))
    s = lambda z: 1 / (1 + e(-z))  # noqa: E731
    assert out["relation"][0][1:] == pytest.approx((2, 0.5, (s(2) + s(-2)) / 2, (s(1) + s(-1)) / 2))
    assert out["relation"][1][1] == 0 and math.isnan(out["relation"][1][2])  # no "no relation" output here


def test_a_real_cache_against_its_sentences(tmp_path, tiny_model_dir, capsys, monkeypatch):
    from spert.data.documents import read_documents, write_records
    from spert.train.teacher import load_teacher

    tt = load_script("teacher_targets")
    train = tmp_path / "train.json"
    teacher = load_teacher(tiny_model_dir, CONLL04 / "conll04_train.json", 7, torch.device("cpu"), weight=0.5,
                           temperature=2.0)
    docs = read_documents(CONLL04 / "conll04_train.json", teacher.model.schema)[:7]
    write_records(train, [d.to_json() for d in docs])
    run = tmp_path / "run"
    teacher.cache(docs, run, kept_pairs=False, batch_size=3, device=torch.device("cpu"))
    (run / "config.json").write_text(json.dumps({"train_path": str(train), "rel_filter_threshold": 0.4,
                                                 "types_path": str(CONLL04 / "conll04_types.json")}))
    ent, ent_gold, rel, rel_gold, names = tt.gold_arrays(run, tt.run_config(run))
    assert ent.shape == (len(ent_gold), 5) and names == ["Work_For", "Kill", "OrgBased_In", "Live_In", "Located_In"]
    assert (ent_gold > 0).sum() == sum(len(d.entities) for d in docs)  # every gold entity among the spans
    assert rel.shape == rel_gold.shape == (sum(len(d.entities) * (len(d.entities) - 1) for d in docs), 5)
    assert rel_gold.sum() == sum(len(d.relations) for d in docs)
    monkeypatch.setattr("sys.argv", ["teacher_targets.py", str(run), "--temperature", "3"])
    tt.main()
    text = capsys.readouterr().out
    assert f"{len(ent_gold)} candidate spans" in text and "T = 3" in text and "| an entity | " in text
    with pytest.raises(SystemExit, match="no teacher_outputs/outputs.json: not a spert distill run"):
        tt.run_config(tmp_path)  # a directory without a cache
    monkeypatch.setattr("sys.argv", ["teacher_targets.py", str(tmp_path / "empty")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="empty: no teacher_outputs/outputs.json"):
        tt.main()  # nor a config.json: the same one line, no traceback
