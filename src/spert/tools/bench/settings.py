"""What one benchmark run (``spert bench``) and one load test (``spert bench serve``) depend on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spert.errors import SpertError
from spert.infer.options import PredictOptions, default

DEFAULT_DATA = Path("data/conll04/conll04_test.json")
BACKENDS = ("torch", "torch-int8", "onnx", "onnx-int8")


@dataclass
class BenchSettings:
    """Everything one benchmark run depends on."""

    model: str  # a spert model directory, or an encoder name or directory (untrained heads)
    data: Path = DEFAULT_DATA
    types: Path | None = None  # for an encoder; default: the only *_types.json next to ``data``
    batch_sizes: tuple[int, ...] = (1, 8, 32)
    backends: tuple[str, ...] = ("torch",)  # torch first: every other backend is compared with it
    repeats: int = 3  # interleaved passes of every backend; medians reported
    naive_repeats: int = 1  # the naive implementation is slow; its noise matters less
    train_updates: int = 30
    lengths: tuple[int, ...] = (25, 50, 100, 200, 300)
    length_repeats: int = 3
    max_docs: int | None = None
    naive: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [b for b in self.backends if b not in BACKENDS]
        if unknown:
            raise SpertError(f"--backends: unknown backend {unknown[0]!r}; choose from {', '.join(BACKENDS)}")
        # PyTorch fp32 is the reference every other backend is timed and checked against
        self.backends = ("torch",) + tuple(dict.fromkeys(b for b in self.backends if b != "torch"))

    def to_json(self) -> dict:
        return {"batch_sizes": list(self.batch_sizes), "backends": list(self.backends), "repeats": self.repeats,
                "naive_repeats": self.naive_repeats, "train_updates": self.train_updates,
                "lengths": list(self.lengths), "length_repeats": self.length_repeats,
                "quantize": "torch-int8" in self.backends, "seed": self.seed}


@dataclass(frozen=True)
class LoadTestSettings:
    """Everything one load test of ``spert serve`` depends on (:mod:`spert.tools.bench.loadtest`)."""

    model: Path  # a spert model directory
    data: Path = DEFAULT_DATA  # SpERT JSON; each document's tokens joined by spaces are one request
    clients: tuple[int, ...] = (1, 8, 32)  # concurrent clients, one level each
    batch_size: int = default(PredictOptions, "batch_size")  # sentences per forward pass, offline and served
    limit: int | None = None  # only the first N sentences
    rounds: int = 1  # every sentence sent this many times per level
    threads: int | None = None  # PyTorch threads offline and in the server (default: every core)
    url: str | None = None  # a running server instead of starting one
    server_flags: tuple[str, ...] = ()  # extra flags for the spert serve started here

    def __post_init__(self) -> None:
        if not self.clients:
            raise SpertError("--clients: give at least one number of concurrent clients")


def parse_positive_ints(text: str, option: str) -> tuple[int, ...]:
    """Positive integers, possibly none (batch sizes, lengths, client counts): '1,8,32' -> (1, 8, 32);
    '' or 'none' -> (). (Seeds and folds, distinct and any integer, are
    :func:`spert.train.experiments.parse_distinct_ints`.)"""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        values = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise SpertError(f"{option}: expected comma-separated integers, got {text!r}") from None
    if any(v < 1 for v in values):
        raise SpertError(f"{option}: every value must be at least 1, got {text!r}")
    return values


def parse_backends(text: str) -> tuple[str, ...]:
    """'torch,onnx,onnx-int8' -> ('torch', 'onnx', 'onnx-int8')."""
    return tuple(b.strip() for b in text.split(",") if b.strip())
