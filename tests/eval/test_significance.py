"""Paired comparisons of runs (spert.eval.significance): per-sentence counts and micro F1 against the
metric itself, and the paired bootstrap on cases whose answer is known by hand."""

import numpy as np
import pytest

from spert.eval.metrics import score
from spert.eval.significance import Counts, document_counts, micro_f1, paired_difference


def _counts(tp, fp, fn):
    return Counts(np.array(tp), np.array(fp), np.array(fn))


def test_document_counts_and_micro_f1_by_hand():
    gold = [{(0, 1, "A"), (2, 3, "B")}, {(0, 2, "A")}, set()]
    pred = [{(0, 1, "A"), (4, 5, "B")}, set(), {(1, 2, "A")}]
    c = document_counts(gold, pred)
    assert c.tp.tolist() == [1, 0, 0] and c.fp.tolist() == [1, 0, 1] and c.fn.tolist() == [1, 1, 0]
    # tp 1, fp 2, fn 2: P = R = 1/3, F1 = 2 * 1 / (2 + 2 + 2) = 33.33 %, as the metric says
    assert c.micro_f1() == pytest.approx(100 / 3)
    assert c.micro_f1() == pytest.approx(score(gold, pred).micro.f1)
    assert micro_f1(np.array([0, 3]), np.array([0, 1]), np.array([0, 1])).tolist() == [0.0, 75.0]  # nothing: 0


def test_the_same_runs_differ_by_nothing():
    runs = [_counts([1, 2, 0], [1, 0, 1], [0, 1, 1]), _counts([2, 1, 1], [0, 1, 0], [1, 0, 0])]
    d = paired_difference(runs, runs, [1, 2], resamples=500)
    assert d.per_seed == (0.0, 0.0) and d.mean == 0.0 and d.std == 0.0
    assert (d.low, d.high) == (0.0, 0.0) and d.p_not_better == 1.0 and not d.beyond_noise()


def test_a_setting_better_on_every_sentence_and_seed_is_beyond_noise():
    base = [_counts([1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1])] * 2  # F1 50 on every sentence
    other = [_counts([2, 2, 2, 2], [0, 0, 0, 0], [0, 0, 0, 0])] * 2  # F1 100 on every sentence
    d = paired_difference(base, other, [42, 43], resamples=500)
    assert d.per_seed == (50.0, 50.0) and d.mean == 50.0 and d.std == 0.0
    assert d.low == d.high == 50.0 and d.p_not_better == 0.0 and d.beyond_noise()
    assert d.to_json()["beyond_noise"] is True and d.to_json()["interval"] == [50.0, 50.0]


def test_resampling_the_seeds_by_hand():
    # One sentence, so only the seeds vary: seed 1's pair differs by +50, seed 2's by -50. A replicate
    # draws two seeds with replacement: +50 (1/4), 0 (1/2) or -50 (1/4); P(difference <= 0) = 3/4.
    base = [_counts([1], [1], [1]), _counts([2], [0], [0])]  # F1 50, then 100
    other = [_counts([2], [0], [0]), _counts([1], [1], [1])]  # F1 100, then 50
    d = paired_difference(base, other, [1, 2], resamples=20000, seed=3)
    assert d.per_seed == (50.0, -50.0) and d.mean == 0.0 and d.std == pytest.approx(np.std([50, -50], ddof=1))
    assert d.p_not_better == pytest.approx(0.75, abs=0.02)
    assert (d.low, d.high) == (-50.0, 50.0)


def test_resampling_the_sentences_by_hand():
    # One seed, two sentences: the other setting finds sentence 0's one entity (the baseline does not)
    # and both find sentence 1's. A replicate draws sentence 0 twice (1/4: +100), once (1/2: 100 - 66.67)
    # or never (1/4: no difference).
    base = [_counts([0, 1], [0, 0], [1, 0])]
    other = [_counts([1, 1], [0, 0], [0, 0])]
    d = paired_difference(base, other, [7], resamples=20000, seed=1)
    assert d.per_seed == (pytest.approx(100 - 200 / 3),) and d.std is None
    assert d.p_not_better == pytest.approx(0.25, abs=0.02) and d.high == 100.0 and d.low == 0.0


def test_seeded_and_checked():
    runs = [_counts([1, 0, 2, 1], [0, 1, 0, 1], [1, 0, 0, 1])]
    better = [_counts([1, 1, 2, 1], [0, 0, 0, 1], [1, 0, 0, 0])]
    a, b = (paired_difference(runs, better, [1], resamples=300, seed=5) for _ in range(2))
    assert a == b
    with pytest.raises(ValueError, match="pair them one to one"):
        paired_difference(runs, better * 2, [1])
    with pytest.raises(ValueError, match="different sizes"):
        paired_difference(runs, [_counts([1], [0], [0])], [1])
