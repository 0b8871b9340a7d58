"""Splitting a dataset by document: train/dev/test parts or k cross-validation folds
(``spert data split``: :func:`split_file`).

SpERT trains on sentences, but sentences of one document share vocabulary, names and
style; putting some in training and others in test inflates scores. So records are
grouped into documents first and whole documents are assigned: by the ``doc_id`` field,
else ``document`` (what ``spert data import`` writes), else ``orig_id`` (the authors'
releases), else each record is a document of its own. The splits are pure functions; the only randomness is a
generator seeded by the caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from spert.atomic import atomic_write_text
from spert.data.documents import iter_records, write_records
from spert.errors import DataError, SpertError

DOCUMENT_KEYS = ("doc_id", "document", "orig_id")  # record fields that name a record's document, in order of preference


@dataclass(frozen=True)
class Part:
    """One part of a split: its name and the indices of its records, in input order."""

    name: str
    records: tuple[int, ...]


def document_groups(records: Sequence[Any]) -> list[list[int]]:
    """Record indices grouped by document, groups in order of first appearance."""
    groups: dict[Any, list[int]] = {}
    for i, rec in enumerate(records):
        key = next((("field", k, _hashable(rec[k])) for k in DOCUMENT_KEYS
                    if isinstance(rec, dict) and rec.get(k) is not None), ("record", i))
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) else repr(value)


def parse_ratios(text: str) -> tuple[float, ...]:
    """'0.8,0.1,0.1' -> (0.8, 0.1, 0.1): two or three positive parts summing to 1."""
    try:
        ratios = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise DataError(None, f"ratios must be comma-separated numbers, got {text!r}", field="--ratios") from None
    if len(ratios) not in (2, 3) or any(r <= 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise DataError(None, f"ratios must be 2 or 3 positive numbers that sum to 1, got {text!r}", field="--ratios")
    return ratios


def split_by_ratios(records: Sequence[Any], ratios: Sequence[float], seed: int) -> list[Part]:
    """Train/test or train/dev/test parts of about ``ratios`` of the sentences, whole documents each.

    Documents are shuffled, then cut where the running sentence count passes each ratio's share.
    """
    groups = _shuffled(document_groups(records), seed)
    names = ("train", "test") if len(ratios) == 2 else ("train", "dev", "test")
    if len(groups) < len(ratios):
        raise DataError(None, f"{len(groups)} documents cannot make {len(ratios)} non-empty parts")
    total = sum(len(g) for g in groups)
    bounds = np.cumsum(ratios)[:-1] * total  # sentence counts where a part ends
    parts: list[list[int]] = [[] for _ in ratios]
    seen = 0
    for g in groups:
        k = int(np.searchsorted(bounds, seen + len(g) / 2))  # the part holding the document's middle
        parts[k] += g
        seen += len(g)
    for k, part in enumerate(parts):  # a tiny dataset can leave a part empty: move one document into it
        if not part:
            donor = max(range(len(parts)), key=lambda j: len(parts[j]))
            moved = next(g for g in reversed(groups) if g[0] in parts[donor])
            parts[donor] = [i for i in parts[donor] if i not in moved]
            parts[k] = list(moved)
    return [Part(n, tuple(sorted(p))) for n, p in zip(names, parts)]


def kfold(records: Sequence[Any], folds: int, seed: int) -> list[tuple[Part, Part]]:
    """``folds`` (train, test) pairs; every document is in exactly one test part.

    Shuffled documents go, largest first, to the fold with the fewest sentences so far, so
    the folds' sizes differ by at most one document.
    """
    groups = document_groups(records)
    if folds < 2:
        raise DataError(None, f"cross-validation needs at least 2 folds, got {folds}", field="--folds")
    if len(groups) < folds:
        raise DataError(None, f"{len(groups)} documents cannot make {folds} folds", field="--folds")
    order = sorted(_shuffled(groups, seed), key=len, reverse=True)  # stable: ties keep the shuffled order
    members: list[list[int]] = [[] for _ in range(folds)]
    for g in order:
        members[min(range(folds), key=lambda k: (len(members[k]), k))] += g
    everything = range(len(records))
    out = []
    for k in range(folds):
        test = set(members[k])
        out.append((Part("train", tuple(i for i in everything if i not in test)), Part("test", tuple(sorted(test)))))
    return out


def _shuffled(groups: list[list[int]], seed: int) -> list[list[int]]:
    order = np.random.default_rng(seed).permutation(len(groups))
    return [groups[i] for i in order]


def part_path(out_dir: Path, name: str, part: str, fold: int | None = None) -> Path:
    """Where a part goes: ``NAME_train.json``, or ``NAME_split_K_train.json`` for fold K (the ADE layout)."""
    return out_dir / (f"{name}_split_{fold}_{part}.json" if fold is not None else f"{name}_{part}.json")


def write_parts(records: Sequence[Any], files: dict[Path, Part], manifest: Path, about: dict[str, Any]) -> None:
    """Write each part's records (SpERT JSON) and a manifest naming every file's documents and sizes."""
    groups = document_groups(records)
    doc_of = {i: d for d, g in enumerate(groups) for i in g}
    summary = {}
    for path, part in files.items():
        write_records(path, [records[i] for i in part.records], one_line=True)
        summary[path.name] = {"sentences": len(part.records), "documents": len({doc_of[i] for i in part.records})}
    atomic_write_text(manifest, json.dumps({**about, "documents": len(groups), "sentences": len(records),
                                            "files": summary}, indent=2))


@dataclass(frozen=True)
class SplitFiles:
    """What :func:`split_file` wrote: every part's file and the manifest."""

    parts: dict[Path, Part]
    manifest: Path


def split_file(file: Path, output_dir: Path, *, ratios: str | None = None, folds: int | None = None,
               seed: int = 42, name: str | None = None) -> SplitFiles:
    """Split a SpERT JSON or JSON Lines file by document into ``NAME_{train,dev,test}.json``
    (``ratios``, e.g. ``"0.8,0.1,0.1"``) or ``NAME_split_{K}_{train,test}.json`` (``folds``:
    the ADE layout ``spert cv`` reads), with the manifest ``NAME_split.json``; ``NAME`` is
    ``name`` or the input's stem. ``output_dir`` is created only once the split is possible."""
    if (ratios is None) == (folds is None):
        raise SpertError("give exactly one of --ratios and --folds")
    records = [obj for _, _, obj in iter_records(file)]
    prefix = name or file.stem
    if folds is not None:
        pairs = kfold(records, folds, seed)
        files = {part_path(output_dir, prefix, part.name, k): part for k, pair in enumerate(pairs) for part in pair}
        about: dict[str, Any] = {"source": str(file), "seed": seed, "folds": folds}
    else:
        shares = parse_ratios(ratios)  # type: ignore[arg-type]
        parts = split_by_ratios(records, shares, seed)
        files = {part_path(output_dir, prefix, part.name): part for part in parts}
        about = {"source": str(file), "seed": seed, "ratios": list(shares)}
    manifest = output_dir / f"{prefix}_split.json"
    output_dir.mkdir(parents=True, exist_ok=True)
    write_parts(records, files, manifest, about)
    return SplitFiles(files, manifest)
