"""A model evaluated on gold data (spert evaluate, spert report): predict, score, write."""

import json

import pytest

from paths import CONLL04
from spert.data.documents import read_documents
from spert.errors import SpertError
from spert.eval.metrics import evaluate_predictions
from spert.infer.runner import predict_documents
from spert.model.checkpoint import load_model
from spert.infer.options import PredictOptions
from spert.train.evaluation import (evaluate_directory, model_dataset, predict_and_score, report_run,
                                    write_evaluation)


@pytest.fixture
def gold_file(tmp_path):
    path = tmp_path / "gold.json"
    path.write_text(json.dumps(json.loads((CONLL04 / "conll04_dev.json").read_text())[:8]))
    return path


def test_evaluate_directory_writes_what_predicting_and_scoring_give(tmp_path, tiny_model_dir, gold_file):
    result = evaluate_directory(tiny_model_dir, gold_file, tmp_path / "out",
                                PredictOptions(rel_filter_threshold=0.3, no_overlap=True))
    model, tok, _ = load_model(tiny_model_dir)
    gold = read_documents(gold_file, model.schema)
    metrics, preds = evaluate_predictions(gold, predict_documents(model, tok, [d.tokens for d in gold],
                                                                  PredictOptions(rel_filter_threshold=0.3)), no_overlap=True)
    assert result.metrics == metrics and result.predictions == preds
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == metrics.to_json()
    assert json.loads((tmp_path / "out" / "predictions.json").read_text()) == [p.to_json() for p in preds]


def test_evaluate_directory_refuses_other_types(tmp_path, tiny_model_dir, gold_file):
    types = tmp_path / "types.json"
    types.write_text(json.dumps({"entities": {"Loc": {}}, "relations": {}}))
    with pytest.raises(SpertError, match="these types differ from the model's"):
        evaluate_directory(tiny_model_dir, gold_file, tmp_path / "out", types=types)
    assert not (tmp_path / "out").exists()


def test_a_run_without_a_model_is_reported_from_its_predictions(tmp_path, tiny_model_dir, gold_file):
    model, tok, inference = load_model(tiny_model_dir)
    gold = model_dataset(model, tok, gold_file)
    run = tmp_path / "run"
    result = predict_and_score(model, tok, gold, threshold=inference.rel_filter_threshold, no_overlap=False,
                               batch_size=4)
    write_evaluation(run, result.metrics.to_json(), result.predictions)
    (run / "config.json").write_text(json.dumps({"test_path": str(gold_file), "rel_filter_threshold": 0.4,
                                                 "train_path": str(CONLL04 / "conll04_train.json"),
                                                 "types_path": str(CONLL04 / "conll04_types.json")}))
    rep = report_run(run)
    assert rep.sweep is None and rep.documents == 8 and rep.metrics == result.metrics
    assert rep.pred_records and not (run / "model").exists()


def test_evaluate_directory_reads_documents_for_a_context_model(tmp_path, tiny_model_dir, gold_file):
    # a model with context_words predicts each gold sentence in its document's window, as the
    # training loop's own evaluation does; the records' document fields say which sentences belong together
    from spert.data.grouping import document_sentences
    from spert.model.checkpoint import save_model

    records = json.loads(gold_file.read_text())
    for i, r in enumerate(records):
        r["document"], r["sentence"] = f"d{i // 4}", i % 4
    gold_file.write_text(json.dumps(records))
    model, tok, inference = load_model(tiny_model_dir)
    model.settings = model.settings.model_copy(update={"context_words": 30})
    save_model(model, tok, tmp_path / "context_model", inference)

    result = evaluate_directory(tmp_path / "context_model", gold_file, tmp_path / "out",
                                PredictOptions(rel_filter_threshold=0.3))
    model, tok, _ = load_model(tmp_path / "context_model")
    gold = read_documents(gold_file, model.schema)
    words = [d.tokens for d in gold]
    with_context = predict_documents(model, tok, words, PredictOptions(rel_filter_threshold=0.3),
                                     documents=document_sentences(gold))
    alone = predict_documents(model, tok, words, PredictOptions(rel_filter_threshold=0.3),
                              documents=[[i] for i in range(len(gold))])
    assert result.predictions == with_context
    assert [[e.score for e in p.entities] for p in with_context] != [[e.score for e in p.entities] for p in alone]
