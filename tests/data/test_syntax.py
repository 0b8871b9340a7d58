"""Dependency paths on hand-built trees, and parses over our own words from a tiny parser trained here."""

from __future__ import annotations

import pytest

import syntax_fixtures

from spert.data.syntax import (check_heads, connect_roots, depths, parse_words, span_head, syntax_context,
                               tree_path)

# "Smith , who was born in Paris , works for Acme ."
#   0    1  2   3    4   5   6   7   8    9   10  11
WORDS = "Smith , who was born in Paris , works for Acme .".split()
HEADS = (8, 0, 4, 4, 0, 4, 5, 0, 8, 8, 9, 8)  # works (8) is the root; the clause hangs from Smith


def test_tree_helpers_on_a_hand_built_tree():
    check_heads(HEADS)
    assert depths(HEADS)[8] == 0 and depths(HEADS)[6] == 4  # Paris <- in <- born <- Smith <- works
    assert tree_path(HEADS, 0, 10) == [0, 8, 9, 10]  # Smith - works - for - Acme
    assert tree_path(HEADS, 6, 10) == [6, 5, 4, 0, 8, 9, 10]
    assert tree_path(HEADS, 10, 6) == [10, 9, 8, 0, 4, 5, 6]
    assert tree_path(HEADS, 4, 4) == [4]


def test_syntax_context_skips_the_relative_clause_that_the_localized_context_pools():
    # the words between Smith and Acme are 1..9; on the path only works and for
    assert syntax_context(HEADS, (0, 1), (10, 11)) == [8, 9]
    assert syntax_context(HEADS, (10, 11), (0, 1)) == [8, 9]  # the same set either way
    # Paris and Acme: in, born, Smith, works, for
    assert syntax_context(HEADS, (6, 7), (10, 11)) == [0, 4, 5, 8, 9]
    # a span's head is its word nearest the root; words of the spans are never context
    assert span_head(HEADS, 4, 7) == 4
    assert syntax_context(HEADS, (4, 7), (0, 1)) == []  # born hangs from Smith: nothing between
    assert syntax_context(HEADS, (0, 2), (8, 11)) == []  # works heads both the span and Smith


def test_roots_are_connected_and_bad_trees_refused():
    assert connect_roots((0, 0, 2, 2)) == (0, 0, 0, 2)  # the second root hangs from the first
    assert tree_path(connect_roots((0, 0, 2, 2)), 1, 3) == [1, 0, 2, 3]
    with pytest.raises(ValueError, match="different trees"):
        tree_path((0, 0, 2, 2), 1, 3)
    with pytest.raises(ValueError, match="cycle"):
        check_heads((1, 0))
    with pytest.raises(ValueError, match="not a word"):
        check_heads((0, 5))


@pytest.fixture(scope="module")
def tiny_parser():
    return syntax_fixtures.tiny_parser()


def test_a_tiny_parser_parses_our_words_and_learns_its_sentences(tiny_parser):
    sentences = [w for w, _, _ in syntax_fixtures.TRAIN] + [["Edison", "works", "in", "Menlo", "Park", "."], []]
    trees = parse_words(tiny_parser, sentences)
    assert [len(t) for t in trees] == [len(s) for s in sentences]  # one head per word of ours
    for t in trees:
        check_heads(t)
        assert sum(h == w for w, h in enumerate(t)) <= 1  # one tree
    learnt = sum(tuple(h) == tuple(trees[i]) for i, (_, h, _) in enumerate(syntax_fixtures.TRAIN))
    assert learnt >= 3  # overfit: the trained trees come back
    assert syntax_context(trees[0], (0, 1), (3, 4)) == [1, 2]  # Smith -> works -> for -> Acme


def test_a_pipeline_without_a_parser_is_refused_by_name():
    import spacy

    from spert.errors import SpertError

    with pytest.raises(SpertError, match="has no parser"):
        parse_words(spacy.blank("en"), [["a"]])
