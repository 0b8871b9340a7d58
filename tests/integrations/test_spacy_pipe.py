"""The spaCy component gives the Python API's results on the pipeline's own tokens and sentences."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import entry_points

import pytest
import spacy
from spacy import displacy
from spacy.tokens import Doc, DocBin

from paths import CONLL04, ROOT
from spert import SpERT
from spert.data.records import Prediction
from spert.errors import ConfigError, SpertError
from spert.infer.options import PredictOptions
from spert.eval.render import render_predictions
from spert.integrations.spacy_pipe import Relation, doc_to_prediction, doc_words, make_spert, render_html


@pytest.fixture(scope="module")
def api(tiny_model_dir) -> SpERT:
    return SpERT.load(tiny_model_dir)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    docs = json.load(open(CONLL04 / "conll04_test.json", encoding="utf-8"))[:12]
    one = [" ".join(d["tokens"]) for d in docs]
    # several sentences, runs of spaces and newlines (whitespace tokens)
    return one + [f"{one[0]}  {one[2]}\n\n{one[3]}", f" \n{one[8]}\t {one[5]}\n"]


def blank(model, **config) -> spacy.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("spert", config={"model": str(model), **config})
    return nlp


@pytest.fixture(scope="module")
def nlp(tiny_model_dir) -> spacy.Language:
    return blank(tiny_model_dir)


def key(p: Prediction) -> tuple:
    """Entities and relations without scores (word spans, types, head and tail indices)."""
    return ([(e.start, e.end, e.char_start, e.char_end, e.type) for e in p.entities],
            [(r.head, r.tail, r.type) for r in p.relations])


def assert_same(got: Prediction, want: Prediction) -> None:
    assert got.tokens == want.tokens and got.sentences == want.sentences
    assert key(got) == key(want)
    scores = [(a.score, b.score) for a, b in zip(got.entities + got.relations, want.entities + want.relations)]
    assert all(a == pytest.approx(b, abs=1e-5) for a, b in scores)


def test_the_entry_point_names_the_factory():
    (ep,) = [ep for ep in entry_points(group="spacy_factories") if ep.name == "spert"]
    assert ep.load() is make_spert


def test_one_doc_equals_the_python_api_on_the_same_text(nlp, api, texts):
    # spacy.blank("en") and the rule-based sentencizer are what SpERT.predict(text) uses
    n_relations = 0
    for text in texts:
        doc, want = nlp(text), api.predict(text)[0]
        assert doc_to_prediction(doc).to_json() == want.to_json()
        n_relations += len(want.relations)
        group = doc.spans["spert"]
        assert [(s.start_char, s.end_char, s.label_) for s in group] == \
            [(e.char_start, e.char_end, e.type) for e in want.entities]
        assert group.attrs["scores"] == [e.score for e in want.entities]
        assert [(r.head.start_char, r.tail.start_char, r.label, r.score) for r in doc._.relations] == \
            [(want.entities[r.head].char_start, want.entities[r.tail].char_start, r.type, r.score)
             for r in want.relations]
    assert n_relations > 10  # the tiny model predicts relations on these texts


def test_nlp_pipe_batches_docs_into_the_model(tiny_model_dir, api, texts, monkeypatch):
    nlp = blank(tiny_model_dir, batch_size=4)
    model = nlp.get_pipe("spert").load()
    calls, predict = [], model.predict
    monkeypatch.setattr(model, "predict", lambda records, options: calls.append((len(records), options))
                        or predict(records, options))
    docs = list(nlp.pipe(texts, batch_size=5))
    assert [n for n, _ in calls] == [5, 5, 4] and calls[0][1] == PredictOptions(batch_size=4)
    for doc, want in zip(docs, api.predict(texts)):
        assert_same(doc_to_prediction(doc), want)


def test_settings_reach_the_model(tiny_model_dir, api, texts):
    nlp = blank(tiny_model_dir, rel_filter_threshold=0.6, no_overlap=True)
    for text in texts[:4]:
        assert_same(doc_to_prediction(nlp(text)), api.predict(text, rel_filter_threshold=0.6, no_overlap=True)[0])
    with pytest.raises(ConfigError, match="rel_filter_threshold"):
        blank(tiny_model_dir, rel_filter_threshold=1.5)


def test_a_foreign_relations_extension_is_an_error(tiny_model_dir, nlp):
    getter = Doc.get_extension("relations")  # registered by the nlp fixture's component
    Doc.remove_extension("relations")
    try:
        Doc.set_extension("relations", default=None)
        with pytest.raises(ConfigError, match="another package"):
            blank(tiny_model_dir)
    finally:
        Doc.set_extension("relations", getter=getter[2], force=True)


def test_empty_and_blank_texts(nlp):
    for text in ("", "  \n\t "):
        doc = nlp(text)
        assert list(doc.spans["spert"]) == [] and doc.ents == () and doc._.relations == []
        assert doc_to_prediction(doc).to_json() == {"text": text, "tokens": [], "sentences": [], "entities": [],
                                                    "relations": []}


def test_a_sentence_longer_than_the_encoder_takes_is_windowed(nlp, api, texts):
    long = " ".join([texts[2].rstrip(" .")] * 25) + " ."  # one sentence of about 750 words
    doc, want = nlp(long), api.predict(long)[0]
    assert len(want.sentences) == 1 and len(want.tokens) > api.max_length
    assert doc_to_prediction(doc).to_json() == want.to_json()
    assert max(s.end for s in doc.spans["spert"]) > api.max_length  # entities beyond the first window


class SplittingTokenizer:
    """Another tokenization than spaCy's English one: splits at spaces only, cuts long words in
    two and keeps every space after the first of a run as a token of its own."""

    def __init__(self, vocab):
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words: list[str] = []
        spaces: list[bool] = []
        for piece in re.findall(r"\S+| ", text):
            if piece == " " and words and not spaces[-1] and words[-1] != " ":
                spaces[-1] = True  # the space after a word
            elif piece == " ":
                words.append(" ")
                spaces.append(False)
            else:
                parts = [piece[:len(piece) // 2], piece[len(piece) // 2:]] if len(piece) > 6 else [piece]
                words += parts
                spaces += [False] * len(parts)
        return Doc(self.vocab, words=words, spaces=spaces)


def test_a_user_tokenizer_decides_the_words(tiny_model_dir, api, texts):
    nlp = blank(tiny_model_dir)
    nlp.tokenizer = SplittingTokenizer(nlp.vocab)
    text = texts[2].replace(" , ", " ,  ") + "  " + texts[3]
    doc = nlp(text)
    assert doc.text == text and any(t.is_space for t in doc)
    words, sentences = doc_words(doc)
    assert [doc[i].text for i in words] == [t.text for t in doc if not t.is_space]
    # the model saw the user's words and sentences, with character offsets into the text
    want = api.predict({"text": text, "tokens": [doc[i].text for i in words],
                        "sentences": [list(s) for s in sentences]})[0]
    got = doc_to_prediction(doc)
    assert got.to_json() == want.to_json() and want.entities
    for span, e in zip(doc.spans["spert"], want.entities):
        assert (span.start_char, span.end_char, span.text) == (e.char_start, e.char_end, text[e.char_start:e.char_end])
        assert not span[0].is_space and not span[-1].is_space


def test_sentences_come_from_the_pipeline(tiny_model_dir, api, texts):
    nlp = blank(tiny_model_dir)
    doc = nlp.make_doc(texts[12])
    for t in doc:
        t.is_sent_start = t.i == 0 or t.i == 5  # one boundary, set by hand
    words, sentences = doc_words(doc)
    assert len(sentences) == 2 and words[sentences[1][0]] == 5
    doc = nlp.get_pipe("spert")(doc)
    want = api.predict({"text": doc.text, "tokens": [doc[i].text for i in words],
                        "sentences": [list(s) for s in sentences]})[0]
    assert doc_to_prediction(doc).to_json() == want.to_json()


def spans(group) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.label_) for s in group]


def test_an_earlier_components_entities_stay_unless_overwrite(tiny_model_dir, nlp, texts):
    text = texts[2]
    alone = nlp(text)
    first = alone.ents[0]

    def pipeline(**config) -> spacy.Language:
        p = spacy.blank("en")
        p.add_pipe("entity_ruler").add_patterns([{"label": "RULE", "pattern": [{"ORTH": t.text} for t in first]}])
        p.add_pipe("spert", config={"model": str(tiny_model_dir), **config})
        return p

    kept = pipeline()(text)  # the rule matched SpERT's first entity: the rule's stays in doc.ents
    assert spans(kept.ents) == sorted([(first.start, first.end, "RULE")] + spans(alone.ents[1:]))
    assert spans(kept.spans["spert"]) == spans(alone.spans["spert"])  # the span group has every entity
    overwritten = pipeline(overwrite_ents=True)(text)
    assert spans(overwritten.ents) == spans(alone.ents)
    untouched = pipeline(set_ents=False)(text)
    assert spans(untouched.ents) == [(first.start, first.end, "RULE")]
    assert spans(untouched.spans["spert"]) == spans(alone.spans["spert"])


def test_relations_are_spans_and_survive_serialisation(nlp, texts):
    doc = nlp(texts[3])
    rels = doc._.relations
    assert rels and all(isinstance(r, Relation) for r in rels)
    group = {(s.start, s.end, s.label_) for s in doc.spans["spert"]}
    assert all((r.head.start, r.head.end, r.head.label_) in group and (r.tail.start, r.tail.end, r.tail.label_) in group
               for r in rels)
    (back,) = DocBin(docs=[doc], store_user_data=True).from_bytes(
        DocBin(docs=[doc], store_user_data=True).to_bytes()).get_docs(nlp.vocab)
    assert [(*spans([r.head, r.tail]), r.label, r.score) for r in back._.relations] == \
        [(*spans([r.head, r.tail]), r.label, r.score) for r in rels]
    assert spans(back.spans["spert"]) == spans(doc.spans["spert"])
    assert back.spans["spert"].attrs["scores"] == doc.spans["spert"].attrs["scores"]


def test_to_disk_and_spacy_load_give_the_same_results(tiny_model_dir, nlp, texts, tmp_path):
    # the pipeline carries its model: the directory the config names is gone when it loads
    source = tmp_path / "model"
    shutil.copytree(tiny_model_dir, source)
    blank(source).to_disk(tmp_path / "pipeline")
    shutil.rmtree(source)
    assert (tmp_path / "pipeline" / "spert" / "model" / "spert.json").is_file()
    loaded = spacy.load(tmp_path / "pipeline")
    for a, b in zip(loaded.pipe(texts), nlp.pipe(texts)):
        assert doc_to_prediction(a).to_json() == doc_to_prediction(b).to_json()
    loaded.to_disk(tmp_path / "pipeline")  # saved again where it was loaded from
    assert (tmp_path / "pipeline" / "spert" / "model" / "spert.json").is_file()
    with pytest.raises(SpertError, match="to_disk"):
        nlp.to_bytes()
    assert isinstance(nlp.to_bytes(exclude=["spert"]), bytes)


def test_protocol_probes_never_load_the_model(tiny_model_dir, tmp_path, monkeypatch):
    """spacy.load links components with isinstance(proc, ListenedToComponent), a runtime protocol check
    that reads each member in hash-seed order: when it read `model` first it loaded the config's path,
    which a saved pipeline need not have (about one load in ten failed). Here every member is read,
    every time, before from_disk, with that path gone."""
    import spacy.ty

    source = tmp_path / "model"
    shutil.copytree(tiny_model_dir, source)
    blank(source).to_disk(tmp_path / "pipeline")
    shutil.rmtree(source)
    probed: list[bool] = []
    real = spacy.ty.ListenedToComponent

    class EveryMember(type(real)):  # the protocol check, reading every member whatever the hash seed
        def __instancecheck__(cls, proc):
            probed.append(True)
            return all(hasattr(proc, name) for name in ("model", "listeners", "listener_map",
                                                         "listening_components"))

    monkeypatch.setattr(spacy.ty, "ListenedToComponent", EveryMember("ListenedToComponent", (), {}))
    loaded = spacy.load(tmp_path / "pipeline")  # raised CheckpointError (the gone path) when probed first
    assert probed
    component = loaded.get_pipe("spert")
    assert component.model.entity_types  # loaded from the pipeline's own copy
    assert component.source == tmp_path / "pipeline" / "spert" / "model"
    fresh = blank(tiny_model_dir)
    assert not hasattr(fresh.get_pipe("spert"), "model")  # not loaded: reading it loads nothing
    assert fresh.get_pipe("spert").load() is fresh.get_pipe("spert").model


def test_onnx_backend(tiny_onnx_dirs, api, texts):
    nlp = blank(tiny_onnx_dirs["onnx"], backend="onnx")
    for text in texts[:4]:
        assert_same(doc_to_prediction(nlp(text)), api.predict(text)[0])


def test_rendering(nlp, api, texts):
    docs = [nlp(t) for t in texts[:4]]
    assert render_html(docs, title="t") == render_predictions(api.predict(texts[:4]), title="t")
    html = displacy.render(docs[0], style="ent")
    assert all(e.label_ in html for e in docs[0].ents) and docs[0].ents


@pytest.mark.filterwarnings("ignore:.*W006")  # the tiny random model may find no entity there
def test_the_readme_example_runs(tiny_model_dir, tmp_path, monkeypatch):
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### spaCy pipeline component\n", 1)[1]
    code = section.split("```python\n", 1)[1].split("\n```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace("runs/conll04/model", str(tiny_model_dir)), "README.md", "exec"), {})
    assert "<html" in (tmp_path / "page.html").read_text(encoding="utf-8")
    assert (tmp_path / "conll04_pipeline" / "spert" / "model" / "spert.json").is_file()


@pytest.mark.slow
def test_spacy_package_builds_installs_and_loads(tiny_model_dir, nlp, texts, tmp_path):
    # `spacy package` of a pipeline with the component: the wheel installs (pip --target, no
    # dependencies fetched) and loads by name in a fresh process, with its own copy of the model
    source = tmp_path / "model"
    shutil.copytree(tiny_model_dir, source)
    blank(source).to_disk(tmp_path / "pipeline")
    shutil.rmtree(source)
    (tmp_path / "packages").mkdir()

    def run(args, **kw) -> subprocess.CompletedProcess:
        done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, **kw)
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    run([sys.executable, "-m", "spacy", "package", "pipeline", "packages", "--name", "spert_tiny",
         "--version", "0.0.1", "--build", "wheel", "--force"])
    (wheel,) = (tmp_path / "packages").glob("*/dist/*.whl")
    run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", "site", str(wheel)])
    code = ("import json, sys, spacy\n"
            "from pathlib import Path\n"
            "nlp = spacy.load('en_spert_tiny')  # the factory comes from the entry point\n"
            "from spert.integrations.spacy_pipe import doc_to_prediction\n"
            "source = nlp.get_pipe('spert').source\n"
            "assert source.resolve().is_relative_to(Path('site').resolve()), source\n"
            "print(json.dumps([doc_to_prediction(d).to_json() for d in nlp.pipe(json.load(sys.stdin))]))\n")
    done = run([sys.executable, "-c", code], input=json.dumps(texts), env={**os.environ, "PYTHONPATH": "site"})
    assert json.loads(done.stdout) == [doc_to_prediction(d).to_json() for d in nlp.pipe(texts)]
