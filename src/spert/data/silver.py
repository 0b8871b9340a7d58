"""Sentences for a teacher to label, silver data for its student (``spert distill``): a user's
unlabelled text (:func:`unlabelled_sentences`, ``--silver_path``) and new sentences made from the
annotated ones (:func:`swap_mentions`, ``--silver_swap N``).

:func:`swap_mentions` copies each sentence with every entity mention replaced by another mention of
the same type from the corpus: "Smith works for Acme" becomes "Jones works for Globex". The copies
keep no annotations, since a swap can make a relation false; whoever uses them labels them afresh
(the teacher). Pure: the only randomness is the generator passed in.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from spert.data.documents import Document, Entity, read_documents, spans_overlap
from spert.data.text import TextTokenizer
from spert.errors import DataError


def unlabelled_sentences(path: str | Path) -> list[Document]:
    """The sentences of ``path`` without annotations: a ``.txt`` file (each non-empty line a text,
    split into sentences and words by spaCy's English rules), else SpERT JSON or JSON Lines (each
    document's tokens; any entities and relations it has are dropped)."""
    path = Path(path)
    if path.suffix == ".txt":
        try:
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(path, f"cannot read it: {e}") from None
        out = [Document(tok.words[s:e]) for tok in TextTokenizer().pipe(lines) for s, e in tok.sentences]
    else:
        out = [Document(d.tokens) for d in read_documents(path, None, require_annotations=False)]
    out = [d for d in out if d.tokens]
    if not out:
        raise DataError(path, "no sentences in it")
    return out


def mentions_by_type(docs: Sequence[Document]) -> dict[str, list[tuple[str, ...]]]:
    """Every distinct mention (its words) of each entity type, in order of first appearance."""
    out: dict[str, dict[tuple[str, ...], None]] = defaultdict(dict)
    for d in docs:
        for e in d.entities:
            out[e.type][tuple(d.tokens[e.start:e.end])] = None
    return {t: list(m) for t, m in out.items()}


def swap_mentions(docs: Sequence[Document], copies: int, rng: np.random.Generator, *,
                  keep_labels: bool = False) -> list[Document]:
    """``copies`` new sentences per sentence with entities, each mention replaced by another mention
    of its type (where its type has another; overlapping mentions stay as they are); the words
    between mentions are kept. Without annotations, or with ``keep_labels`` the source's entities
    (moved to their new words) and relations, as if every swap kept them true: plain mention-swap
    augmentation, the control of a teacher's labels. Duplicates of a source or of each other dropped;
    the same draws either way, so both give the same sentences."""
    pool = mentions_by_type(docs)
    seen = {tuple(d.tokens) for d in docs}
    out = []
    for d in docs:
        spans = sorted(d.entities, key=lambda e: (e.start, e.end))
        free = [e for e in spans if not any(spans_overlap((e.start, e.end), (o.start, o.end))
                                            for o in spans if o is not e)]
        free = [e for e in free if len(pool[e.type]) > 1]
        if not free:
            continue
        for _ in range(copies):
            words, at, moved = [], 0, {}  # moved: a replaced mention's old span -> its new one
            for e in free:
                own = tuple(d.tokens[e.start:e.end])
                others = [m for m in pool[e.type] if m != own]
                words += list(d.tokens[at:e.start])
                mention = others[int(rng.integers(len(others)))]
                moved[e.span] = (len(words), len(words) + len(mention))
                words += list(mention)
                at = e.end
            words += list(d.tokens[at:])
            if tuple(words) not in seen:
                seen.add(tuple(words))
                out.append(Document(tuple(words), *(_moved_labels(d, moved) if keep_labels else ())))
    return out


def _moved_labels(d: Document, moved: dict[tuple[int, int], tuple[int, int]]) -> tuple[tuple, tuple]:
    """``d``'s entities at their words after the swaps ``moved`` (a replaced span -> its new span;
    a kept entity shifts by the length change of the replaced spans before it), and its relations."""
    def shift(i: int) -> int:
        return i + sum((b - a) - (end - start) for (start, end), (a, b) in moved.items() if end <= i)

    entities = tuple(Entity(e.type, *moved[e.span]) if e.span in moved else Entity(e.type, shift(e.start),
                                                                                      shift(e.start) + e.end - e.start)
                     for e in d.entities)
    return entities, d.relations
