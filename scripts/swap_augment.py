"""The control of `spert distill --silver_swap N`: the same mention-swapped copies of the training
sentences, labelled not by a teacher but with their source's gold labels carried over (as if every
swap kept its entities' types and relations true), written after the gold sentences as a training
file for plain `spert train`. What the student gains from silver swaps over this run is the
teacher's doing; what this run gains over plain training is the augmentation's.

usage: python scripts/swap_augment.py TRAIN_JSON TYPES_JSON OUT_JSON --copies N --seed S
           [--compare-silver RUN_DIR/silver.json]

--seed is the distill run's seed: its swaps are drawn from the same random stream, so the
sentences are the ones its teacher labelled (--compare-silver checks this and counts where the
teacher's labels and the carried-over ones differ).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from spert.data.documents import read_documents, write_records
from spert.data.schema import load_types
from spert.data.silver import swap_mentions
from spert.eval.metrics import gold_tuples
from spert.train.teacher import SILVER_STREAM


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train", type=Path)
    ap.add_argument("types", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--copies", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--compare-silver", type=Path, default=None)
    args = ap.parse_args()
    schema = load_types(args.types)
    docs = read_documents(args.train, schema)
    swapped = swap_mentions(docs, args.copies, np.random.default_rng([args.seed, SILVER_STREAM]), keep_labels=True)
    write_records(args.out, [d.to_json() for d in [*docs, *swapped]])
    print(f"{args.out}: {len(docs)} gold sentences and {len(swapped)} swapped copies with their labels carried over")
    if args.compare_silver:
        silver = read_documents(args.compare_silver, schema, require_annotations=False)
        if [d.tokens for d in silver] != [d.tokens for d in swapped]:
            raise SystemExit(f"{args.compare_silver}: not the same sentences (another seed, copies or training file?)")
        same_e = same_r = n_e = n_r = t_e = t_r = 0
        for s, g in zip(silver, swapped):
            (se, sr, _), (ge, gr, _) = gold_tuples(s), gold_tuples(g)  # NER and REL tuples
            same_e, same_r = same_e + len(se & ge), same_r + len(sr & gr)
            n_e, n_r, t_e, t_r = n_e + len(ge), n_r + len(gr), t_e + len(se), t_r + len(sr)
        print(f"the same sentences as {args.compare_silver}; the teacher's labels against the carried-over ones: "
              f"entities {same_e} of {n_e} carried over kept ({t_e} the teacher's), relations {same_r} of {n_r} "
              f"kept ({t_r} the teacher's)")


if __name__ == "__main__":
    main()
