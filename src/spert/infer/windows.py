"""Sentences longer than the encoder takes, and relations between given entities.

A sentence whose subwords (plus the start and end tokens) exceed the encoder's
maximum (512 for BERT) is neither truncated nor rejected: it is cut into
overlapping word windows that each fit. A window starts where about half of the
previous window remains (and at least ``max_span_size`` words of it), so
consecutive windows overlap by about half a window and every candidate span lies
well inside at least one of them.

1. Entities. Each candidate span is classified in exactly one window: the one
   where it is most central, i.e. farthest (in words) from a window edge that
   cuts the sentence (the sentence's own start and end cut nothing). Each span
   thus gets the most context on both sides, and no span is scored twice, so
   merging the windows' entities is their union.
2. Relations. Every ordered pair of (merged) entities is classified in the
   window where the pair -- from the first word of either entity to the last
   word of either -- is most central. A pair that fits in no window, i.e.
   entities farther apart than about half a window (some 200 words for BERT),
   is not scored and gets no relation: the model has never seen such distances.

The same two steps predict relations for given entities (gold data or another
NER system): step 1 is skipped and step 2 runs on the given spans. A sentence
that fits the encoder is one window; step 2 then scores all ordered pairs of
its entities, which is the model's own relation step.

Cost: step 1 and step 2 each encode their windows, so a long sentence costs two
encoder passes per window. Short sentences without given entities never come
here (:func:`spert.infer.runner.predict_documents` handles them in one pass).

Edge cases, documented rather than hidden: a single word with more subwords than
a window holds (a garbage string of thousands of characters) keeps only its first
subwords, as many as fit; a given entity longer than a window fits none, so it
takes part in no relation (a warning says so).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from spert.data.predictions import DocPrediction, ScoredEntity, ScoredRelation, drop_overlapping
from spert.errors import EncoderError
from spert.infer.decoding import add_relation
from spert.infer.options import PredictOptions
from spert.infer.runner import length_batches, resolved_threshold
from spert.model.batch import collate
from spert.model.encoders import pad_id
from spert.data.syntax import connect_roots
from spert.model.encoding import Encoding
from spert.model.network import SpERTModel
from spert.model.spans import Sample, candidate_spans

log = logging.getLogger(__name__)

_NO_EDGE = 1 << 40  # distance to a window edge that is the sentence's own start or end
GivenEntity = tuple[str, int, int]  # (type, start word, end word)


@dataclass(frozen=True, slots=True)
class Window:
    start: int  # first word
    end: int  # one past the last word


def plan_windows(counts: Sequence[int], budget: int, min_overlap: int = 0) -> list[Window]:
    """Overlapping word windows of at most ``budget`` subwords that cover all words.

    ``counts`` are the subwords of each word (a word longer than the budget counts as
    the budget: it is cut when encoded). Consecutive windows share about half a budget
    of subwords and at least ``min_overlap`` words (the longest candidate span), so that
    every candidate span lies inside some window. One window when everything fits.
    """
    n = len(counts)
    if n == 0:
        return []
    c = np.minimum(np.maximum(np.asarray(counts, dtype=np.int64), 1), budget)
    prefix = np.concatenate([[0], np.cumsum(c)])  # (n+1,) subwords before word i
    windows, s = [], 0
    while True:
        e = int(np.searchsorted(prefix, prefix[s] + budget, side="right")) - 1  # furthest end that fits
        e = min(max(e, s + 1), n)
        windows.append(Window(s, e))
        if e >= n:
            return windows
        # the next window starts where at most half a budget of this one remains
        nxt = int(np.searchsorted(prefix, prefix[e] - budget // 2, side="left"))
        s = min(max(min(nxt, e - min_overlap), s + 1), e)


def best_window(windows: Sequence[Window], num_words: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """For each word range [left, right): the window that holds it most centrally, -1 if none holds it."""
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    ws = np.array([w.start for w in windows], dtype=np.int64)
    we = np.array([w.end for w in windows], dtype=np.int64)
    # windows holding [l, r) are a contiguous run lo..hi: starts and ends both increase
    hi = np.searchsorted(ws, left, side="right") - 1
    lo = np.searchsorted(we, right, side="left")
    best = np.full(len(left), -1, dtype=np.int64)
    best_dist = np.full(len(left), -1, dtype=np.int64)
    for d in range(int((hi - lo).max(initial=-1)) + 1):
        k = lo + d
        valid = k <= hi
        k = np.where(valid, k, 0)
        dl = np.where(ws[k] > 0, left - ws[k], _NO_EDGE)
        dr = np.where(we[k] < num_words, we[k] - right, _NO_EDGE)
        dist = np.minimum(dl, dr)
        better = valid & (dist > best_dist)
        best = np.where(better, k, best)
        best_dist = np.where(better, dist, best_dist)
    return best


def window_encoding(enc: Encoding, w: Window, budget: int) -> Encoding:
    """The encoding of words [w.start, w.end) alone, with the sentence's start and end tokens."""
    if w.start == 0 and w.end == enc.num_words and len(enc.input_ids) <= budget + 2:
        return enc
    ids, starts, ends = [enc.input_ids[0]], [], []
    for i in range(w.start, w.end):
        a = enc.word_start[i]
        b = min(enc.word_end[i], a + budget)
        starts.append(len(ids))
        ids.extend(enc.input_ids[a:b])
        ends.append(len(ids))
    ids.append(enc.input_ids[-1])
    return Encoding(tuple(ids), tuple(starts), tuple(ends), _window_heads(enc.heads, w))


def _window_heads(heads: tuple[int, ...] | None, w: Window) -> tuple[int, ...] | None:
    """The sentence's dependency tree cut to the window: a word whose head lies outside becomes a root,
    and the window's roots are joined (spert.data.syntax.connect_roots). A path that left the window
    in the whole tree is shorter here; the window sees only its own words, as it does for spans."""
    if heads is None:
        return None
    return connect_roots([h - w.start if w.start <= h < w.end else i - w.start
                          for i, h in enumerate(heads[w.start:w.end], start=w.start)])


@dataclass
class _Job:
    """One window to score: its spans (window-local words) and pairs (indices into the spans)."""

    unit: int  # which sentence
    enc: Encoding
    offset: int  # sentence word index of the window's first word
    spans: np.ndarray  # (S, 2)
    pairs: np.ndarray  # (P, 2)
    ids: np.ndarray | None = None  # (S,) entity index of each span in its sentence (step 2)


_NO_PAIRS = np.zeros((0, 2), dtype=np.int64)


def _score(model: SpERTModel, jobs: list[_Job], pad: int, batch_size: int,
           device: str | torch.device) -> Iterator[tuple[_Job, np.ndarray, np.ndarray]]:
    """(job, (S, C) entity probabilities, (P, R) relation probabilities), in batches of similar length."""
    for group in length_batches([len(j.enc.input_ids) for j in jobs], batch_size):
        js = [jobs[i] for i in group]
        batch = collate([j.enc for j in js], [Sample(j.spans, None, j.pairs, None) for j in js], pad).to(device)
        ent, rel = model.score(batch)
        ent, rel = ent.cpu().numpy(), rel.cpu().numpy()
        s_off = np.cumsum([0] + [len(j.spans) for j in js])
        p_off = np.cumsum([0] + [len(j.pairs) for j in js])
        for k, j in enumerate(js):
            yield j, ent[s_off[k]:s_off[k + 1]], rel[p_off[k]:p_off[k + 1]]


def predict_windowed(model: SpERTModel, tokenizer, sentences: Sequence[Sequence[str]],
                     encodings: Sequence[Encoding], options: PredictOptions, *, limit: int,
                     given: Sequence[Sequence[GivenEntity]] | None = None) -> list[DocPrediction]:
    """Entities and relations for sentences of any length, in input order, on the model's device.

    ``limit`` is the encoder's maximum sequence length (start and end tokens included,
    :func:`spert.model.encoders.max_subwords`); ``options`` give the relation threshold (resolved:
    :func:`spert.infer.runner.resolved_threshold`), the no-overlap rule and the batch size.
    With ``given`` (per sentence, (type, start, end) word spans), those are the entities,
    in the order given, with score NaN, and only relations are predicted; ``no_overlap``
    then does not apply (given entities are never dropped).
    """
    threshold, batch_size, no_overlap = resolved_threshold(options), options.batch_size, options.no_overlap
    device = next(model.parameters()).device
    budget = limit - 2
    if budget < 1:
        raise EncoderError(f"the encoder's maximum length {limit} leaves no room for words")
    was_training = model.training
    model.eval()
    pad = pad_id(tokenizer)
    max_span = model.settings.max_span_size
    plans = [plan_windows(np.asarray(e.word_end) - np.asarray(e.word_start), budget, max_span) for e in encodings]
    try:
        if given is None:
            found = _find_entities(model, encodings, plans, budget, pad, batch_size, device)
        else:
            found = [[(t, s, e, math.nan) for t, s, e in g] for g in given]
        relations = _find_relations(model, encodings, plans, found, budget, pad, batch_size, device, threshold)
    finally:
        model.train(was_training)
    out = []
    for words, ents, rels in zip(sentences, found, relations):
        d = DocPrediction(tuple(words), [ScoredEntity(t, s, e, p) for t, s, e, p in ents],
                          [ScoredRelation(rt, h, t, p) for (h, t, rt), p in sorted(rels.items())])
        out.append(drop_overlapping(d) if no_overlap and given is None else d)
    return out


def _find_entities(model: SpERTModel, encodings, plans, budget, pad, batch_size, device):
    """Step 1: each candidate span classified in its most central window; entities sorted by position."""
    jobs = []
    for u, (enc, wins) in enumerate(zip(encodings, plans)):
        if not wins:
            continue
        cands = candidate_spans(enc.num_words, model.settings.max_span_size)  # (S, 2)
        owner = best_window(wins, enc.num_words, cands[:, 0], cands[:, 1])
        for k, w in enumerate(wins):
            mine = cands[owner == k]
            if len(mine):
                jobs.append(_Job(u, window_encoding(enc, w, budget), w.start, mine - w.start, _NO_PAIRS))
    found: list[list[tuple[str, int, int, float]]] = [[] for _ in encodings]
    names = [t.name for t in model.schema.entities]
    for job, ent, _ in _score(model, jobs, pad, batch_size, device):
        klass, score = ent.argmax(-1), ent.max(-1)
        for (s, e), c, p in zip(job.spans[klass != 0] + job.offset, klass[klass != 0], score[klass != 0]):
            found[job.unit].append((names[c - 1], int(s), int(e), float(p)))
    for f in found:
        f.sort(key=lambda x: (x[1], x[2]))
    return found


def _find_relations(model: SpERTModel, encodings, plans, found, budget, pad, batch_size, device, threshold):
    """Step 2: every ordered pair of distinct entity spans, scored in its most central window."""
    jobs = []
    for u, (enc, wins, ents) in enumerate(zip(encodings, plans, found)):
        if len(ents) < 2:
            continue
        starts = np.array([e[1] for e in ents], dtype=np.int64)
        ends = np.array([e[2] for e in ents], dtype=np.int64)
        homeless = best_window(wins, enc.num_words, starts, ends) < 0
        if homeless.any():
            log.warning("sentence of %d words: %d entities longer than a window of the encoder take part in "
                        "no relation", enc.num_words, int(homeless.sum()))
        for k, w in enumerate(wins):
            inside = np.nonzero((starts >= w.start) & (ends <= w.end))[0]  # (m,)
            if len(inside) < 2:
                continue
            a, b = np.meshgrid(np.arange(len(inside)), np.arange(len(inside)), indexing="ij")
            a, b = a.ravel(), b.ravel()
            ga, gb = inside[a], inside[b]
            distinct = (starts[ga] != starts[gb]) | (ends[ga] != ends[gb])
            cover_l, cover_r = np.minimum(starts[ga], starts[gb]), np.maximum(ends[ga], ends[gb])
            mine = distinct & (best_window(wins, enc.num_words, cover_l, cover_r) == k)
            if not mine.any():
                continue
            spans = np.stack([starts[inside], ends[inside]], axis=1) - w.start
            pairs = np.stack([a[mine], b[mine]], axis=1).astype(np.int64)
            jobs.append(_Job(u, window_encoding(enc, w, budget), w.start, spans, pairs, inside))

    relations: list[dict[tuple[int, int, str], float]] = [dict() for _ in encodings]
    types = model.schema.relations
    for job, _, rel in _score(model, jobs, pad, batch_size, device):
        ents, best = found[job.unit], relations[job.unit]
        for p, r in np.argwhere(rel >= threshold):
            h, t = int(job.ids[job.pairs[p, 0]]), int(job.ids[job.pairs[p, 1]])
            add_relation(best, h, t, types[r], ents[h][1], ents[t][1], float(rel[p, r]))
    return relations
