"""Whether one setting beats another beyond noise: paired comparisons of runs over seeds and test
sentences (``spert compare``).

Two sources of noise move a score: the seed a run was trained with, and which sentences the test
set happens to hold. Runs of two settings trained with the same seeds are paired by seed; their
per-seed differences say how far the seed alone moves the difference. A paired bootstrap then
resamples both at once (Koehn 2004's bootstrap over test sentences, with the seeds resampled too):
each replicate draws the seeds with replacement and the test sentences with replacement, the same
draws for both settings, and takes the mean over the drawn seeds of the difference in micro F1 on
the drawn sentences. Its 2.5 and 97.5 percentiles are the difference's interval, and the share of
replicates where the difference is not above 0 says how often noise alone would give no gain.

Pure functions of per-sentence counts (no files, no model): :func:`document_counts` makes them from
the sets of typed tuples :mod:`spert.eval.metrics` scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (n - 1); the deviation is None for fewer than two values."""
    if not values:
        return None, None
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, None
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


_CHUNK = 1000  # bootstrap replicates drawn at once: (chunk, sentences) weights stay small


@dataclass(frozen=True)
class Counts:
    """One run's true positives, false positives and false negatives of one task, per test sentence."""

    tp: np.ndarray  # (D,)
    fp: np.ndarray  # (D,)
    fn: np.ndarray  # (D,)

    def __post_init__(self) -> None:
        if not (self.tp.shape == self.fp.shape == self.fn.shape) or self.tp.ndim != 1:
            raise ValueError(f"counts of unequal shapes: tp {self.tp.shape}, fp {self.fp.shape}, fn {self.fn.shape}")

    def __len__(self) -> int:
        return len(self.tp)

    def micro_f1(self) -> float:
        """Micro F1 (%) over all sentences: what :func:`spert.eval.metrics.score` gives."""
        return float(micro_f1(self.tp.sum(), self.fp.sum(), self.fn.sum()))


def document_counts(gold: Sequence[Iterable[tuple]], pred: Sequence[Iterable[tuple]]) -> Counts:
    """Per-sentence counts of exact matches between gold and predicted tuples (types included)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold documents but {len(pred)} predicted")
    rows = [(len(g & p), len(p - g), len(g - p)) for g, p in ((set(g), set(p)) for g, p in zip(gold, pred))]
    tp, fp, fn = (np.array(c, dtype=np.int64).reshape(-1) for c in zip(*rows)) if rows else \
        (np.zeros(0, np.int64),) * 3
    return Counts(tp, fp, fn)


def micro_f1(tp, fp, fn):
    """``100 * 2tp / (2tp + fp + fn)`` (the harmonic mean of precision and recall), 0 where nothing
    was predicted or expected; elementwise over arrays."""
    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    denom = 2 * tp + fp + fn
    return np.divide(200 * tp, denom, out=np.zeros_like(denom), where=denom > 0)


@dataclass(frozen=True)
class PairedDifference:
    """A setting's micro F1 minus the baseline's (F1 points), over the seeds both were trained with."""

    seeds: tuple[int, ...]
    per_seed: tuple[float, ...]  # the difference of each seed's pair of runs
    mean: float
    std: float | None  # sample standard deviation of the per-seed differences (None for one seed)
    low: float  # the bootstrap interval of the mean difference (``level``, two-sided)
    high: float
    p_not_better: float  # share of bootstrap replicates whose difference is <= 0
    resamples: int
    level: float

    def beyond_noise(self) -> bool:
        """The whole interval above 0: a gain that seeds and test sentences do not explain."""
        return self.low > 0

    def to_json(self) -> dict:
        return {"seeds": list(self.seeds), "per_seed": [round(d, 4) for d in self.per_seed],
                "mean": round(self.mean, 4), "std": None if self.std is None else round(self.std, 4),
                "interval": [round(self.low, 4), round(self.high, 4)], "level": self.level,
                "p_not_better": round(self.p_not_better, 4), "resamples": self.resamples,
                "beyond_noise": self.beyond_noise()}


def paired_difference(base: Sequence[Counts], other: Sequence[Counts], seeds: Sequence[int], *,
                      resamples: int = 10000, level: float = 0.95, seed: int = 0) -> PairedDifference:
    """``other`` minus ``base``, paired by position (run ``i`` of each was trained with ``seeds[i]``);
    all runs are of the same test sentences. Seeded: the same inputs give the same interval."""
    if not base or len(base) != len(other) or len(base) != len(seeds):
        raise ValueError(f"{len(base)} baseline runs, {len(other)} others and {len(seeds)} seeds: pair them one to one")
    sizes = {len(c) for c in (*base, *other)}
    if len(sizes) != 1:
        raise ValueError(f"runs scored on test sets of different sizes: {sorted(sizes)} sentences")
    D, S = sizes.pop(), len(base)
    per_seed = tuple(o.micro_f1() - b.micro_f1() for b, o in zip(base, other))
    mean, std = mean_std(list(per_seed))
    counts = np.stack([np.stack([c.tp, c.fp, c.fn]) for c in (*base, *other)]).astype(np.float64)  # (2S, 3, D)
    rng = np.random.default_rng(seed)
    diffs = []
    for start in range(0, resamples, _CHUNK):
        n = min(_CHUNK, resamples - start)
        weights = rng.multinomial(D, np.full(D, 1.0 / D), size=n).astype(np.float64) if D else np.zeros((n, 0))
        drawn = rng.integers(0, S, size=(n, S))  # (n, S) the seeds each replicate draws
        sums = np.einsum("nd,rkd->nrk", weights, counts)  # (n, 2S, 3) counts on the drawn sentences
        f1 = micro_f1(sums[..., 0], sums[..., 1], sums[..., 2])  # (n, 2S)
        d = f1[:, S:] - f1[:, :S]  # (n, S) each seed's difference on these sentences
        diffs.append(np.take_along_axis(d, drawn, axis=1).mean(axis=1))  # (n,)
    all_diffs = np.concatenate(diffs) if diffs else np.zeros(0)
    tail = (1 - level) / 2 * 100
    low, high = (np.percentile(all_diffs, [tail, 100 - tail]) if len(all_diffs) else (mean, mean))
    return PairedDifference(tuple(int(s) for s in seeds), per_seed, float(mean), std, float(low), float(high),
                            float((all_diffs <= 0).mean()) if len(all_diffs) else 0.0, resamples, level)
