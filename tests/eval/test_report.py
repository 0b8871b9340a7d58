"""spert report: hand-computed pieces (confusion matrix, threshold sweep, error groups) and a
whole report of a run directory (its model's predictions from spert.train.evaluation.report_run),
checked to be self-contained."""

import json
import re
from pathlib import Path

import pytest

from paths import CONLL04
from spert.data.documents import Document, Entity, Relation, read_documents
from spert.eval.report import at_threshold, confusion_matrix, error_examples, threshold_sweep, write_report
from spert.data.predictions import DocPrediction, ScoredEntity, ScoredRelation
from spert.infer.runner import predict_documents
from spert.data.records import Prediction
from spert.model.checkpoint import load_model
from spert.train.evaluation import report_run
from spert.infer.options import PredictOptions

TOKENS = tuple("John Smith works for Acme Corp in Paris".split())
GOLD = Document(TOKENS, (Entity("Peop", 0, 2), Entity("Org", 4, 6), Entity("Loc", 7, 8)),
                (Relation("Work_For", 0, 1), Relation("OrgBased_In", 1, 2)))


def _pred(entities, relations):
    return DocPrediction(TOKENS, [ScoredEntity(t, s, e, 0.9) for t, s, e in entities],
                         [ScoredRelation(t, h, k, p) for t, h, k, p in relations])


def test_confusion_matrix_by_hand():
    pred = _pred([("Peop", 0, 2), ("Loc", 4, 6), ("Loc", 3, 4)], []).to_document()
    types = ["Loc", "Org", "Peop"]
    m = confusion_matrix([GOLD], [pred], types)
    # rows gold Loc, Org, Peop, none; columns predicted Loc, Org, Peop, none
    assert m == [[0, 0, 0, 1],  # gold Loc (7,8) not predicted
                 [1, 0, 0, 0],  # gold Org (4,6) predicted Loc
                 [0, 0, 1, 0],  # gold Peop right
                 [1, 0, 0, 0]]  # spurious Loc (3,4)


def test_threshold_sweep_by_hand():
    pred = _pred([("Peop", 0, 2), ("Org", 4, 6), ("Loc", 7, 8)],
                 [("Work_For", 0, 1, 0.3), ("OrgBased_In", 1, 2, 0.7), ("Live_In", 0, 2, 0.5)])
    points = {p.threshold: p.scores["rel_plus"] for p in threshold_sweep([GOLD], [pred], [0.2, 0.4, 0.6, 0.8], False)}
    assert points[0.2] == pytest.approx((200 / 3, 100.0, 80.0))  # 2 of 3 right, both gold found
    assert points[0.4] == pytest.approx((50.0, 50.0, 50.0))  # Work_For (0.3) dropped
    assert points[0.6] == pytest.approx((100.0, 50.0, 200 / 3))  # Live_In (0.5) dropped too
    assert points[0.8] == pytest.approx((0.0, 0.0, 0.0))


def test_error_groups_by_hand():
    pred = _pred([("Peop", 0, 1), ("Loc", 4, 6), ("Loc", 2, 3)],  # boundary off by one, wrong type, spurious
                 [("Live_In", 0, 1, 0.9)])
    gold = Prediction.from_json({"tokens": list(TOKENS), "entities": [{"type": e.type, "start": e.start, "end": e.end}
                                                                      for e in GOLD.entities],
                                 "relations": [{"type": r.type, "head": r.head, "tail": r.tail}
                                               for r in GOLD.relations]})
    examples, counts = error_examples([gold], [Prediction.from_json(pred.to_json())], limit=5)
    assert counts["boundary"] == 1 and 'predicted Peop "John" / gold Peop "John Smith"' in examples["boundary"][0].what
    assert counts["entity type"] == 1 and counts["spurious entity"] == 1
    assert counts["missed entity"] == 1 and 'Loc "Paris"' in examples["missed entity"][0].what
    assert counts["spurious relation"] == 1 and counts["missed relation"] == 2
    assert counts["span"] == 0 and counts["relation"] == 0
    assert examples["boundary"][0].doc == 0 and examples["boundary"][0].text == " ".join(TOKENS)


def test_sweep_filter_equals_predicting_at_that_threshold(tiny_model_dir):
    model, tok, _ = load_model(tiny_model_dir)
    docs = [d.tokens for d in read_documents(CONLL04 / "conll04_dev.json", model.schema)[:6]]
    low = predict_documents(model, tok, docs, PredictOptions(rel_filter_threshold=0.05))
    for t in (0.3, 0.5):
        direct = predict_documents(model, tok, docs, PredictOptions(rel_filter_threshold=t))
        assert [p.to_json() for p in at_threshold(low, t)] == [p.to_json() for p in direct]
    assert sum(len(p.relations) for p in low) > sum(len(p.relations) for p in direct)


def _run_dir(tmp_path, model_dir):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model").symlink_to(model_dir, target_is_directory=True)
    docs = json.loads((CONLL04 / "conll04_dev.json").read_text())[:8]
    (tmp_path / "gold.json").write_text(json.dumps(docs))
    (run / "config.json").write_text(json.dumps({"test_path": str(tmp_path / "gold.json"), "epochs": 2, "seed": 1,
                                                 "train_path": str(CONLL04 / "conll04_train.json"),
                                                 "types_path": str(CONLL04 / "conll04_types.json")}))
    (run / "log.csv").write_text("epoch,update,loss,entity_loss,rel_loss,lr,sentences_per_s\n"
                                 "1,1,2.0,1.5,0.5,1e-5,3\n1,2,1.5,1.0,0.5,2e-5,3\n2,3,1.0,0.7,0.3,1e-5,3\n")
    (run / "eval.csv").write_text("epoch,ner_f1,rel_f1,rel_plus_f1\n1,10,2,1\n2,20,4,3\n")
    return run


def test_report_of_a_run_directory_is_self_contained(tmp_path, tiny_model_dir):
    run = _run_dir(tmp_path, tiny_model_dir)
    rep = report_run(run, examples=3)
    assert rep.documents == 8 and rep.threshold == pytest.approx(0.4) and rep.sweep
    # the settings line lists what the run's config.json sets, typed (the rest have defaults it never saw)
    assert rep.settings == {"epochs": 2, "seed": 1, "train_path": CONLL04 / "conll04_train.json"}
    assert [p.threshold for p in rep.sweep] == sorted(p.threshold for p in rep.sweep)
    chosen = next(p for p in rep.sweep if p.threshold == rep.threshold)
    assert chosen.scores["rel_plus"][2] == pytest.approx(rep.metrics.rel_plus.micro.f1)
    assert sum(map(sum, rep.confusion)) >= len([e for d in rep.gold_records for e in d.entities])
    paths = write_report(rep, tmp_path / "out")
    html = paths[0].read_text()
    for section in ("scores", "curves", "types", "confusion", "sweep", "errors"):
        assert f'id="{section}"' in html
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) >= 6 and all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from elsewhere
    comparison = (tmp_path / "out" / "comparison.html").read_text()
    links = set(re.findall(r'href="comparison.html#(doc-\d+)"', html))
    assert links and all(f'id="{a}"' in comparison for a in links)
    md = paths[1].read_text()
    assert "## Relation threshold sweep" in md and "![threshold sweep](sweep.png)" in md
    assert (tmp_path / "out" / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_report_cli_and_a_clear_error(tmp_path, tiny_model_dir):
    from typer.testing import CliRunner

    from spert.cli import app

    run = _run_dir(tmp_path, tiny_model_dir)
    res = CliRunner().invoke(app, ["report", str(run), "--no-sweep", "-q", "--max-docs", "3"])
    assert res.exit_code == 0, res.output
    assert (run / "report" / "report.html").exists() and 'id="sweep"' not in (run / "report" / "report.html").read_text()
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code != 0 and "not a spert train output directory" in str(res.exception)


def test_a_run_config_is_read_typed_and_strictly(tmp_path):
    from spert.errors import ConfigError
    from spert.train.config import read_run_config

    (tmp_path / "config.json").write_text(json.dumps({"train_path": "t.json", "types_path": "types.json",
                                                      "rel_filter_threshold": 0.25}))
    cfg = read_run_config(tmp_path)
    assert cfg.rel_filter_threshold == 0.25 and cfg.types_path == Path("types.json") and cfg.epochs == 20
    assert cfg.model_fields_set == {"train_path", "types_path", "rel_filter_threshold"}
    (tmp_path / "config.json").write_text(json.dumps({"train_path": "t.json", "types_path": "x", "epoch": 3}))
    with pytest.raises(ConfigError, match=r"config.json: 'epoch': unknown setting"):
        read_run_config(tmp_path)
