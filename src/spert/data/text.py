"""Raw text to words and sentences, with every word's character span in the input.

SpERT works on words and on one sentence at a time. Raw text is tokenized and split
into sentences by spaCy: by default its rule-based English tokenizer and the
punctuation-based "sentencizer" (``spacy.blank("en")``), which need no model
download. A language (:func:`text_pipeline`: ``--language de``) takes spaCy's rules for
that language instead (``spacy.blank("de")`` and the sentencizer, no download); a user may
also name an installed spaCy pipeline (``--language de_core_news_sm``; its parser or senter
then splits sentences).

Chinese has no spaces between words: spaCy's blank ``zh`` tokenizer (its default "char"
segmenter) makes every character a word, Latin letters and digits included ("2023" is four
words), and sentences end at 。！？. A pipeline with a word segmenter (``zh_core_web_sm``,
pkuseg) gives words of several characters instead. Either way a word is a slice of the text.

Words are exact slices of the input: word ``i`` is ``text[start_i:end_i]``.
Tokens that hold no visible character (whitespace, control and format characters
such as zero-width spaces) are not words and are dropped; the other words keep
their offsets. Pre-tokenized input has no original string: its character offsets
refer to the words joined by single spaces.
"""

from __future__ import annotations

import logging
import bisect
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from spert.errors import SpertError

log = logging.getLogger(__name__)

DEFAULT_PIPELINE = "blank:en"
_BLANK = "blank:"
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")  # spaCy's language codes (de, zh, grc, xx); pipelines have a '_'
# spaCy's StringStore keeps every token string it has seen; reloading the (cheap)
# pipeline now and then keeps memory flat over millions of documents.
_RELOAD_EVERY = 20_000
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"})


@dataclass(frozen=True, slots=True)
class TokenizedText:
    """A text split into words and sentences.

    W words; ``offsets[i]`` is word i's character span ``[start, end)`` in ``text``;
    ``sentences`` are word ranges ``[start, end)`` that cover the words in order.
    """

    text: str
    words: tuple[str, ...]  # (W,)
    offsets: tuple[tuple[int, int], ...]  # (W,)
    sentences: tuple[tuple[int, int], ...]


def is_word(token: str) -> bool:
    """True if the token holds at least one visible character."""
    return any(unicodedata.category(c) not in _INVISIBLE for c in token)


def from_words(words: Sequence[str], sentences: Sequence[tuple[int, int]] | None = None) -> TokenizedText:
    """Pre-tokenized words: offsets refer to ``" ".join(words)``; one sentence unless given."""
    offsets, pos = [], 0
    for w in words:
        offsets.append((pos, pos + len(w)))
        pos += len(w) + 1
    if sentences is None:
        sentences = [(0, len(words))] if words else []
    return TokenizedText(" ".join(words), tuple(words), tuple(offsets), tuple(tuple(s) for s in sentences))


def align_words(text: str, words: Sequence[str]) -> tuple[tuple[int, int], ...] | None:
    """Character spans of ``words`` found in order in ``text``; None if they do not occur so."""
    offsets, pos = [], 0
    for w in words:
        i = text.find(w, pos)
        if i < 0 or (w == "" and i != pos):
            return None
        offsets.append((i, i + len(w)))
        pos = i + len(w)
    return tuple(offsets)


def text_pipeline(language: str | None = None, spacy_model: str | None = None) -> str | None:
    """The spaCy pipeline :class:`TextTokenizer` loads for a language option (None: the default).

    ``language`` is a spaCy language code (``de``: ``"blank:de"``, spaCy's rules for German), a
    ``blank:CODE`` as is, or the name or path of an installed pipeline (``de_core_news_sm``).
    ``spacy_model`` (the older ``--spacy-model`` option) names a pipeline; giving both is an error.
    """
    if language and spacy_model:
        raise SpertError(f"--language {language} and --spacy-model {spacy_model} both choose how text is split; "
                         f"give one")
    if not language:
        return spacy_model or None
    if _LANGUAGE_CODE.fullmatch(language):
        return _BLANK + language
    return language


class TextTokenizer:
    """Splits raw strings into words and sentences with spaCy (loaded on first use)."""

    def __init__(self, pipeline: str | None = None) -> None:
        self.pipeline = pipeline or DEFAULT_PIPELINE
        self._nlp = None
        self._since_reload = 0

    def _load(self):
        try:
            import spacy
        except ImportError:
            raise SpertError("raw text needs spaCy: pip install 'spacy>=3.7,<4'") from None
        if self.pipeline.startswith(_BLANK):
            code = self.pipeline[len(_BLANK):]
            try:
                nlp = spacy.blank(code)
            except ImportError as e:  # no such language, or its tokenizer needs a package (ja: SudachiPy)
                raise SpertError(f"language {code!r}: spaCy cannot split it: {str(e).splitlines()[0]}") from None
            nlp.max_length = 10 ** 9  # the tokenizer alone needs little memory per character
        else:
            try:
                nlp = spacy.load(self.pipeline)
            except (OSError, ImportError) as e:
                raise SpertError(f"cannot load the spaCy pipeline {self.pipeline!r}: {str(e).splitlines()[0]} "
                                 f"(install it, give a language code such as --language de for spaCy's rules "
                                 f"without a download, or leave the option out for English)") from None
        if not any(nlp.has_pipe(p) for p in ("sentencizer", "senter", "parser")):
            nlp.add_pipe("sentencizer")
        return nlp

    @property
    def nlp(self):
        if self._nlp is None or self._since_reload >= _RELOAD_EVERY:
            self._nlp, self._since_reload = self._load(), 0
        return self._nlp

    def __call__(self, text: str) -> TokenizedText:
        return next(iter(self.pipe([text])))

    def pipe(self, texts: Iterable[str], batch_size: int = 256) -> Iterator[TokenizedText]:
        """Tokenize many texts (lazily, in order)."""
        buf: list[str] = []
        for t in texts:
            buf.append(t)
            if len(buf) >= batch_size:
                yield from self._pipe_batch(buf)
                buf = []
        if buf:
            yield from self._pipe_batch(buf)

    def _pipe_batch(self, texts: list[str]) -> list[TokenizedText]:
        nlp = self.nlp
        self._since_reload += len(texts)
        # empty strings skip spaCy entirely (a pipeline with a parser may reject them)
        todo = [t for t in texts if t.strip()]
        try:
            docs = iter(list(nlp.pipe(todo)))
        except ValueError as e:  # e.g. text longer than a named pipeline's max_length
            raise SpertError(f"spaCy pipeline {self.pipeline!r}: {str(e).splitlines()[0]}") from None
        return [_from_spacy(t, next(docs)) if t.strip() else TokenizedText(t, (), (), ()) for t in texts]


def _from_spacy(text: str, doc) -> TokenizedText:
    words: list[str] = []
    offsets: list[tuple[int, int]] = []
    index: dict[int, int] = {}  # spaCy token index -> word index
    for tok in doc:
        if is_word(tok.text):
            index[tok.i] = len(words)
            words.append(tok.text)
            offsets.append((tok.idx, tok.idx + len(tok.text)))
    sentences = []
    for sent in doc.sents:
        ws = [index[i] for i in range(sent.start, sent.end) if i in index]
        if ws:
            sentences.append((ws[0], ws[-1] + 1))
    return TokenizedText(text, tuple(words), tuple(offsets), tuple(sentences))


def split_at(tok: TokenizedText, boundaries: Iterable[int]) -> TokenizedText:
    """Split words so that every given character offset falls on a word boundary.

    Used when entities come with character offsets (from another NER system) that
    cut through a word of our tokenization; sentences are kept.
    """
    cuts = sorted(set(boundaries))
    if not cuts:
        return tok
    words, offsets, sentences = [], [], []
    for s, e in tok.sentences:
        first = len(words)
        for i in range(s, e):
            a, b = tok.offsets[i]
            inner = cuts[bisect.bisect_right(cuts, a): bisect.bisect_left(cuts, b)]
            points = [a, *inner, b]
            for x, y in zip(points, points[1:]):
                piece = tok.text[x:y]
                if is_word(piece):
                    words.append(piece)
                    offsets.append((x, y))
        if len(words) > first:
            sentences.append((first, len(words)))
    return TokenizedText(tok.text, tuple(words), tuple(offsets), tuple(sentences))


def merge_sentences(sentences: Sequence[tuple[int, int]], spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge consecutive sentences that a word span crosses, so the span lies inside one."""
    out = [list(s) for s in sentences]
    for a, b in sorted(spans):
        # the sentences touched by [a, b) become one
        touched = [i for i, (s, e) in enumerate(out) if s < b and a < e]
        if len(touched) > 1:
            i, j = touched[0], touched[-1]
            out[i:j + 1] = [[out[i][0], out[j][1]]]
    return [tuple(s) for s in out]  # type: ignore[misc]
