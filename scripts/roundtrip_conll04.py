"""CoNLL04 test -> brat (the pre-annotation writer) -> ``spert data import``, both ``--documents``
modes side by side: import time, and the entities and relations carried over exactly (compared
in characters). Usage: ``PYTHONPATH=src python scripts/roundtrip_conll04.py [OUT_DIR]``."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from spert.data.formats.common import ImportOptions
from spert.data.formats.importer import import_annotations
from spert.data.formats.registry import open_writer
from spert.data.records import Prediction
from spert.data.text import TextTokenizer
from spert.model.encoding import subword_counter

ROOT = Path(__file__).resolve().parents[1]


def char_triples(records):
    ents, rels = set(), set()
    for x in records:
        o = x["char_offsets"]
        span = [(q["type"], o[q["start"]][0], o[q["end"] - 1][1]) for q in x["entities"]]
        ents |= {(x["document"], *s) for s in span}
        rels |= {(x["document"], q["type"], span[q["head"]], span[q["tail"]]) for q in x["relations"]}
    return ents, rels


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "conll04_brat"
    docs = json.loads((ROOT / "data/conll04/conll04_test.json").read_text(encoding="utf-8"))
    writer = open_writer("brat", out)
    gold_e, gold_r = set(), set()
    for i, d in enumerate(docs):
        p = Prediction.from_json({"tokens": d["tokens"], "entities": d["entities"], "relations": d["relations"],
                                  "document": f"{i:04d}"})
        writer.add(p)
        span = [(q.type, q.char_start, q.char_end) for q in p.entities]
        gold_e |= {(f"{i:04d}", *s) for s in span}
        gold_r |= {(f"{i:04d}", q.type, span[q.head], span[q.tail]) for q in p.relations}
    writer.commit()
    tokenizer, counts = TextTokenizer(), subword_counter(None)  # as spert data import: the default encoder
    tokenizer("warm up")
    for mode in ("split", "keep"):
        t = time.perf_counter()
        r = import_annotations("brat", out, ImportOptions(max_span_size=100, documents=mode), tokenizer=tokenizer,
                               subword_counts=counts)
        dt = time.perf_counter() - t
        ents, rels = char_triples(r.records)
        print(f"--documents {mode}: {len(docs)} documents imported in {dt:.2f} s; entities exact "
              f"{len(ents & gold_e)}/{len(gold_e)}, relations exact {len(rels & gold_r)}/{len(gold_r)}, "
              f"records {len(r.records)}")
        print(r.summary.format())


if __name__ == "__main__":
    main()
