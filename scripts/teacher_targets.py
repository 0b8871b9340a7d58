"""How much a distilled run's cached teacher targets say beyond the gold labels of the sentences
they were computed on: a teacher trained on the student's own training sentences knows their gold
labels, and where its targets are near one-hot on the gold class, the distillation loss teaches the
student little that the gold loss does not.

usage: python scripts/teacher_targets.py RUN_DIR [--temperature T]
   RUN_DIR: a `spert distill` output directory with teacher_outputs/ (teacher_outputs cached) and
   config.json (its train_path and types_path, read relative to the working directory).

Prints, for entities (every cached candidate span) and relations (every cached ordered pair of
gold entities, one output per relation type), split by gold class: how often the teacher's decision
agrees with gold, the mean probability its target (at temperature 1 and at T, the run's by default)
gives the gold answer, and the mean mass away from it ("dark knowledge": what the gold loss lacks).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from spert.data.documents import read_documents
from spert.data.schema import load_types
from spert.train.teacher_outputs import OUTPUTS_DIR, TeacherOutputs


def softmax(z: np.ndarray) -> np.ndarray:
    return torch.softmax(torch.from_numpy(z).float(), -1).numpy()


def sigmoid(z: np.ndarray) -> np.ndarray:
    return torch.sigmoid(torch.from_numpy(z).float()).numpy()


def run_config(run: Path) -> dict:
    """The run's config.json, once a directory is known to be a distilled run with a cache (else one line)."""
    if not (run / OUTPUTS_DIR / "outputs.json").is_file():
        raise SystemExit(f"{run}: no {OUTPUTS_DIR}/outputs.json: not a spert distill run with its teacher's "
                         "outputs cached (teacher_outputs auto or cached)")
    return json.loads((run / "config.json").read_text())


def gold_arrays(run: Path, cfg: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The cached entity logits (S, C) with each span's gold class (S,), the cached relation logits
    of pairs of gold entities (P, R) with their gold multi-hot labels (P, R), and the relation types
    (``cfg``: the run's config, :func:`run_config`)."""
    schema = load_types(cfg["types_path"])
    docs = read_documents(cfg["train_path"], schema)
    out = TeacherOutputs(run / OUTPUTS_DIR)
    if len(out) != len(docs):
        raise SystemExit(f"{run}: the cache holds {len(out)} sentences, {cfg['train_path']} {len(docs)}"
                         " (silver sentences or max_docs: not supported here)")
    ent_logits, ent_gold, rel_logits, rel_gold = [], [], [], []
    for j, doc in enumerate(docs):
        index = out.span_index(j)
        gold = np.zeros(len(index), dtype=np.int64)  # (S_j,) 0: no entity
        for e in doc.entities:
            gold[index[e.span]] = schema.entity_class(e.type)
        ent_logits.append(out.entity_of(j))
        ent_gold.append(gold)
        pairs = out.pair_index(j)
        labels = {}
        for r in doc.relations:
            key = (index[doc.entities[r.head].span], index[doc.entities[r.tail].span])
            labels.setdefault(key, np.zeros(schema.num_relation_types, dtype=np.int64))[schema.relation_index(r.type)] = 1
        for a in doc.entities:
            for b in doc.entities:
                if a.span == b.span:
                    continue
                key = (index[a.span], index[b.span])
                rel_logits.append(out.relation[pairs[key]])
                rel_gold.append(labels.get(key, np.zeros(schema.num_relation_types, dtype=np.int64)))
    r = schema.num_relation_types
    return (np.concatenate(ent_logits), np.concatenate(ent_gold),
            np.array(rel_logits, dtype=np.float32).reshape(-1, r), np.array(rel_gold).reshape(-1, r),
            [t.name for t in schema.relations])


def mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else float("nan")


def summary(ent: np.ndarray, ent_gold: np.ndarray, rel: np.ndarray, rel_gold: np.ndarray, t: float,
            threshold: float) -> dict[str, list]:
    """Per kind and gold class: (name, count, share where the teacher decides as gold, mean p(gold) at
    temperature 1, mean p(gold) at ``t``): entity logits (S, C) with gold classes (S,), relation
    logits (P, R) with multi-hot gold labels (P, R); and per relation type (R,) its outputs whose
    decision is not gold's and its gold relations ("by type")."""
    p1, pt = softmax(ent), softmax(ent / t)
    rows = np.arange(len(ent_gold))
    out: dict[str, list] = {"entity": [], "relation": []}
    for name, sel in [("all", np.ones_like(ent_gold, dtype=bool)), ("no entity", ent_gold == 0),
                      ("an entity", ent_gold > 0)]:
        g = ent_gold[sel]
        out["entity"].append((name, len(g), mean(p1[sel].argmax(-1) == g),
                              mean(p1[rows[sel], g]), mean(pt[rows[sel], g])))
    s1, st = sigmoid(rel), sigmoid(rel / t)
    for name, sel in [("all", np.ones_like(rel_gold, dtype=bool)), ("no relation", rel_gold == 0),
                      ("a relation", rel_gold == 1)]:
        g = rel_gold[sel]
        out["relation"].append((name, len(g), mean((s1[sel] > threshold) == (g == 1)),
                                mean(np.where(g == 1, s1[sel], 1 - s1[sel])),
                                mean(np.where(g == 1, st[sel], 1 - st[sel]))))
    wrong = (s1 > threshold) != (rel_gold == 1)  # (P, R)
    out["by type"] = list(zip(wrong.sum(0).tolist(), rel_gold.sum(0).tolist()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--temperature", type=float, default=None)
    args = ap.parse_args()
    cfg = run_config(args.run)
    t = args.temperature if args.temperature is not None else float(cfg.get("distill_temperature", 2.0))
    threshold = float(cfg.get("rel_filter_threshold", 0.4))
    ent, ent_gold, rel, rel_gold, rel_names = gold_arrays(args.run, cfg)
    rows = summary(ent, ent_gold, rel, rel_gold, t, threshold)
    print(f"{args.run}: {len(ent_gold)} candidate spans, {len(rel_gold)} ordered pairs of gold entities; T = {t:g}")
    for kind, what, decision in (("entity", "entity spans, gold class", "teacher argmax = gold"),
                                 ("relation", "relation outputs, gold", f"teacher decision (> {threshold:g}) = gold")):
        print(f"\n| {what} | count | {decision} | p(gold), T=1 | p(gold), T={t:g} | mass off gold, T={t:g} |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, n, agree, a, b in rows[kind]:
            print(f"| {name} | {n} | {100 * agree:.2f}% | {a:.4f} | {b:.4f} | {1 - b:.4f} |")
    print("\nrelation outputs whose decision disagrees with gold, by type: "
          + ", ".join(f"{n} {w} ({g} gold)" for n, (w, g) in zip(rel_names, rows["by type"])))


if __name__ == "__main__":
    main()
