"""End to end on a slice of CoNLL04 with the tiny encoder: train, evaluate, reload, resume."""

import json
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file

from paths import CONLL04
from spert.data.documents import Document, Entity, Relation
from spert.data.predictions import DocPrediction, ScoredEntity, ScoredRelation
from spert.model.checkpoint import load_model
from spert.train.config import load_config
from spert.train.loop import train
from spert.infer.options import PredictOptions


def _cfg(tmp_path, encoder, **kw):
    base = dict(train_path=str(CONLL04 / "conll04_train.json"), types_path=str(CONLL04 / "conll04_types.json"),
                valid_path=str(CONLL04 / "conll04_dev.json"), test_path=str(CONLL04 / "conll04_test.json"),
                output_dir=str(tmp_path / "run"), encoder=str(encoder), max_train_docs=12, max_eval_docs=10,
                epochs=2, batch_size=2, lr=1e-3, log_every=1, eval_every=1, neg_entity_count=20,
                neg_relation_count=20)
    base.update(kw)
    return load_config(None, base)


def _weights(path):
    return load_file(str(path / "model.safetensors"))


def test_train_evaluate_reload(tmp_path, tiny_encoder_dir):
    cfg = _cfg(tmp_path, tiny_encoder_dir)
    result = train(cfg, show_progress=False).to_json()
    out = tmp_path / "run"
    for name in ("model/model.safetensors", "model/spert.json", "model/config.json", "best/spert.json",
                 "last/trainer_state.json", "metrics.json", "predictions.json", "log.csv", "eval.csv"):
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == result
    for task in ("ner", "rel", "rel_plus"):
        assert set(metrics[task]) == {"micro", "macro", "per_type"}
        assert set(metrics[task]["micro"]) == {"precision", "recall", "f1"}
    assert len(json.loads((out / "predictions.json").read_text())) == 10
    card = (out / "model" / "README.md").read_text()  # the model card (spert.train.model_card)
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["base_model"] == str(tiny_encoder_dir) and meta["library_name"] == "spert"
    [result_card] = meta["model-index"][0]["results"]
    assert {m["name"]: m["value"] for m in result_card["metrics"]}["REL+ micro F1"] == \
        round(metrics["rel_plus"]["micro"]["f1"], 2)
    log = (out / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,update,loss") and len(log) == 1 + 12  # 6 updates x 2 epochs
    # the saved model needs nothing else: reload and run the evaluate command on it
    model, tok, inference = load_model(out / "model")
    assert model.schema.entity_class("Peop") is not None and inference.rel_filter_threshold == 0.4
    res = subprocess.run([sys.executable, "-m", "spert", "evaluate", "--model", str(out / "model"),
                          "--data", str(CONLL04 / "conll04_test.json"), "--output", str(tmp_path / "ev"), "-q"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "REL+" in res.stdout
    ev = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert set(ev) == {"ner", "rel", "rel_plus"}


def test_overfit_save_reload_predictions_survive(tmp_path, tiny_encoder_dir):
    """Training on two sentences drives the loss down; predictions survive save and reload."""
    cfg = _cfg(tmp_path, tiny_encoder_dir, max_train_docs=2, epochs=200, lr=3e-3, lr_warmup=0.0, eval_every=0,
               valid_path=None, test_path=str(CONLL04 / "conll04_train.json"), max_eval_docs=2, dropout=0.0)
    result = train(cfg, show_progress=False).to_json()
    lines = (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]
    first, last = float(lines[0].split(",")[2]), float(lines[-1].split(",")[2])
    assert last < first / 5
    # every gold entity and relation is found again; a few unsampled spans may still come out as
    # entities (negatives are 20 random spans per sentence), so NER precision is not held to 100
    assert result["ner"]["micro"]["recall"] == 100 and result["ner"]["micro"]["f1"] > 80
    assert result["rel_plus"]["micro"]["f1"] == 100
    from spert.infer.runner import predict_documents

    model, tok, inference = load_model(tmp_path / "run" / "model")
    docs = [d["tokens"] for d in json.loads((CONLL04 / "conll04_train.json").read_text())[:2]]
    again = predict_documents(model, tok, docs, PredictOptions(rel_filter_threshold=inference.rel_filter_threshold))
    saved = json.loads((tmp_path / "run" / "predictions.json").read_text())
    assert [p.to_json() for p in again] == saved


def test_resume_gives_same_weights_as_uninterrupted(tmp_path, tiny_encoder_dir):
    full = _cfg(tmp_path / "a", tiny_encoder_dir, epochs=3, eval_every=0, valid_path=None, test_path=None)
    train(full, show_progress=False)

    class Interrupt(Exception):
        pass

    def stop_after_first(epoch, state):
        if epoch == 1:
            raise Interrupt

    part = _cfg(tmp_path / "b", tiny_encoder_dir, epochs=3, eval_every=0, valid_path=None, test_path=None)
    with pytest.raises(Interrupt):
        train(part, show_progress=False, on_epoch_end=stop_after_first)
    assert not (tmp_path / "b" / "run" / "model").exists()
    from spert.errors import SpertError

    with pytest.raises(SpertError, match=r"cannot resume with changed settings: lr \(was 0.001, now 0.002\)"):
        train(part.model_copy(update={"lr": 2e-3}), resume=True, show_progress=False)
    train(part, resume=True, show_progress=False)
    a, b = _weights(tmp_path / "a" / "run" / "model"), _weights(tmp_path / "b" / "run" / "model")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    log_a = (tmp_path / "a" / "run" / "log.csv").read_text()
    log_b = (tmp_path / "b" / "run" / "log.csv").read_text()
    strip = lambda s: [",".join(l.split(",")[:6]) for l in s.splitlines()]  # drop the timing column
    assert strip(log_a) == strip(log_b)


def test_resume_inside_an_epoch_gives_same_weights_and_log_as_uninterrupted(tmp_path, tiny_encoder_dir,
                                                                           monkeypatch):
    """checkpoint_every: a run killed after a checkpoint inside its second epoch goes on from that update
    and ends with the weights and loss log of a run that was not stopped; the checkpoints themselves change
    nothing that was trained."""
    import spert.train.loop as loop
    from spert.errors import SpertError
    from spert.train.resume import last_checkpoint

    kw = dict(epochs=2, eval_every=0, valid_path=None, test_path=None)  # 12 documents: 6 updates an epoch
    train(_cfg(tmp_path / "plain", tiny_encoder_dir, **kw), show_progress=False)
    train(_cfg(tmp_path / "a", tiny_encoder_dir, checkpoint_every=4, **kw), show_progress=False)

    class Killed(Exception):
        pass

    saved = []
    real_save = loop.save_checkpoint

    def save_then_die(path, model, tokenizer, optimizer, scheduler, state, cfg):
        real_save(path, model, tokenizer, optimizer, scheduler, state, cfg)
        saved.append((state.epoch, state.update, state.epoch_updates))
        if state.update == 8:
            raise Killed

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)
    part = _cfg(tmp_path / "b", tiny_encoder_dir, checkpoint_every=4, **kw)
    with pytest.raises(Killed):
        train(part, show_progress=False)
    assert saved == [(0, 4, 4), (1, 6, 0), (1, 8, 2)]  # inside epoch 1, its end, inside epoch 2
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    state = json.loads((last_checkpoint(tmp_path / "b" / "run") / "trainer_state.json").read_text())["state"]
    assert (state["epoch"], state["update"], state["epoch_updates"], state["group"]) == (1, 8, 2, 1)
    meta_file = last_checkpoint(tmp_path / "b" / "run") / "trainer_state.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "state": {**state, "group": 2}}))  # as if written by 2 processes
    with pytest.raises(SpertError, match=r"written with 2 micro-batches per update .* resumed with 1; resume "
                                         r"with the same number of processes"):
        train(part, resume=True, show_progress=False)
    meta_file.write_text(json.dumps(meta))
    train(part.model_copy(update={"checkpoint_every": 0}), resume=True, show_progress=False)  # a free setting

    strip = lambda s: [",".join(l.split(",")[:6]) for l in s.splitlines()]  # drop the timing column
    a, b, plain = (_weights(tmp_path / r / "run" / "model") for r in ("a", "b", "plain"))
    assert a.keys() == b.keys() == plain.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert strip((tmp_path / "a" / "run" / "log.csv").read_text()) == \
        strip((tmp_path / "b" / "run" / "log.csv").read_text())
    # checkpoints inside epochs fold the training vocabulary's embedding early: the rows training never
    # touches may differ in rounding, nothing else
    assert [k for k in a if not torch.equal(a[k], plain[k])] in ([], ["encoder.embeddings.word_embeddings.weight"])
    torch.testing.assert_close(a["encoder.embeddings.word_embeddings.weight"],
                               plain["encoder.embeddings.word_embeddings.weight"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("signame, at_update, where", [
    ("SIGINT", 3, "after update 3, 3 of 6 into epoch 1"),
    ("SIGTERM", 6, r"after epoch 1 \(update 6\)"),
])
def test_a_signal_stops_after_the_update_with_a_checkpoint_that_resumes(tmp_path, tiny_encoder_dir, monkeypatch,
                                                                        signame, at_update, where):
    """Ctrl-C or SIGTERM while training: the update under way ends, last/ is written, training stops
    with a message saying how to go on, and --resume ends where an unstopped run does."""
    import os
    import signal

    import spert.train.loop as loop
    from spert.errors import TrainingStopped

    kw = dict(epochs=2, eval_every=0, valid_path=None, test_path=None)
    train(_cfg(tmp_path / "plain", tiny_encoder_dir, **kw), show_progress=False)
    real_append = loop._append_csv

    def append_then_signal(path, row):
        real_append(path, row)
        if path.name == "log.csv" and row["update"] == at_update:
            os.kill(os.getpid(), getattr(signal, signame))

    monkeypatch.setattr(loop, "_append_csv", append_then_signal)
    part = _cfg(tmp_path / "b", tiny_encoder_dir, **kw)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingStopped, match=rf"stopped by {signame} {where}; .*last holds it: run the same "
                                              rf"command with --resume") as stopped:
        train(part, show_progress=False)
    assert stopped.value.exit_code == 128 + getattr(signal, signame)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before  # the handlers are put back
    assert not (tmp_path / "b" / "run" / "model").exists()
    monkeypatch.setattr(loop, "_append_csv", real_append)
    train(part, resume=True, show_progress=False)
    a, b = _weights(tmp_path / "plain" / "run" / "model"), _weights(tmp_path / "b" / "run" / "model")
    emb = "encoder.embeddings.word_embeddings.weight"  # folded early inside an epoch: rounding of unused rows
    assert [k for k in a if not torch.equal(a[k], b[k])] in ([], [emb])
    torch.testing.assert_close(a[emb], b[emb], rtol=1e-6, atol=1e-7)


def test_entities_only_dataset_trains_and_evaluates(tmp_path, tiny_encoder_dir):
    types = tmp_path / "types.json"
    types.write_text(json.dumps({"entities": {"Loc": {}, "Org": {}, "Peop": {}, "Other": {}}}))
    docs = json.loads((CONLL04 / "conll04_dev.json").read_text())[:8]
    for d in docs:
        del d["relations"]
    data = tmp_path / "ents.json"
    data.write_text(json.dumps(docs))
    cfg = _cfg(tmp_path, tiny_encoder_dir, train_path=str(data), valid_path=str(data), test_path=str(data),
               types_path=str(types), epochs=1)
    result = train(cfg, show_progress=False).to_json()
    assert result["rel"]["micro"]["f1"] == 0 and result["rel"]["per_type"] == {}
    model, _, _ = load_model(tmp_path / "run" / "model")
    assert model.rel_classifier.out_features == 0


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, tiny_encoder_dir):
    from spert.errors import SpertError

    with pytest.raises(SpertError, match="nothing to resume"):
        train(_cfg(tmp_path, tiny_encoder_dir), resume=True, show_progress=False)


def test_training_evaluation_scores_before_dropping(monkeypatch):
    """The training loop's evaluation must score the raw prediction (the reference's rule), not the
    prediction cut for output."""
    from spert.train import evaluation, loop
    from spert.train.config import TrainConfig

    tokens = tuple("a b c d e f g".split())
    ents = [("Drug", 0, 2), ("Adverse-Effect", 1, 3), ("Drug", 5, 6)]  # issue 12's case
    gold = Document(tokens, tuple(Entity(*e) for e in ents), (Relation("Adverse-Effect", 2, 1),))
    pred = DocPrediction(tokens, [ScoredEntity(*e, 0.9) for e in ents], [ScoredRelation("Adverse-Effect", 2, 1, 0.8)])
    seen = {}

    def fake_predict(model, tokenizer, docs, options, **kw):
        seen["no_overlap"] = options.no_overlap
        return [pred]

    monkeypatch.setattr(evaluation, "predict_documents", fake_predict)
    cfg = TrainConfig(train_path="x", types_path="y", no_overlap=True)
    metrics, preds = loop.evaluate_model(None, None, evaluation.Dataset("g", [gold], []), cfg, False)
    assert not seen.get("no_overlap", False)
    assert metrics.rel_plus.micro.f1 == pytest.approx(100)
    assert len(preds[0].relations) == 1


def _with_documents(records, path, size):
    """The records as documents of ``size`` sentences (fields ``document``, ``sentence``), written to ``path``."""
    out = [{**r, "document": f"d{i // size}", "sentence": i % size} for i, r in enumerate(records)]
    path.write_text(json.dumps(out))
    return path


def test_document_context_changes_nothing_without_documents_and_nothing_at_zero(tmp_path, tiny_encoder_dir):
    """context_words 0 ignores document fields; records without them (CoNLL04, ADE) are each their own
    document, so any context_words trains the same weights and predicts the same."""
    records = json.loads((CONLL04 / "conll04_train.json").read_text())[:6]
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(records))
    grouped = _with_documents(records, tmp_path / "grouped.json", 3)
    runs = {}
    for name, data, words in (("plain_0", plain, 0), ("plain_50", plain, 50), ("grouped_0", grouped, 0)):
        cfg = _cfg(tmp_path / name, tiny_encoder_dir, train_path=str(data), test_path=str(data), valid_path=None,
                   eval_every=0, epochs=1, context_words=words)
        train(cfg, show_progress=False)
        out = tmp_path / name / "run"
        runs[name] = (_weights(out / "model"), (out / "predictions.json").read_text())
    for name in ("plain_50", "grouped_0"):
        weights, predictions = runs[name]
        assert weights.keys() == runs["plain_0"][0].keys(), name
        assert all(torch.equal(weights[k], runs["plain_0"][0][k]) for k in weights), name
        assert predictions == runs["plain_0"][1], name
    spert_json = json.loads((tmp_path / "plain_50" / "run" / "model" / "spert.json").read_text())
    assert spert_json["model"]["context_words"] == 50  # stored: prediction reads it

def test_load_dataset_with_document_context(tmp_path, tiny_encoder_dir):
    from spert.data.schema import load_types
    from spert.errors import DataError
    from spert.model.context import context_encodings
    from spert.model.encoding import encode_words_batch, load_tokenizer
    from spert.train.evaluation import load_dataset

    tok, schema = load_tokenizer(str(tiny_encoder_dir)), load_types(CONLL04 / "conll04_types.json")
    records = json.loads((CONLL04 / "conll04_dev.json").read_text())[:6]
    data = _with_documents(records[::-1], tmp_path / "d.json", 3)  # sentence order: file order reversed
    tokens = [r["tokens"] for r in records[::-1]]
    assert load_dataset(data, schema, tok, 512, None, 0).encodings == encode_words_batch(tok, tokens)
    assert load_dataset(data, schema, tok, 512, None, 30).encodings == \
        context_encodings(tok, tokens, [[0, 1, 2], [3, 4, 5]], 30, 512)
    # a sentence longer than the encoder takes is an error in training, with context as without
    records[4] = {"tokens": ["word"] * 600, "entities": [], "relations": []}
    data = _with_documents(records, tmp_path / "long.json", 3)
    for words in (0, 30):
        with pytest.raises(DataError, match=r"long.json: document 4: field 'tokens': 602 subwords"):
            load_dataset(data, schema, tok, 512, None, words)


def test_init_model_starts_from_a_trained_models_encoder_and_heads(tmp_path, tiny_encoder_dir, tiny_model_dir,
                                                                    write_json):
    """A run with ``init_model`` begins with that model's weights, all of them: at a learning rate of 1e-30 it
    ends with them (a weight moves by about 1e-30 at most, which only a zero can show); without it, its heads
    are new."""
    from spert.errors import CheckpointError

    kw = dict(max_train_docs=4, epochs=1, eval_every=0, valid_path=None, test_path=None, lr=1e-30, weight_decay=0.0)
    train(_cfg(tmp_path, tiny_encoder_dir, init_model=str(tiny_model_dir), **kw), show_progress=False)
    start, end = _weights(tiny_model_dir), _weights(tmp_path / "run" / "model")
    assert start.keys() == end.keys()
    assert [k for k in start if not torch.allclose(start[k], end[k], rtol=0, atol=1e-25)] == []
    train(_cfg(tmp_path, tiny_encoder_dir, output_dir=str(tmp_path / "fresh"), **kw), show_progress=False)
    fresh = _weights(tmp_path / "fresh" / "model")
    assert not torch.equal(fresh["entity_classifier.bias"], start["entity_classifier.bias"])
    # another type set, or another encoder, is refused before training, naming what differs
    types = write_json("types.json", {"entities": {"Peop": {"short": "P", "verbose": "People"}}, "relations": {}})
    refused = r"its types \(entities Loc, Org, Peop, Other; relations Work_For.*types file.s \(entities Peop; relations -\)"
    with pytest.raises(CheckpointError, match=refused):
        train(_cfg(tmp_path, tiny_encoder_dir, init_model=str(tiny_model_dir), types_path=str(types), **kw),
              show_progress=False)
    from transformers import BertConfig, BertModel

    other = tmp_path / "wide_encoder"
    BertModel(BertConfig(vocab_size=30522, hidden_size=48, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(other)
    for f in tiny_encoder_dir.iterdir():
        if "token" in f.name or f.name == "vocab.txt":
            (other / f.name).write_bytes(f.read_bytes())
    with pytest.raises(CheckpointError, match="hidden_size 32 against 48"):
        train(_cfg(tmp_path, other, init_model=str(tiny_model_dir), **kw), show_progress=False)


def test_init_model_is_refused_by_its_setting_name_before_the_encoder_is_read(tmp_path, tiny_encoder_dir,
                                                                               monkeypatch):
    """A directory that is no model is named with the setting, and nothing has loaded encoder weights yet."""
    import spert.model.checkpoint as checkpoint
    from spert.errors import CheckpointError

    def no_weights(*args, **kwargs):
        raise AssertionError("the encoder's weights were read before init_model was checked")

    monkeypatch.setattr(checkpoint, "load_encoder", no_weights)
    (tmp_path / "not_a_model").mkdir()
    kw = dict(max_train_docs=4, epochs=1, eval_every=0, valid_path=None, test_path=None)
    with pytest.raises(CheckpointError, match=r"^init_model: .*not_a_model: no spert.json; not a spert model"):
        train(_cfg(tmp_path, tiny_encoder_dir, init_model=str(tmp_path / "not_a_model"), **kw), show_progress=False)
    with pytest.raises(CheckpointError, match=r"^init_model: .*nowhere: not a model directory"):
        train(_cfg(tmp_path, tiny_encoder_dir, init_model=str(tmp_path / "nowhere"), **kw), show_progress=False)


def test_attention_context_trains_saves_and_reloads(tmp_path, tiny_encoder_dir):
    """context_pooling attention end to end: its scorer is trained, saved, and predicts the same after reload."""
    from spert.infer.runner import predict_documents

    cfg = _cfg(tmp_path, tiny_encoder_dir, context_pooling="attention", epochs=1, eval_every=0, valid_path=None,
               max_eval_docs=4, test_path=str(CONLL04 / "conll04_train.json"))
    train(cfg, show_progress=False)
    weights = _weights(tmp_path / "run" / "model")
    assert weights["context_scorer.weight"].shape == (1, 32) and weights["context_scorer.weight"].abs().sum() > 0
    model, tok, inference = load_model(tmp_path / "run" / "model")
    assert model.settings.context_pooling == "attention"
    docs = [d["tokens"] for d in json.loads((CONLL04 / "conll04_train.json").read_text())[:4]]
    again = predict_documents(model, tok, docs, PredictOptions(rel_filter_threshold=inference.rel_filter_threshold))
    assert [p.to_json() for p in again] == json.loads((tmp_path / "run" / "predictions.json").read_text())


def test_bf16_mixed_precision_training_runs_the_encoder_in_bf16_and_keeps_fp32_weights(tmp_path, tiny_encoder_dir,
                                                                                       monkeypatch):
    """mixed_precision bf16 (Accelerate's autocast, on the CPU too): the encoder's linear layers compute in
    bf16 during the training steps, the weights stay float32 and finite, and the model saved reloads; runs
    in one process may change it (Accelerate's state is one per process), to bf16 and back."""
    import spert.train.loop as loop

    seen = []
    build = loop.build_model

    def build_and_watch(*args, **kwargs):
        model = build(*args, **kwargs)
        model.encoder.encoder.layer[0].attention.self.query.register_forward_hook(
            lambda mod, inp, out: seen.append((mod.training, out.dtype)))
        return model

    monkeypatch.setattr(loop, "build_model", build_and_watch)
    kw = dict(epochs=1, max_train_docs=4, eval_every=0, valid_path=None, test_path=None)
    train(_cfg(tmp_path / "fp32", tiny_encoder_dir, **kw), show_progress=False)  # a run before, in this process
    assert seen and {dtype for _, dtype in seen} == {torch.float32}
    seen.clear()
    train(_cfg(tmp_path, tiny_encoder_dir, mixed_precision="bf16", **kw), show_progress=False)
    assert (True, torch.bfloat16) in seen  # training forward passes ran under bf16 autocast
    seen.clear()
    train(_cfg(tmp_path / "again", tiny_encoder_dir, **kw), show_progress=False)  # and back
    assert seen and {dtype for _, dtype in seen} == {torch.float32}
    weights = _weights(tmp_path / "run" / "model")
    assert {w.dtype for w in weights.values()} == {torch.float32}
    assert all(torch.isfinite(w).all() for w in weights.values())
    model, _, _ = load_model(tmp_path / "run" / "model")
    assert next(model.parameters()).dtype == torch.float32


def test_a_tokenizer_whose_pad_id_is_not_the_embeddings_padding_idx_trains(tmp_path):
    """MPNet fixes its embedding's padding_idx to 1 whatever the tokenizer says; a tokenizer with <pad> at 0
    pads batches with 0, which must be a trained row of the compact embedding (it was not: a traceback,
    "a token outside the training vocabulary reached the trained embedding")."""
    import dataclasses

    import family_fixtures
    from family_fixtures import FAMILIES, build_encoder, short_documents, write_documents

    family = dataclasses.replace(FAMILIES["mpnet"], specials=("<pad>", "<s>", "</s>", "[UNK]", "<mask>"))
    saved = FAMILIES["mpnet"]
    FAMILIES["mpnet"] = family
    try:
        encoder = build_encoder("mpnet", tmp_path / "enc")
    finally:
        FAMILIES["mpnet"] = saved
    from spert.model.encoding import load_tokenizer

    tok = load_tokenizer(str(encoder))
    assert tok.pad_token_id == 0  # not MPNet's padding_idx 1: the case under test
    assert family_fixtures.FAMILIES["mpnet"] is saved
    docs = write_documents(tmp_path / "train.json", short_documents("train", 6))
    cfg = _cfg(tmp_path, encoder, train_path=str(docs), valid_path=None, test_path=None, epochs=1,
               compact_embeddings=True)
    train(cfg, show_progress=False)
    assert (tmp_path / "run" / "model" / "model.safetensors").exists()


def test_resuming_drops_the_log_rows_past_the_checkpoint(tmp_path, tiny_encoder_dir):
    """A run killed between checkpoints logged updates (and an epoch's validation) that the resumed
    run does again: they are dropped, the rows the checkpoint covers are kept byte for byte."""
    from spert.train.loop import prepare_output_dir
    from spert.train.resume import TrainerState

    out = tmp_path / "run"
    cfg = _cfg(tmp_path, tiny_encoder_dir)
    out.mkdir()
    head = "epoch,update,loss\r\n"
    (out / "log.csv").write_bytes((head + "1,20,0.5\r\n1,40,0.4\r\n2,60,0.3\r\n2,80,0.2\r\n").encode())
    (out / "eval.csv").write_bytes(b"epoch,ner_f1\r\n1,50.0\r\n2,6")  # the kill cut its last row short
    prepare_output_dir(out, cfg, TrainerState(epoch=1, update=60, epoch_updates=10))
    assert (out / "log.csv").read_bytes() == (head + "1,20,0.5\r\n1,40,0.4\r\n2,60,0.3\r\n").encode()
    assert (out / "eval.csv").read_bytes() == b"epoch,ner_f1\r\n1,50.0\r\n"
    (out / "eval.csv").write_bytes(b"epoch,ner_f1\r\n1,50.0\r\n1")  # cut short inside a covered epoch's row too
    prepare_output_dir(out, cfg, TrainerState(epoch=1, update=60, epoch_updates=10))
    assert (out / "eval.csv").read_bytes() == b"epoch,ner_f1\r\n1,50.0\r\n"
    (out / "eval.csv").write_bytes(b"epoch,ner")  # the header cut short: the log starts again
    prepare_output_dir(out, cfg, TrainerState(epoch=1, update=60, epoch_updates=10))
    assert not (out / "eval.csv").exists()
    prepare_output_dir(out, cfg, None)  # a new run: no earlier logs
    assert not (out / "log.csv").exists() and not (out / "eval.csv").exists()
