"""The teacher's outputs over the training sentences, computed once before a distilled student trains
(``teacher_outputs: cached``, what ``auto`` chooses whenever it can).

The teacher runs in eval mode, so its logits of a sentence's spans and pairs are the same every
epoch: classifying them again at every update (the online teacher) costs a teacher forward pass per
update, which makes a MiniLM student's training loop 1.37x slower with a MiniLM teacher and 3.05x
with an all-mpnet-base-v2 one (BENCHMARKS.md, "Distillation"). Cached, the teacher reads each
sentence once, and its logits lie on disk, read back through memory maps (memory stays bounded on a
long corpus, and a resumed run reads the same numbers, so it continues exactly).

What is kept of sentence ``j``: the logits of every candidate span (and of any wider gold span),
and the relation logits of every ordered pair of the spans the student's pairs can join: its gold
entities and, where ``distill_teacher_pairs`` asks for them, the spans the teacher itself would
keep (its :data:`MAX_KEPT` most confident where it keeps more: a degenerate teacher that calls most
spans entities would otherwise make the pairs grow with the square of a sentence's spans). Pairs of
other spans (``negatives: weak``, which pairs random spans, or negatives across sentences) are not
held: those runs need the teacher online, and ``auto`` chooses it for them.

On disk (``OUTPUT_DIR/teacher_outputs/``): ``spans.i32`` (S, 2) word spans, ``entity.f32`` (S, C),
``pairs.i32`` (P, 2) rows of the sentence's spans, ``relation.f32`` (P, R), ``offsets.npy`` (n + 1, 2)
each sentence's first span and pair, and ``outputs.json`` saying what they were computed from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from spert.atomic import atomic_directory, recover_directory
from spert.data.documents import Document
from spert.errors import SpertError
from spert.model.batch import Batch
from spert.model.spans import Sample
from spert.train.sampling import gold_spans

OUTPUTS_DIR = "teacher_outputs"  # in a run's output directory
MAX_KEPT = 50  # spans the teacher keeps whose pairs are held, per sentence (its most confident)
_VERSION = 1

log = logging.getLogger(__name__)


def most_confident(kept: np.ndarray, logits: np.ndarray, limit: int = MAX_KEPT) -> np.ndarray:
    """The ``limit`` spans of ``kept`` (E, 2) whose entity logits (E, C) give their likeliest type the
    highest probability, in their order: a sensible teacher keeps a few spans per sentence, one that
    keeps hundreds would make their pairs grow with the square."""
    if len(kept) <= limit:
        return kept
    probs = torch.softmax(torch.from_numpy(np.asarray(logits, dtype=np.float32)), -1)[:, 1:].max(-1).values
    return kept[np.sort(np.argsort(-probs.numpy(), kind="stable")[:limit])]


def pair_spans(gold: np.ndarray, kept: np.ndarray | None) -> np.ndarray:
    """The spans whose ordered pairs are kept: the gold ones, then those the teacher keeps that are
    not gold, without repeats: (K, 2)."""
    out, seen = [], set()
    for s in map(tuple, [*gold.tolist(), *([] if kept is None else kept.tolist())]):
        if s not in seen:
            seen.add(s)
            out.append(s)
    return np.array(out, dtype=np.int64).reshape(-1, 2)


@dataclass
class CachedPass:
    """The cached outputs of one batch's sentences, as the online :class:`~spert.train.teacher.TeacherPass`
    gives them: what the teacher keeps of each, and its targets of the student's spans and pairs."""

    outputs: "TeacherOutputs"
    ids: Sequence[int]

    def kept(self, b: int) -> np.ndarray:
        """The spans of sentence ``b`` the teacher classifies as entities (at most :data:`MAX_KEPT`
        besides the gold ones: those whose pairs are held), in the order of its spans: (E, 2)."""
        out, j = self.outputs, self.ids[b]
        lo, hi = int(out.pair_offsets[j]), int(out.pair_offsets[j + 1])
        rows = np.unique(np.asarray(out.pairs[lo:hi, 0], dtype=np.int64))  # the spans whose pairs are held
        return out.spans_of(j)[rows[out.entity_of(j)[rows].argmax(-1) != 0]]

    def targets(self, samples: Sequence[Sample], batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The teacher's logits of the batch's spans (S, C) and pairs (P, R), ``batch`` collated from
        ``samples``; a pair of two sentences, or of spans whose pairs were not kept, is an error."""
        out = self.outputs
        entity, where = [], []  # per sentence: its spans' logits; per span: (sentence, row in its sentence)
        for b, sample in enumerate(samples):
            index = out.span_index(self.ids[b])
            rows = [index[s] for s in map(tuple, sample.spans.tolist())]
            entity.append(out.entity_of(self.ids[b])[rows])
            where += [(b, r) for r in rows]
        relation = []
        pair_index: dict[int, dict] = {}
        for h, t in zip(batch.pair_head.tolist(), batch.pair_tail.tolist()):
            (b, hr), (bt, tr) = where[h], where[t]
            if bt != b:
                raise SpertError("the cached teacher outputs hold no pairs across sentences: use "
                                 "teacher_outputs online with neg_cross_sentence_count")
            if b not in pair_index:  # each sentence's pairs read once per batch
                pair_index[b] = out.pair_index(self.ids[b])
            if (hr, tr) not in pair_index[b]:
                spans = out.spans_of(self.ids[b])[[hr, tr]].tolist()
                raise SpertError(f"the cached teacher outputs hold no pair of spans {spans} of training sentence "
                                 f"{self.ids[b]} (not gold entities): use teacher_outputs online")
            relation.append(pair_index[b][hr, tr])
        c, r = out.entity.shape[1], out.relation.shape[1]
        ent = np.concatenate(entity) if entity else np.zeros((0, c), dtype=np.float32)  # (S, C)
        rel = (out.relation[np.array(relation, dtype=np.int64)] if relation
               else np.zeros((0, r), dtype=np.float32))  # (P, R)
        device = batch.pair_head.device
        return (torch.from_numpy(np.ascontiguousarray(ent)).to(device),
                torch.from_numpy(np.ascontiguousarray(rel)).to(device))


class TeacherOutputs:
    """Cached outputs, memory-mapped from their directory: S spans, P pairs of n sentences."""

    def __init__(self, path: Path, keep: Any = None) -> None:
        self.path, self._keep = path, keep  # keep: a temporary directory that must live as long as this
        self.info = json.loads((path / "outputs.json").read_text())
        offsets = np.load(path / "offsets.npy")  # (n + 1, 2): each sentence's first span and first pair
        self.span_offsets, self.pair_offsets = offsets[:, 0], offsets[:, 1]
        c, r = self.info["entity_classes"], self.info["relation_types"]
        s, p = int(self.span_offsets[-1]), int(self.pair_offsets[-1])
        self.spans = _map(path / "spans.i32", np.int32, (s, 2))  # (S, 2) word spans
        self.entity = _map(path / "entity.f32", np.float32, (s, c))  # (S, C)
        self.pairs = _map(path / "pairs.i32", np.int32, (p, 2))  # (P, 2) rows among the sentence's spans
        self.relation = _map(path / "relation.f32", np.float32, (p, r))  # (P, R)

    def __len__(self) -> int:
        return len(self.span_offsets) - 1

    def read(self, ids: Sequence[int]) -> CachedPass:
        return CachedPass(self, [int(j) for j in ids])

    def spans_of(self, j: int) -> np.ndarray:
        return np.asarray(self.spans[self.span_offsets[j]:self.span_offsets[j + 1]], dtype=np.int64)

    def entity_of(self, j: int) -> np.ndarray:
        return np.asarray(self.entity[self.span_offsets[j]:self.span_offsets[j + 1]])

    def span_index(self, j: int) -> dict[tuple[int, int], int]:
        """Sentence ``j``'s word span -> its row among the sentence's spans."""
        return {s: i for i, s in enumerate(map(tuple, self.spans_of(j).tolist()))}

    def pair_index(self, j: int) -> dict[tuple[int, int], int]:
        """Sentence ``j``'s (head row, tail row) -> the pair's row in ``relation``."""
        lo, hi = int(self.pair_offsets[j]), int(self.pair_offsets[j + 1])
        return {(h, t): lo + i for i, (h, t) in enumerate(np.asarray(self.pairs[lo:hi]).tolist())}


def _map(path: Path, dtype, shape: tuple[int, int]) -> np.ndarray:
    if shape[0] == 0 or shape[1] == 0:  # numpy cannot map an empty file
        return np.zeros(shape, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=shape)


def describe(teacher_path: Path, docs: Sequence[Document], kept_pairs: bool, max_span_size: int) -> dict[str, Any]:
    """What cached outputs were computed from (the teacher's weights by size and time, the sentences
    and their gold spans by digest): a cache that says otherwise is computed again."""
    weights = Path(teacher_path) / "model.safetensors"
    stat = weights.stat() if weights.is_file() else None
    digest = hashlib.sha256()
    for d in docs:
        digest.update(json.dumps([d.tokens, [e.span for e in d.entities]]).encode())
    return {"version": _VERSION, "teacher": str(teacher_path), "sentences": len(docs),
            "sentences_sha256": digest.hexdigest(), "kept_pairs": kept_pairs, "max_span_size": max_span_size,
            "teacher_weights": None if stat is None else [stat.st_size, stat.st_mtime_ns]}


def compute(teacher, docs: Sequence[Document], directory: Path, *, kept_pairs: bool, batch_size: int,
            device: torch.device) -> tuple[int, int]:
    """Write the teacher's outputs over ``docs`` (the training sentences in the teacher's order) into
    ``directory``, a batch of ``batch_size`` sentences at a time."""
    files = {name: open(directory / name, "wb") for name in ("spans.i32", "entity.f32", "pairs.i32", "relation.f32")}
    span_offsets, pair_offsets = [0], [0]
    c, r = teacher.model.schema.num_entity_classes, teacher.model.schema.num_relation_types  # the logits' widths
    try:
        empty = np.zeros((0, 2), dtype=np.int64)
        for lo in range(0, len(docs), batch_size):
            ids = list(range(lo, min(lo + batch_size, len(docs))))
            golds = [gold_spans(docs[j]) for j in ids]
            seen = teacher.online(ids, [Sample(g, None, empty, None) for g in golds], device)
            logits = seen.entity_logits.float().cpu().numpy()  # (S', C)
            heads, tails = [], []
            for b, j in enumerate(ids):
                index = seen.index[b]
                first = min(index.values(), default=0)  # the sentence's rows are consecutive, in index order
                spans = np.array(list(index.keys()), dtype=np.int32).reshape(-1, 2)
                files["spans.i32"].write(spans.tobytes())
                span_offsets.append(span_offsets[-1] + len(spans))
                kept = None
                if kept_pairs:
                    kept = seen.kept(b)
                    kept = most_confident(kept, logits[[index[tuple(s)] for s in kept.tolist()]])
                k = pair_spans(golds[b], kept)
                rows = np.array([index[tuple(s)] for s in k.tolist()], dtype=np.int64)
                h, t = np.repeat(rows, len(rows)), np.tile(rows, len(rows))  # every ordered pair, (K*K,)
                files["pairs.i32"].write(np.stack([h - first, t - first], axis=1).astype(np.int32).tobytes())
                pair_offsets.append(pair_offsets[-1] + len(h))
                heads.append(h)
                tails.append(t)
            files["entity.f32"].write(np.ascontiguousarray(logits, dtype=np.float32).tobytes())
            head = torch.from_numpy(np.concatenate(heads)).to(seen.entity_logits.device)
            tail = torch.from_numpy(np.concatenate(tails)).to(seen.entity_logits.device)
            rel = seen.pair_logits(head, tail)  # (P', R)
            files["relation.f32"].write(np.ascontiguousarray(rel.float().cpu().numpy(), dtype=np.float32).tobytes())
    finally:
        for f in files.values():
            f.close()
    np.save(directory / "offsets.npy", np.stack([span_offsets, pair_offsets], axis=1).astype(np.int64))
    return c, r


def cached_outputs(teacher, docs: Sequence[Document], out_dir: Path | None, *, kept_pairs: bool, batch_size: int,
                   device: torch.device, max_span_size: int) -> TeacherOutputs:
    """The teacher's outputs over ``docs``: read back from ``out_dir/teacher_outputs`` where a
    previous start of the run computed them from the same teacher and sentences, else computed
    (and written there; ``out_dir`` None: into a temporary directory, for the processes that do not
    write the run's files)."""
    info = describe(teacher.path, docs, kept_pairs, max_span_size)
    if out_dir is not None:
        path = out_dir / OUTPUTS_DIR
        if recover_directory(path) and _info(path) == info:
            log.info("the teacher's outputs: read back from %s", path)
            return TeacherOutputs(path)
    t0 = time.perf_counter()
    if out_dir is not None:
        with atomic_directory(path) as tmp:
            _write(teacher, docs, tmp, info, kept_pairs, batch_size, device)
        keep = None
    else:
        keep = tempfile.TemporaryDirectory(prefix="spert-teacher-outputs-")
        path = Path(keep.name)
        _write(teacher, docs, path, info, kept_pairs, batch_size, device)
    outputs = TeacherOutputs(path, keep)
    log.info("the teacher's outputs over %d sentences: %d spans, %d pairs, computed in %.1f s", len(outputs),
             len(outputs.entity), len(outputs.relation), time.perf_counter() - t0)
    return outputs


def _write(teacher, docs, directory: Path, info: dict, kept_pairs: bool, batch_size: int, device) -> None:
    c, r = compute(teacher, docs, directory, kept_pairs=kept_pairs, batch_size=batch_size, device=device)
    (directory / "outputs.json").write_text(json.dumps({**info, "entity_classes": c, "relation_types": r}, indent=2))


def _info(path: Path) -> dict | None:
    try:
        info = json.loads((path / "outputs.json").read_text())
    except (OSError, ValueError):
        return None
    return {k: info.get(k) for k in ("version", "teacher", "sentences", "sentences_sha256", "kept_pairs",
                                     "max_span_size", "teacher_weights")}
