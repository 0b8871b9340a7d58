"""Dependency trees over our words, and the syntactic context of an entity pair.

The localized context of the spec pools the words *between* two entities. The syntactic
context (``context: syntax``, issue 28) pools the words on the shortest dependency path
between them instead: in "Smith, who was born in 1950 in Paris, works for Acme", the path
between "Smith" and "Acme" is "Smith - works - for - Acme", whatever the relative clause holds.

A tree is a tuple ``heads`` with one entry per word of a sentence: the index of the word's
syntactic head, or the word's own index for a root. A parser may find several sentences
inside what our data calls one; every root after the first is then attached to the first
(:func:`connect_roots`), so that any two words are joined by exactly one path.

* :func:`span_head`: the word of a span nearest the root (its syntactic head; the first of
  such words on a tie).
* :func:`tree_path`: the words on the path between two words, both included, in path order.
* :func:`syntax_context`: the path between two spans' heads, less the spans' own words, in
  word order; empty when the spans touch in the tree (a head word of one is the other's
  neighbour), as the localized context is empty for adjacent spans.

These are the reference implementations (plain Python, one pair at a time): the model's
batched version is held equal to them by tests. :func:`parse_words` runs a spaCy pipeline's
parser over pre-tokenized words (ours, never the pipeline's own tokenization).
"""

from __future__ import annotations

from typing import Any, Sequence

from spert.errors import SpertError

Heads = tuple[int, ...]


def check_heads(heads: Sequence[int]) -> None:
    """Refuse anything but a forest over the words (every head a word of the sentence, no cycle)."""
    n = len(heads)
    for w, h in enumerate(heads):
        if not 0 <= h < n:
            raise ValueError(f"word {w}: head {h} is not a word of the {n}-word sentence")
    for w in range(n):
        seen, x = set(), w
        while heads[x] != x:
            if x in seen:
                raise ValueError(f"word {w}: its heads form a cycle")
            seen.add(x)
            x = heads[x]


def connect_roots(heads: Sequence[int]) -> Heads:
    """One tree: every root after the first hangs from the first root."""
    roots = [w for w, h in enumerate(heads) if h == w]
    if len(roots) <= 1:
        return tuple(heads)
    first = roots[0]
    return tuple(first if (h == w and w != first) else h for w, h in enumerate(heads))


def depths(heads: Sequence[int]) -> list[int]:
    """Each word's distance from its root (a root: 0)."""
    out: list[int] = []
    for w in range(len(heads)):
        d, x = 0, w
        while heads[x] != x:
            x, d = heads[x], d + 1
        out.append(d)
    return out


def span_head(heads: Sequence[int], start: int, end: int) -> int:
    """The word of ``[start, end)`` nearest the root (the first of them on a tie)."""
    d = depths(heads)
    return min(range(start, end), key=lambda w: (d[w], w))


def tree_path(heads: Sequence[int], a: int, b: int) -> list[int]:
    """The words on the path from ``a`` to ``b`` in one tree, both included."""
    up_a = [a]
    while heads[up_a[-1]] != up_a[-1]:
        up_a.append(heads[up_a[-1]])
    on_a = {w: i for i, w in enumerate(up_a)}
    up_b = [b]
    while up_b[-1] not in on_a:
        if heads[up_b[-1]] == up_b[-1]:
            raise ValueError(f"words {a} and {b} are in different trees")
        up_b.append(heads[up_b[-1]])
    meet = up_b[-1]
    return up_a[:on_a[meet] + 1] + up_b[-2::-1]


def syntax_context(heads: Sequence[int], first: tuple[int, int], second: tuple[int, int]) -> list[int]:
    """The words on the dependency path between two spans' heads that are in neither span, in word order."""
    inside = set(range(*first)) | set(range(*second))
    path = tree_path(heads, span_head(heads, *first), span_head(heads, *second))
    return sorted(w for w in path if w not in inside)


def parse_words(nlp: Any, sentences: Sequence[Sequence[str]]) -> list[Heads]:
    """A tree over each sentence's own words, from a spaCy pipeline's parser (run on our words, one
    sentence per Doc; the pipeline's tokenizer is not used), roots connected (:func:`connect_roots`)."""
    from spacy.tokens import Doc

    if "parser" not in nlp.pipe_names:
        raise SpertError(f"spaCy pipeline {nlp.meta.get('name', '?')!r} has no parser (its components: "
                         f"{', '.join(nlp.pipe_names) or 'none'}); syntactic context needs one")
    parsed = iter(nlp.pipe(Doc(nlp.vocab, words=list(words)) for words in sentences if words))
    return [connect_roots([t.head.i for t in next(parsed)]) if words else () for words in sentences]
