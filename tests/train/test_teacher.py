"""Distillation end to end (spert distill): a tiny student toward a tiny teacher's outputs."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from family_fixtures import build_encoder, short_documents, write_documents
from paths import CONLL04
from spert.errors import ConfigError, SpertError
from spert.infer.extractor import SpERT
from spert.train.config import load_config
from spert.train.loop import train


def _cfg(tmp_path, encoder, name="run", **kw):
    base = dict(train_path=str(CONLL04 / "conll04_train.json"), types_path=str(CONLL04 / "conll04_types.json"),
                output_dir=str(tmp_path / name), encoder=str(encoder), max_train_docs=12, epochs=2, batch_size=2,
                lr=1e-3, log_every=1, neg_entity_count=20, neg_relation_count=20)
    base.update(kw)
    return load_config(None, base)


def _weights(run):
    return load_file(str(run / "model" / "model.safetensors"))


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class _Interrupt(Exception):
    pass


def _interrupted(cfg):
    """Train ``cfg`` until its first epoch's end, then stop as an interrupted run would; returns ``cfg``."""
    def stop(epoch, state):
        if epoch == 1:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        train(cfg, show_progress=False, on_epoch_end=stop)
    return cfg


def test_distill_weight_zero_is_the_plain_run_bit_for_bit(tmp_path, tiny_encoder_dir, tiny_model_dir):
    torch.set_num_threads(1)
    train(_cfg(tmp_path, tiny_encoder_dir, "plain"), show_progress=False)
    train(_cfg(tmp_path, tiny_encoder_dir, "zero", teacher=str(tiny_model_dir), distill_weight=0.0),
          show_progress=False)
    assert _same(_weights(tmp_path / "plain"), _weights(tmp_path / "zero"))
    strip = lambda p: [line.split(",")[:6] for line in (p / "log.csv").read_text().splitlines()]
    assert strip(tmp_path / "plain") == strip(tmp_path / "zero")
    # a weight above 0 learns something else
    train(_cfg(tmp_path, tiny_encoder_dir, "half", teacher=str(tiny_model_dir), distill_weight=0.5),
          show_progress=False)
    assert not _same(_weights(tmp_path / "plain"), _weights(tmp_path / "half"))
    record = json.loads((tmp_path / "half" / "model" / "distillation.json").read_text())
    assert record["teacher"] == str(tiny_model_dir) and record["distill_weight"] == 0.5
    assert "teacher" in (tmp_path / "half" / "model" / "README.md").read_text().lower()


def test_a_teacher_of_other_types_or_width_is_refused_before_any_weights_load(tmp_path, tiny_encoder_dir,
                                                                             tiny_model_dir, monkeypatch):
    import spert.train.loop as loop

    monkeypatch.setattr(loop, "build_start_model", lambda *a: pytest.fail("weights were loaded"))
    types = json.loads((CONLL04 / "conll04_types.json").read_text())
    del types["entities"]["Org"]
    fewer = tmp_path / "types.json"
    fewer.write_text(json.dumps(types))
    docs = [d for d in json.loads((CONLL04 / "conll04_train.json").read_text())[:40]
            if all(e["type"] != "Org" for e in d["entities"])]
    data = write_documents(tmp_path / "train.json", docs)
    with pytest.raises(ConfigError) as e:
        train(_cfg(tmp_path, tiny_encoder_dir, types_path=str(fewer), train_path=str(data),
                   teacher=str(tiny_model_dir)), show_progress=False)
    message = str(e.value)
    assert message.startswith(f"teacher: {tiny_model_dir} has other types") and "\n" not in message
    assert "entities Loc, Org, Peop, Other" in message and "against entities Loc, Peop, Other" in message
    with pytest.raises(ConfigError, match=r"has max_span_size 10, the run 8"):
        train(_cfg(tmp_path, tiny_encoder_dir, max_span_size=8, teacher=str(tiny_model_dir)), show_progress=False)
    with pytest.raises(SpertError, match="not a model directory"):
        train(_cfg(tmp_path, tiny_encoder_dir, teacher=str(tmp_path / "nowhere")), show_progress=False)


def _agreement(a: list, b: list) -> float:
    """F1 of one model's entities (span and type) against another's, over the same documents."""
    x = {(i, e.start, e.end, e.type) for i, p in enumerate(a) for e in p.entities}
    y = {(i, e.start, e.end, e.type) for i, p in enumerate(b) for e in p.entities}
    return 2 * len(x & y) / max(1, len(x) + len(y))


def test_a_student_with_another_tokenizer_learns_the_teachers_predictions(tmp_path, tiny_encoder_dir):
    """The teacher reads BERT word pieces, the student byte-level BPE (RoBERTa): spans are words, so
    the targets align. The teacher learnt the gold with its entity types rotated (Loc -> Peop -> Org ->
    Other -> Loc); a student trained on the gold and the teacher's outputs alone (weight 1) predicts
    the teacher's types, one trained on the gold alone does not."""
    rotate = {"Loc": "Peop", "Peop": "Org", "Org": "Other", "Other": "Loc"}
    docs = short_documents("train", 24)
    rotated = [{**d, "entities": [{**e, "type": rotate[e["type"]]} for e in d["entities"]]} for d in docs]
    common = dict(max_train_docs=None, epochs=15, lr=3e-3, neg_entity_count=100)
    train(_cfg(tmp_path, tiny_encoder_dir, "teacher", train_path=str(write_documents(tmp_path / "r.json", rotated)),
               **common), show_progress=False)
    student = build_encoder("roberta", tmp_path / "roberta")
    gold = str(write_documents(tmp_path / "gold.json", docs))
    train(_cfg(tmp_path, student, "distilled", train_path=gold, teacher=str(tmp_path / "teacher" / "model"),
               distill_weight=1.0, distill_temperature=1.0, **common), show_progress=False)
    train(_cfg(tmp_path, student, "gold", train_path=gold, **common), show_progress=False)
    words = [d["tokens"] for d in docs]
    teacher = SpERT.load(tmp_path / "teacher" / "model").predict(words)
    assert sum(len(p.entities) for p in teacher) >= 20
    distilled = _agreement(SpERT.load(tmp_path / "distilled" / "model").predict(words), teacher)
    plain = _agreement(SpERT.load(tmp_path / "gold" / "model").predict(words), teacher)
    assert distilled > 0.6 and plain < 0.3, (distilled, plain)  # measured: 0.81 and 0.06


def test_resume_with_a_teacher_is_exact(tmp_path, tiny_encoder_dir, tiny_model_dir):
    torch.set_num_threads(1)
    kw = dict(teacher=str(tiny_model_dir), distill_weight=0.7, epochs=3)
    train(_cfg(tmp_path, tiny_encoder_dir, "whole", **kw), show_progress=False)

    part = _interrupted(_cfg(tmp_path, tiny_encoder_dir, "part", **kw))
    with pytest.raises(SpertError, match=r"changed settings: distill_weight \(was 0.7, now 0.2\)"):
        train(part.model_copy(update={"distill_weight": 0.2}), resume=True, show_progress=False)
    train(part, resume=True, show_progress=False)
    assert _same(_weights(tmp_path / "whole"), _weights(tmp_path / "part"))


def test_spert_distill_on_the_command_line(tmp_path, tiny_encoder_dir, tiny_model_dir):
    import subprocess
    import sys

    out = tmp_path / "student"
    args = [sys.executable, "-m", "spert", "distill", "--teacher", str(tiny_model_dir), "--train_path",
            str(CONLL04 / "conll04_train.json"), "--types_path", str(CONLL04 / "conll04_types.json"), "--encoder",
            str(tiny_encoder_dir), "--max_train_docs", "6", "--epochs", "1", "--neg_entity_count", "10",
            "--neg_relation_count", "10", "--distill_weight", "0.3", "--output_dir", str(out), "-q"]
    p = subprocess.run(args, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    assert json.loads((out / "config.json").read_text())["teacher"] == str(tiny_model_dir)
    assert json.loads((out / "model" / "distillation.json").read_text())["distill_weight"] == 0.3
    # an ordinary model directory: spert predict reads it (short sentences: a one-epoch student may call
    # most spans entities, and their pairs grow with the square)
    few = write_documents(tmp_path / "few.json", short_documents("dev", 5, max_words=12))
    p = subprocess.run([sys.executable, "-m", "spert", "predict", "-m", str(out / "model"), str(few),
                        "-o", str(tmp_path / "p.jsonl"), "-q"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    p = subprocess.run(args[:5] + [str(tmp_path / "nowhere")] + args[6:], capture_output=True, text=True)
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:") or "Traceback" in line]
    assert p.returncode == 2 and errors == [f"error: {tmp_path / 'nowhere'}: not a model directory"], p.stderr


def test_a_teacher_beside_negatives_across_sentences(tmp_path, tiny_encoder_dir, tiny_model_dir):
    """The teacher classifies the student's pairs across sentences too (the same pairs, in the same
    order); a teacher with document context, which cannot, is refused before any weights load."""
    import shutil

    train(_cfg(tmp_path, tiny_encoder_dir, "both", teacher=str(tiny_model_dir), neg_cross_sentence_count=4),
          show_progress=False)
    assert (tmp_path / "both" / "model" / "distillation.json").exists()
    windowed = tmp_path / "windowed"
    shutil.copytree(tiny_model_dir, windowed)
    meta = json.loads((windowed / "spert.json").read_text())
    meta["model"]["context_words"] = 8
    (windowed / "spert.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"cannot classify the run's negatives across sentences"):
        train(_cfg(tmp_path, tiny_encoder_dir, teacher=str(windowed), neg_cross_sentence_count=4),
              show_progress=False)


def test_the_teachers_reading_of_every_candidate_gives_its_logits_of_the_students_batch(tiny_model_dir):
    """TeacherModel.read classifies every candidate span; the targets it gives the student's spans and
    pairs (sampled, across sentences and for distillation alone) are the teacher's own forward pass
    over exactly the student's batch."""
    import numpy as np

    from spert.data.documents import read_documents
    from spert.model.batch import add_distillation_pairs, add_negative_pairs, collate
    from spert.model.encoders import pad_id
    from spert.train.distillation import entity_distillation_loss, relation_distillation_loss
    from spert.train.sampling import cross_sentence_negatives, distillation_spans, seeded_rng, teacher_pairs, training_sample
    from spert.train.teacher import load_teacher

    torch.manual_seed(0)
    teacher = load_teacher(tiny_model_dir, CONLL04 / "conll04_train.json", 4, torch.device("cpu"), weight=0.5,
                           temperature=2.0)
    schema = teacher.model.schema
    docs = read_documents(CONLL04 / "conll04_train.json", schema)[:4]
    ids = [0, 1, 2]
    samples = [distillation_spans(training_sample(docs[j], schema, seeded_rng(0, 0, j), neg_entity_count=8,
                                                  neg_relation_count=4), len(docs[j].tokens), 10, 5,
                                  np.random.default_rng(j)) for j in ids]
    seen = teacher.read(ids, samples, torch.device("cpu"))
    assert len(seen.entity_logits) >= sum(len(s.spans) for s in samples)
    pairs, offset = [], 0
    for b in range(len(ids)):
        samples[b], local = teacher_pairs(samples[b], seen.kept(b), 3, np.random.default_rng(b))
        pairs.append(local + offset)
        offset += len(samples[b].spans)
    batch = collate([teacher.encodings[j] for j in ids], samples, pad_id(teacher.tokenizer))
    add_negative_pairs(batch, cross_sentence_negatives(samples, [len(docs[j].tokens) for j in ids], 2,
                                                       np.random.default_rng(0)))
    add_distillation_pairs(batch, np.concatenate(pairs))
    assert batch.distill_pairs > 0
    with torch.no_grad():
        direct = teacher.model(batch)  # the teacher's forward over the student's very batch
    got = teacher.loss(direct, batch, samples, seen)  # a student equal to its teacher...
    expected = (entity_distillation_loss(direct.entity_logits, direct.entity_logits, 2.0)
                + relation_distillation_loss(direct.rel_logits, direct.rel_logits, 2.0))
    torch.testing.assert_close(got, expected)  # ...has no entity loss and the teacher's own relation entropy
    rows = seen.rows(samples)
    torch.testing.assert_close(seen.entity_logits[rows], direct.entity_logits, rtol=1e-5, atol=1e-5)


def test_distillation_spans_and_teacher_pairs_train_resume_exactly_and_need_a_teacher(tmp_path, tiny_encoder_dir,
                                                                                    tiny_model_dir):
    torch.set_num_threads(1)
    kw = dict(teacher=str(tiny_model_dir), distill_spans=30, distill_teacher_pairs=6, epochs=2)
    train(_cfg(tmp_path, tiny_encoder_dir, "whole", **kw), show_progress=False)
    record = json.loads((tmp_path / "whole" / "model" / "distillation.json").read_text())
    assert record["distill_spans"] == 30 and record["distill_teacher_pairs"] == 6

    part = _interrupted(_cfg(tmp_path, tiny_encoder_dir, "part", **kw))
    train(part, resume=True, show_progress=False)
    assert _same(_weights(tmp_path / "whole"), _weights(tmp_path / "part"))
    plain = _cfg(tmp_path, tiny_encoder_dir, "plain", teacher=str(tiny_model_dir), epochs=2)
    train(plain, show_progress=False)
    assert not _same(_weights(tmp_path / "whole"), _weights(tmp_path / "plain"))  # they change the loss
    with pytest.raises(ConfigError, match="need a teacher"):
        _cfg(tmp_path, tiny_encoder_dir, distill_spans=10)


def test_silver_sentences_labelled_by_the_teacher_join_the_training_set(tmp_path, tiny_encoder_dir, tiny_model_dir):
    """silver_path (raw text and SpERT JSON) and silver_swap: the teacher labels the sentences once,
    silver.json holds its labels, the student trains on gold then silver, and a resumed run reads
    silver.json back and ends as the uninterrupted one."""
    from spert.data.documents import read_documents
    from spert.train.loop import set_up

    torch.set_num_threads(1)
    text = tmp_path / "text.txt"
    text.write_text("John Smith works for Acme Corp in Paris. He lives in Rome.\n\nMary Jones visited Berlin.\n")
    kw = dict(teacher=str(tiny_model_dir), silver_path=str(text), silver_swap=1, epochs=2, max_train_docs=6)
    run = set_up(_cfg(tmp_path, tiny_encoder_dir, "whole", **kw), resume=False)
    silver = read_documents(tmp_path / "whole" / "silver.json", run.schema)
    gold = run.train_set.docs[:6]
    assert run.train_set.docs[6:] == silver and len(run.teacher.encodings) == len(run.train_set.docs)
    assert [d.tokens for d in silver[:3]] == [tuple("John Smith works for Acme Corp in Paris .".split()),
                                              tuple("He lives in Rome .".split()), tuple("Mary Jones visited Berlin .".split())]
    swapped = silver[3:]  # one copy per gold sentence that has a mention to swap, never a gold sentence
    assert 0 < len(swapped) <= 6 and not {d.tokens for d in swapped} & {d.tokens for d in gold}
    assert sum(len(d.entities) for d in silver) > 0  # the tiny teacher's predictions, not the gold
    train(_cfg(tmp_path, tiny_encoder_dir, "whole", **kw), show_progress=False)
    assert json.loads((tmp_path / "whole" / "model" / "distillation.json").read_text())["silver_sentences"] == len(silver)

    part = _interrupted(_cfg(tmp_path, tiny_encoder_dir, "part", **kw))
    text.write_text("Something else entirely.\n")  # resumed: silver.json is read back, not labelled again
    train(part, resume=True, show_progress=False)
    assert _same(_weights(tmp_path / "whole"), _weights(tmp_path / "part"))
    with pytest.raises(ConfigError, match="need a teacher"):
        _cfg(tmp_path, tiny_encoder_dir, silver_swap=1)
    with pytest.raises(ConfigError, match="no documents to give context_words"):
        _cfg(tmp_path, tiny_encoder_dir, teacher=str(tiny_model_dir), silver_swap=1, context_words=8)


def test_swap_mentions_by_hand():
    import numpy as np

    from spert.data.documents import Document, Entity
    from spert.data.silver import mentions_by_type, swap_mentions

    docs = [Document(tuple("Smith works for Acme".split()), (Entity("Peop", 0, 1), Entity("Org", 3, 4))),
            Document(tuple("Mary Jones joined Globex Inc .".split()), (Entity("Peop", 0, 2), Entity("Org", 3, 5))),
            Document(tuple("nothing here".split()))]
    assert mentions_by_type(docs) == {"Peop": [("Smith",), ("Mary", "Jones")], "Org": [("Acme",), ("Globex", "Inc")]}
    out = swap_mentions(docs, 1, np.random.default_rng(0))
    # each type has one other mention: the swap is determined
    assert [d.tokens for d in out] == [tuple("Mary Jones works for Globex Inc".split()),
                                      tuple("Smith joined Acme .".split())]
    assert all(not d.entities for d in out)
    assert swap_mentions(docs, 3, np.random.default_rng(0)) == out  # duplicates dropped


def test_swap_mentions_keeping_the_labels_by_hand():
    """keep_labels: the same sentences, the source's entities moved to their new words (a kept one,
    the only mention of its type, shifted by the longer mentions before it) and its relations."""
    import numpy as np

    from spert.data.documents import Document, Entity, Relation
    from spert.data.silver import swap_mentions

    rel = (Relation("Work_For", 0, 1), Relation("Live_In", 0, 2))
    docs = [Document(tuple("Smith of Acme met the Pope in Rome".split()),
                     (Entity("Peop", 0, 1), Entity("Org", 2, 3), Entity("Loc", 7, 8)), rel),
            Document(tuple("Mary Jones joined Globex Inc .".split()), (Entity("Peop", 0, 2), Entity("Org", 3, 5)))]
    plain = swap_mentions(docs, 1, np.random.default_rng(0))
    kept = swap_mentions(docs, 1, np.random.default_rng(0), keep_labels=True)
    assert [d.tokens for d in kept] == [d.tokens for d in plain]
    assert kept[0].tokens == tuple("Mary Jones of Globex Inc met the Pope in Rome".split())
    assert kept[0].entities == (Entity("Peop", 0, 2), Entity("Org", 3, 5), Entity("Loc", 9, 10))
    assert kept[0].relations == rel
    assert kept[1].tokens == tuple("Smith joined Acme .".split())
    assert kept[1].entities == (Entity("Peop", 0, 1), Entity("Org", 2, 3)) and kept[1].relations == ()


def test_cached_teacher_outputs_are_the_online_teachers_targets(tmp_path, tiny_model_dir):
    """The outputs cached once (every candidate span, every ordered pair of gold entities and of the
    spans the teacher keeps) give the student's batch the targets the online teacher gives it:
    sampled spans and pairs, distillation spans and teacher pairs; what it keeps is the same too."""
    import numpy as np

    from spert.data.documents import read_documents
    from spert.model.batch import add_distillation_pairs, collate
    from spert.model.encoders import pad_id
    from spert.train.sampling import distillation_spans, seeded_rng, teacher_pairs, training_sample
    from spert.train.teacher import load_teacher

    cpu = torch.device("cpu")
    online = load_teacher(tiny_model_dir, CONLL04 / "conll04_train.json", 7, cpu, weight=0.5, temperature=2.0)
    cached = load_teacher(tiny_model_dir, CONLL04 / "conll04_train.json", 7, cpu, weight=0.5, temperature=2.0)
    schema = online.model.schema
    docs = read_documents(CONLL04 / "conll04_train.json", schema)[:7]
    cached.cache(docs, tmp_path, kept_pairs=True, batch_size=3, device=cpu)  # batches of 3: other paddings
    assert cached.model is None and (tmp_path / "teacher_outputs" / "outputs.json").is_file()
    for ids in ([0, 1], [5, 2, 6], [3]):
        samples = [distillation_spans(training_sample(docs[j], schema, seeded_rng(0, 0, j), neg_entity_count=8,
                                                      neg_relation_count=4), len(docs[j].tokens), 10, 5,
                                      np.random.default_rng(j)) for j in ids]
        seen_online, seen_cached = online.read(ids, samples, cpu), cached.read(ids, samples, cpu)
        pairs, offset = [], 0
        for b in range(len(ids)):
            assert seen_online.kept(b).tolist() == seen_cached.kept(b).tolist()
            samples[b], local = teacher_pairs(samples[b], seen_online.kept(b), 3, np.random.default_rng(b))
            pairs.append(local + offset)
            offset += len(samples[b].spans)
        batch = collate([online.encodings[j] for j in ids], samples, pad_id(online.tokenizer))
        if sum(map(len, pairs)):
            add_distillation_pairs(batch, np.concatenate(pairs))
        want, got = seen_online.targets(samples, batch), seen_cached.targets(samples, batch)
        assert got[1].shape[0] == len(batch.pair_head) > 0
        for w, g in zip(want, got):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)

    # the cache is read back for the same teacher and sentences, computed again for others of the same count
    entity = tmp_path / "teacher_outputs" / "entity.f32"
    stamp = entity.stat().st_mtime_ns
    again = load_teacher(tiny_model_dir, CONLL04 / "conll04_train.json", 8, cpu, weight=0.5, temperature=2.0)
    again.cache(docs, tmp_path, kept_pairs=True, batch_size=3, device=cpu)
    assert entity.stat().st_mtime_ns == stamp
    others = [docs[0].__class__(docs[0].tokens, docs[0].entities[:1], ()), *docs[1:]]  # one gold entity fewer
    for kept_pairs, sentences in ((False, docs), (True, others)):  # another setting, other gold spans
        again = load_teacher(tiny_model_dir, CONLL04 / "conll04_train.json", 7, cpu, weight=0.5, temperature=2.0)
        again.cache(sentences, tmp_path, kept_pairs=kept_pairs, batch_size=3, device=cpu)
        assert entity.stat().st_mtime_ns != stamp
        stamp = entity.stat().st_mtime_ns


def test_cached_teacher_outputs_in_a_run(tmp_path, tiny_encoder_dir, tiny_model_dir):
    """auto caches (the run's teacher_outputs/ directory, read back on resume, not computed again) and
    ends near the online teacher's run (the same targets up to float rounding); pairs the cache cannot
    hold choose the online teacher, and asking for the cache with them is refused."""
    torch.set_num_threads(1)
    train(_cfg(tmp_path, tiny_encoder_dir, "cached", teacher=str(tiny_model_dir)), show_progress=False)
    train(_cfg(tmp_path, tiny_encoder_dir, "online", teacher=str(tiny_model_dir), teacher_outputs="online"),
          show_progress=False)
    assert json.loads((tmp_path / "cached" / "model" / "distillation.json").read_text())["teacher_outputs"] == "cached"
    assert json.loads((tmp_path / "online" / "model" / "distillation.json").read_text())["teacher_outputs"] == "online"
    assert not (tmp_path / "online" / "teacher_outputs").exists()
    a, b = _weights(tmp_path / "cached"), _weights(tmp_path / "online")
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-3

    part = _cfg(tmp_path, tiny_encoder_dir, "part", teacher=str(tiny_model_dir))
    _interrupted(part)
    stamp = (tmp_path / "part" / "teacher_outputs" / "entity.f32").stat().st_mtime_ns
    train(part, resume=True, show_progress=False)
    assert (tmp_path / "part" / "teacher_outputs" / "entity.f32").stat().st_mtime_ns == stamp  # read back
    assert _same(_weights(tmp_path / "cached"), _weights(tmp_path / "part"))

    assert not _cfg(tmp_path, tiny_encoder_dir, teacher=str(tiny_model_dir), neg_cross_sentence_count=2).teacher_cached()
    assert not _cfg(tmp_path, tiny_encoder_dir, teacher=str(tiny_model_dir), negatives="weak").teacher_cached()
    with pytest.raises(ConfigError, match="teacher_outputs online"):
        _cfg(tmp_path, tiny_encoder_dir, teacher=str(tiny_model_dir), teacher_outputs="cached", negatives="weak")
    with pytest.raises(ConfigError, match="need a teacher"):
        _cfg(tmp_path, tiny_encoder_dir, teacher_outputs="online")


def test_the_cache_holds_pairs_of_the_most_confident_kept_spans_by_hand():
    import numpy as np

    from spert.train.teacher_outputs import most_confident, pair_spans

    kept = np.array([[0, 1], [1, 2], [2, 3], [3, 4]])
    # likeliest-type probabilities: span 0 1/3, span 1 0.98, span 2 0.58, span 3 0.5
    logits = np.array([[0.0, 0.0, 0.0], [0.0, 5.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, -9.0]], dtype=np.float32)
    assert most_confident(kept, logits, 2).tolist() == [[1, 2], [2, 3]]  # in their order
    assert most_confident(kept, logits, 4).tolist() == kept.tolist()
    gold = np.array([[2, 3], [5, 7]])
    assert pair_spans(gold, kept[:3]).tolist() == [[2, 3], [5, 7], [0, 1], [1, 2]]
    assert pair_spans(gold, None).tolist() == gold.tolist()
