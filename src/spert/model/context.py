"""Document context: each sentence encoded with words of the sentences around it.

With ``context_words`` N > 0 (:class:`spert.model.settings.ModelSettings`) the encoder reads

    [CLS] + subwords of up to N words before and after the sentence, in its document
          + the sentence's subwords + ... + [SEP]

that is, start token, left context, sentence, right context, end token, each word
tokenized on its own as :func:`spert.model.encoding.encode_words_batch` does. The N
words are split between the two sides, the left taking the odd one (ceil(N/2) left,
floor(N/2) right); where a side runs out (the first and last sentence of a document)
the other side fills up to N. Context crosses sentence boundaries but never a
document's. When the window has more subwords than the encoder takes
(:func:`spert.model.encoders.max_subwords`), the context words farthest from the
sentence go first (left before right at equal distance; a side stops at its first word
that does not fit, so each side stays contiguous). A sentence that alone exceeds the
limit gets no context: it is encoded as without context, and its caller treats it as
it always has (an error in training, windows in prediction).

The :class:`spert.model.encoding.Encoding` keeps only the sentence's words in
``word_start``/``word_end``, so everything that goes by words -- candidate spans, span
pooling, the localized and 'full' relation contexts, and all outputs -- stays inside
the sentence: context subwords map to the "no word" index in
:func:`spert.model.batch.collate`, as the start and end tokens do, and no pooler reads
them. Through self-attention every state the model reads (h_CLS and the sentence's own
subword states) sees the whole window. Nothing here depends on the encoder family: the
window is encoded by ``encode_words_batch``.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from spert.model.dependency import with_heads
from spert.model.encoding import Encoding, encode_words_batch

log = logging.getLogger(__name__)


def sentence_encodings(tokenizer, sentences: Sequence[Sequence[str]], documents: Sequence[Sequence[int]] | None,
                       context_words: int, limit: int, syntax_model: str | None = None) -> list[Encoding]:
    """The encodings a model with ``context_words`` reads (training and prediction alike): each
    sentence alone at 0, else with its document's context (:func:`context_encodings`; ``documents``
    as there, None when the caller does not know them: each sentence is then encoded alone, with a
    warning). ``limit`` is the encoder's longest input; a sentence too long on its own comes back
    encoded alone, and too long. With ``syntax_model`` (context syntax) each encoding carries its
    sentence's dependency tree (:func:`spert.model.dependency.with_heads`)."""
    if context_words == 0:
        return with_heads(encode_words_batch(tokenizer, sentences), sentences, syntax_model)
    if documents is None:
        log.warning("the model reads %d words of document context, but these sentences come without their "
                    "documents: each is encoded alone", context_words)
        documents = []
    return with_heads(context_encodings(tokenizer, sentences, documents, context_words, limit), sentences,
                      syntax_model)


def split_budget(context_words: int, available_left: int, available_right: int) -> tuple[int, int]:
    """How many context words to take on each side: ceil(N/2) left, floor(N/2) right, a side that
    runs out leaving the rest to the other."""
    left = min(available_left, (context_words + 1) // 2)
    right = min(available_right, context_words - left)
    left = min(available_left, context_words - right)
    return left, right


def fit_context(counts: Sequence[int], left: int, right: int, limit: int) -> tuple[int, int]:
    """The context words on each side that fit ``limit`` subwords (start and end tokens included).

    ``counts`` are the subwords of the window's words: ``left`` context words, the sentence,
    ``right`` context words. Context words are kept from the sentence outwards (left before right
    at equal distance); each side stops at its first word that does not fit. (0, 0) when the
    sentence alone does not fit.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n = len(counts)
    room = limit - 2 - int(counts[left:n - right].sum())
    if room < 0:
        return 0, 0
    kept = [0, 0]  # left, right
    open_ = [left > 0, right > 0]
    while any(open_):
        for side in (0, 1):
            if not open_[side]:
                continue
            # the next word outwards: left of the kept left context, or right of the kept right context
            word = left - 1 - kept[0] if side == 0 else n - right + kept[1]
            c = int(counts[word])
            if c > room:
                open_[side] = False
                continue
            room -= c
            kept[side] += 1
            if kept[side] == (left, right)[side]:
                open_[side] = False
    return kept[0], kept[1]


def context_encodings(tokenizer, sentences: Sequence[Sequence[str]], documents: Sequence[Sequence[int]],
                      context_words: int, limit: int) -> list[Encoding]:
    """One encoding per sentence, with up to ``context_words`` words of its document around it.

    ``documents`` lists each document's sentence indices in document order; a sentence in no
    document is one of its own. ``limit`` is the encoder's longest input. A sentence longer than
    ``limit`` on its own comes back as it is encoded without context (and too long).
    """
    windows: list[tuple[list[str], int, int]] = [(list(s), 0, 0) for s in sentences]  # (words, left, right)
    if context_words > 0:
        for members in documents:
            lengths = [len(sentences[i]) for i in members]
            flat = [w for i in members for w in sentences[i]]
            starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)  # (len(members)+1,)
            for k, i in enumerate(members):
                a, b = int(starts[k]), int(starts[k + 1])
                left, right = split_budget(context_words, a, len(flat) - b)
                windows[i] = (flat[a - left:b + right], left, right)
    encodings = encode_words_batch(tokenizer, [w for w, _, _ in windows])
    # Windows over the limit lose their outermost context words, then are encoded again; the loop
    # ends because every pass either fits a window or takes context words away from it.
    while True:
        over = [i for i, (e, (_, left, right)) in enumerate(zip(encodings, windows))
                if len(e.input_ids) > limit and left + right > 0]
        if not over:
            break
        for i in over:
            words, left, right = windows[i]
            e = encodings[i]
            keep_left, keep_right = fit_context(np.asarray(e.word_end) - np.asarray(e.word_start), left, right, limit)
            if (keep_left, keep_right) == (left, right):  # counted to fit but does not: drop one more word
                keep_left, keep_right = (left - 1, right) if left >= right else (left, right - 1)
            windows[i] = (words[left - keep_left:len(words) - right + keep_right], keep_left, keep_right)
        for i, e in zip(over, encode_words_batch(tokenizer, [windows[i][0] for i in over])):
            encodings[i] = e
    return [_sentence_only(e, left, len(words) - left - right) for e, (words, left, right) in zip(encodings, windows)]


def _sentence_only(enc: Encoding, left: int, num_words: int) -> Encoding:
    """The window's subwords, with word ranges of the sentence's words only."""
    if num_words == len(enc.word_start):
        return enc
    return Encoding(enc.input_ids, enc.word_start[left:left + num_words], enc.word_end[left:left + num_words])
