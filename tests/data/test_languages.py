"""Raw text in other languages: spaCy's rules for the language split words and sentences, offsets stay exact.

A language is a spaCy code (``de``: ``spacy.blank("de")`` and the sentencizer, no download) or
an installed pipeline's name, chosen by ``--language`` in ``spert predict``, ``spert serve`` and
``spert data import``, and by ``SpERT.load(path, language=...)``. The model is a tiny
multilingual XLM-RoBERTa-style encoder (SentencePiece) built in the test, with biased heads
so that it finds entities. Chinese: spaCy's blank ``zh`` makes every character a word.
"""

from __future__ import annotations

import functools
import json

import pytest
import spacy
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from family_fixtures import bias_heads, build_encoder
from paths import CONLL04
from spert.data.schema import load_types
from spert.data.text import TextTokenizer, text_pipeline
from spert.errors import SpertError
from spert.infer.extractor import SpERT
from spert.model.checkpoint import build_model, save_model
from spert.model.encoding import load_tokenizer
from spert.model.settings import ModelSettings

# Each text holds a word that the language's rules keep whole and English rules split (or the reverse).
TEXTS = {
    "de": ("Frau Dr. Müller wohnt z.B. in München. Sie arbeitet bei Siemens.", "z.B."),
    "fr": ("Aujourd'hui, M. Dupont habite à Saint-Étienne. Il travaille chez Renault.", "Saint-Étienne"),
    "es": ("El Sr. García vive en Madrid. Trabaja en Telefónica.", "Sr."),
    "zh": ("李明出生于北京。他在上海的华为工作！", "北"),
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny multilingual (XLM-R-style) model, untrained, whose heads find entities."""
    root = tmp_path_factory.mktemp("multilingual")
    encoder = build_encoder("xlm-roberta", root / "encoder")
    model = build_model(ModelSettings(encoder=str(encoder)), load_types(CONLL04 / "conll04_types.json"), str(encoder))
    bias_heads(model)
    save_model(model, load_tokenizer(str(encoder)), root / "model")
    return root / "model"


@functools.lru_cache(maxsize=None)
def blank(language: str):
    nlp = spacy.blank(language)  # French builds thousands of tokenizer exceptions: once
    nlp.add_pipe("sentencizer")
    return nlp


def spacy_split(language: str, text: str) -> tuple[list[str], list[str]]:
    """Words and sentences as spaCy's rules for the language give them."""
    doc = blank(language)(text)
    return [t.text for t in doc if t.text.strip()], [s.text for s in doc.sents]


def check_record(record: dict, language: str) -> None:
    """Words and sentences are spaCy's for the language; every entity's characters are its words."""
    text = record["text"]
    words, sentences = spacy_split(language, text)
    assert record["tokens"] == words
    starts = [a for a, _ in record["sentences"]]
    assert len(starts) == len(sentences)
    assert record["entities"], "the biased heads find entities"
    for e in record["entities"]:
        span = text[e["char_start"]:e["char_end"]]
        assert span == e["text"] and span.startswith(words[e["start"]]) and span.endswith(words[e["end"] - 1])


def test_a_language_is_a_code_a_blank_pipeline_or_an_installed_pipeline():
    assert text_pipeline() is None and text_pipeline(None, "en_core_web_sm") == "en_core_web_sm"
    assert text_pipeline("de") == "blank:de" and text_pipeline("blank:fr") == "blank:fr"
    assert text_pipeline("de_core_news_sm") == "de_core_news_sm"
    with pytest.raises(SpertError, match="--language de and --spacy-model x both choose how text is split"):
        text_pipeline("de", "x")
    with pytest.raises(SpertError, match="language 'qq': spaCy cannot split it: .*E048"):
        TextTokenizer(text_pipeline("qq"))("text")


@pytest.mark.parametrize("language", list(TEXTS))
def test_spacy_rules_of_the_language_through_the_api(model_dir, language):
    text, kept_whole = TEXTS[language]
    (pred,) = SpERT.load(model_dir, language=language).predict(text)
    record = pred.to_json()
    check_record(record, language)
    assert kept_whole in record["tokens"]
    assert all(text[a:b] == w for w, (a, b) in zip(pred.tokens, pred.offsets))
    english = TextTokenizer()(text)
    assert english.words != pred.tokens  # the language's rules, not English ones


def test_chinese_words_are_characters(model_dir):
    text = TEXTS["zh"][0]
    (pred,) = SpERT.load(model_dir, language="zh").predict(text)
    assert "".join(pred.tokens) == text and all(len(w) == 1 for w in pred.tokens)
    assert [pred.tokens[a:b] for a, b in pred.sentences][0][-1] == "。"  # sentences end at 。！？


def test_spert_predict_language(model_dir, tmp_path):
    from spert.cli import app

    source = tmp_path / "in.txt"
    source.write_text(TEXTS["de"][0] + "\n" + TEXTS["zh"][0] + "\n", encoding="utf-8")
    for language in ("de", "zh"):  # the API test takes every language; here the option reaches it
        out = tmp_path / f"{language}.jsonl"
        res = CliRunner().invoke(app, ["predict", str(source), "--model", str(model_dir), "--language", language,
                                       "-o", str(out), "-q"])
        assert res.exit_code == 0, res.output
        records = {r["text"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
        check_record(records[TEXTS[language][0]], language)
    res = CliRunner().invoke(app, ["predict", str(source), "--model", str(model_dir), "--language", "de",
                                   "--spacy-model", "de_core_news_sm"])
    assert res.exit_code != 0 and "both choose how text is split" in str(res.exception)


def test_spert_serve_language(model_dir, monkeypatch):
    import uvicorn

    from spert.cli import app
    from spert.serve.server import create_app
    from spert.serve.settings import SETTINGS_ENV, ServeSettings

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)  # the command's settings, not a server
    monkeypatch.setenv(SETTINGS_ENV, "")  # put back as it was afterwards: the command sets it
    res = CliRunner().invoke(app, ["serve", "--model", str(model_dir), "--language", "de"])
    assert res.exit_code == 0, res.output
    settings = ServeSettings.from_environment()
    assert settings.load_options.language == "de"
    text = TEXTS["de"][0]
    with TestClient(create_app(settings)) as client:  # the app loads the model with the settings' options
        response = client.post("/v1/extract", json={"text": text})
    assert response.status_code == 200, response.text
    check_record(response.json()["documents"][0], "de")


def test_spert_data_import_language(tmp_path):
    from spert.cli import app

    text = TEXTS["de"][0]
    brat = tmp_path / "brat"
    brat.mkdir()
    (brat / "a.txt").write_text(text, encoding="utf-8")
    start = text.index("Dr. Müller")
    (brat / "a.ann").write_text(f"T1\tPeop {start} {start + len('Dr. Müller')}\tDr. Müller\n"
                                f"T2\tLoc {text.index('München')} {text.index('München') + 7}\tMünchen\n",
                                encoding="utf-8")
    res = CliRunner().invoke(app, ["data", "import", "brat", str(brat), "-o", str(tmp_path / "de.json"),
                                   "--types-output", str(tmp_path / "types.json"), "--language", "de"])
    assert res.exit_code == 0, res.output
    records = json.loads((tmp_path / "de.json").read_text(encoding="utf-8"))
    words = [w for r in records for w in r["tokens"]]
    assert words == spacy_split("de", text)[0] and "z.B." in words
    ents = [(r["tokens"][e["start"]:e["end"]], e["type"]) for r in records for e in r["entities"]]
    assert ents == [(["Dr.", "Müller"], "Peop"), (["München"], "Loc")]
