"""CoNLL04 test -> brat (spert.infer.export) -> spert data import: time, and entities and relations
carried over exactly, compared in characters. Usage: PYTHONPATH=src python scripts/roundtrip_conll04.py split|keep"""
import json, time, sys
from pathlib import Path
from spert.data.documents import read_documents
from spert.infer.records import Prediction
from spert.infer.export import open_exporter
from spert.data.formats.importer import import_annotations
from spert.data.formats.common import ImportOptions
src = Path("data/conll04/conll04_test.json")
docs = json.loads(src.read_text())
out = Path("/tmp/ann/rt_brat")
w = open_exporter("brat", out)
preds = []
for i, d in enumerate(docs):
    p = Prediction.from_json({"tokens": d["tokens"], "entities": d["entities"], "relations": d["relations"], "document": f"{i:04d}"})
    preds.append(p); w.add(p)
w.commit()
t = time.perf_counter()
r = import_annotations("brat", out, ImportOptions(max_span_size=100, documents=sys.argv[1]))
dt = time.perf_counter() - t
# compare in characters
def chars(recs):
    e, rel = set(), set()
    for x in recs:
        o = x["char_offsets"]
        sp = [(q["type"], o[q["start"]][0], o[q["end"]-1][1]) for q in x["entities"]]
        e |= {(x["document"], *s) for s in sp}
        rel |= {(x["document"], q["type"], sp[q["head"]], sp[q["tail"]]) for q in x["relations"]}
    return e, rel
ge, gr = set(), set()
for i, p in enumerate(preds):
    sp = [(q.type, q.char_start, q.char_end) for q in p.entities]
    ge |= {(f"{i:04d}", *s) for s in sp}
    gr |= {(f"{i:04d}", q.type, sp[q.head], sp[q.tail]) for q in p.relations}
e, rel = chars(r.records)
print(f"docs {len(docs)} import {dt:.2f}s; entities {len(e & ge)}/{len(ge)} relations {len(rel & gr)}/{len(gr)}; records {len(r.records)}")
print(r.summary.format())
