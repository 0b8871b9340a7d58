"""Overhead of the spaCy component over the Python API on the same texts, side by side.

Usage (project root):
    .venv/bin/python scripts/spacy_overhead.py MODEL_DIR [--docs N] [--repeats R] [--docs-per-call D] [--threads T]

Texts: CoNLL04 test sentences as raw text (the first N, cycled). Both sides use the same loaded
model (the component's) and hand D documents to the model at a time. Three figures:

* raw text: ``SpERT.iter_predict(texts)`` against ``nlp.pipe(texts)`` with ``spacy.blank("en")`` and
  the component; both tokenize with spaCy's English rules and split with its sentencizer.
* given tokens: ``SpERT.iter_predict`` of word and sentence records against the component on docs
  tokenized beforehand: only the component's own work differs (words and sentences from the doc,
  the records, spans, ``doc.ents`` and relations written back).
* the component's own work alone: the component on those docs with the model's answers replayed,
  against the Python API's time on given tokens (steady where the two above drown in noise).

Each figure is the best of R rounds (API and component alternate within a round), as wall time
and as this process's CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import spacy
import torch

from spert.integrations.spacy_pipe import doc_to_prediction, doc_words

CONLL04_TEST = Path(__file__).resolve().parents[1] / "data" / "conll04" / "conll04_test.json"


def best_of(rounds: int, *jobs) -> list[tuple[float, float]]:
    """The shortest wall time and CPU time of each job over ``rounds`` rounds, the jobs alternating
    (CPU time, this process's over all threads, is the steadier figure on a shared machine)."""
    best = [(float("inf"), float("inf"))] * len(jobs)
    for _ in range(rounds):
        for i, job in enumerate(jobs):
            wall, cpu = time.perf_counter(), time.process_time()
            job()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[i] = (min(best[i][0], wall), min(best[i][1], cpu))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--docs", type=int, default=288, help="documents (CoNLL04 test has 288)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--docs-per-call", type=int, default=256)
    ap.add_argument("--threads", type=int, help="torch threads (default: PyTorch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    records = json.loads(CONLL04_TEST.read_text(encoding="utf-8"))
    texts = [" ".join(records[i % len(records)]["tokens"]) for i in range(args.docs)]
    nlp = spacy.blank("en")
    component = nlp.add_pipe("spert", config={"model": args.model})
    api = component.model
    per_call = args.docs_per_call

    # the results agree (a check, not timed)
    assert [doc_to_prediction(d).to_json() for d in nlp.pipe(texts[:32], batch_size=per_call)] == \
        [p.to_json() for p in api.iter_predict(texts[:32], chunk_size=per_call)]

    docs = [nlp.make_doc(t) for t in texts]
    given = [{"tokens": [d[i].text for i in w], "sentences": [list(s) for s in s_]}
             for d in docs for w, s_ in [doc_words(d)]]
    best_of(1, lambda: api.predict(texts[:16]), lambda: list(nlp.pipe(texts[:16])))  # warm-up
    raw = best_of(args.repeats, lambda: list(api.iter_predict(texts, chunk_size=per_call)),
                  lambda: list(nlp.pipe(texts, batch_size=per_call)))
    tok = best_of(args.repeats, lambda: list(api.iter_predict(given, chunk_size=per_call)),
                  lambda: list(component.pipe(docs, batch_size=per_call)))

    # the component's own work alone: the same docs with the model's answers replayed (no model call)
    answers = iter([list(api.iter_predict(given[i:i + per_call], chunk_size=per_call))
                    for i in range(0, len(given), per_call)] * args.repeats)
    api.predict = lambda records, **kw: next(answers)
    ((own_wall, own_cpu),) = best_of(args.repeats, lambda: list(component.pipe(docs, batch_size=per_call)))
    del api.predict

    words = sum(len(g["tokens"]) for g in given)
    print(f"model {args.model}: {args.docs} documents, {words} words; {torch.get_num_threads()} torch threads, "
          f"load average {os.getloadavg()[0]:.1f}; best of {args.repeats}")
    print(f"{'':14} {'API wall':>9} {'spaCy wall':>11} {'ratio':>6}   {'API CPU':>8} {'spaCy CPU':>10} {'ratio':>6}")
    for name, ((aw, ac), (cw, cc)) in (("raw text", raw), ("given tokens", tok)):
        print(f"{name:14} {aw:8.2f}s {cw:10.2f}s {cw / aw:5.3f}x   {ac:7.2f}s {cc:9.2f}s {cc / ac:5.3f}x")
    api_cpu = tok[0][1]
    print(f"the component's own work (model answers replayed): {own_wall:.3f}s wall, {own_cpu:.3f}s CPU, "
          f"{1000 * own_cpu / args.docs:.2f} ms per document, {100 * own_cpu / api_cpu:.1f}% of the API's CPU time "
          f"on given tokens")


if __name__ == "__main__":
    main()
