"""Wall-clock helpers shared by the inference and training measurements."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence


@dataclass
class Rate:
    """A timed pass over ``n`` sentences."""

    seconds: float
    sentences_per_s: float

    @classmethod
    def of(cls, n: int, seconds: float) -> "Rate":
        return cls(round(seconds, 4), round(n / seconds, 2))

    def to_json(self) -> dict[str, float]:
        return {"seconds": self.seconds, "sentences_per_s": self.sentences_per_s}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median_ratio(num: Sequence[float], den: Sequence[float]) -> float:
    """The median of per-repeat ratios: drift in the machine's load between repeats cancels out."""
    return statistics.median(a / b for a, b in zip(num, den))
