"""Raw text to words and sentences: offsets always slice the input; odd characters never crash."""

from __future__ import annotations

import random

import pytest

from spert.data import text as text_mod
from spert.errors import SpertError
from spert.data.text import TextTokenizer, align_words, from_words, is_word, merge_sentences, split_at


@pytest.fixture(scope="module")
def tok() -> TextTokenizer:
    return TextTokenizer()


def check(t) -> None:
    """Every word is a visible slice of the text at its offsets; sentences tile the words in order."""
    assert len(t.words) == len(t.offsets)
    for w, (a, b) in zip(t.words, t.offsets):
        assert t.text[a:b] == w and is_word(w)
    assert [b for _, b in t.offsets] == sorted(b for _, b in t.offsets)
    pos = 0
    for s, e in t.sentences:
        assert s == pos and e > s
        pos = e
    assert pos == len(t.words)


def test_paragraph_becomes_sentences_with_offsets(tok):
    text = "John Smith works for Acme Corp. in New York. He was born in 1970! Was he?"
    t = tok(text)
    check(t)
    assert t.words[:5] == ("John", "Smith", "works", "for", "Acme")
    assert len(t.sentences) == 3
    first = t.sentences[0]
    assert t.words[first[1] - 1] == "." and t.words[first[1] - 2] == "York"
    assert text[t.offsets[4][0]:t.offsets[5][1]] == "Acme Corp."


@pytest.mark.parametrize("text", ["", " ", "   \t \n\n  ", "\u200b", "\x00\x01\x02", "\u200b \ufeff \u2028"])
def test_empty_and_invisible_text_has_no_words(tok, text):
    t = tok(text)
    assert t.words == () and t.sentences == () and t.text == text


def test_whitespace_inside_text_is_not_a_word(tok):
    text = "  Alpha\u00a0beta \n\n\tgamma  \u3000delta  "
    t = tok(text)
    check(t)
    assert t.words == ("Alpha", "beta", "gamma", "delta")


def test_unicode_emoji_and_control_characters(tok):
    text = "Zoë met José in Zürich 😀👍🏽 on 東京 day\x00 \x07 e\u0301 (שלום) 🇩🇪."
    t = tok(text)
    check(t)
    assert "😀" in "".join(t.words) and "東京" in t.words and "Zoë" in t.words
    assert "\x07" not in t.words  # a control character alone is not a word
    assert any("\u0301" in w for w in t.words)  # a combining accent stays with its letter


def test_random_strings_always_slice(tok):
    rng = random.Random(0)
    alphabet = list("abcXYZ019 .,!?'\"-()\n\t") + ["\u00a0", "\u200b", "\x00", "\x1f", "😀", "👍🏽", "é", "e\u0301",
                                                     "東", "ß", "\ufeff", "\u2028", "\r\n", "Mr.", "U.S."]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(200)]
    for text, t in zip(texts, tok.pipe(texts, batch_size=16)):
        assert t.text == text
        check(t)


def test_pipe_keeps_order_and_reloads(tok, monkeypatch):
    monkeypatch.setattr(text_mod, "_RELOAD_EVERY", 3)
    fresh = TextTokenizer()
    texts = [f"Sentence number {i}. Another one." for i in range(10)]
    out = list(fresh.pipe(texts, batch_size=2))
    assert [t.text for t in out] == texts
    assert all(len(t.sentences) == 2 for t in out)


def test_pretokenized_offsets_refer_to_words_joined_by_spaces():
    t = from_words(["New", "York", "!"])
    assert t.text == "New York !" and t.offsets == ((0, 3), (4, 8), (9, 10)) and t.sentences == ((0, 3),)
    check(t)
    assert from_words([]).sentences == ()


def test_align_words():
    assert align_words("  New  York!", ["New", "York", "!"]) == ((2, 5), (7, 11), (11, 12))
    assert align_words("New York", ["York", "New"]) is None


def test_split_at_cuts_words_at_character_offsets(tok):
    t = tok("The Washington-based firm sued U.S.A. Inc. today.")
    start = t.text.index("Washington")
    cut = split_at(t, [start, start + len("Washington"), t.text.index("U.S.A.") + 1])
    check(cut)
    assert "Washington" in cut.words and "U" in cut.words
    assert len(cut.sentences) == len(t.sentences)


def test_merge_sentences_that_a_span_crosses():
    assert merge_sentences([(0, 3), (3, 5), (5, 9)], [(2, 4)]) == [(0, 5), (5, 9)]
    assert merge_sentences([(0, 3), (3, 5), (5, 9)], [(1, 2), (4, 6)]) == [(0, 3), (3, 9)]
    assert merge_sentences([(0, 3), (3, 5)], []) == [(0, 3), (3, 5)]


def test_unknown_spacy_pipeline_is_a_clear_error():
    with pytest.raises(SpertError, match="cannot load the spaCy pipeline 'no_such_pipeline_sm'"):
        TextTokenizer("no_such_pipeline_sm")("Hello.")
