"""Ray throughput: 1 and 2 actors against single-process predict on the same file, side by side.

Usage (project root): PYTHONPATH=src python scripts/ray_throughput.py MODEL_DIR DOCS REPEATS [WORK_DIR]
"""
import json, sys, time, os
from pathlib import Path
import torch
model_dir, n = sys.argv[1], int(sys.argv[2])
work = Path(sys.argv[4] if len(sys.argv) > 4 else "ray_throughput"); work.mkdir(exist_ok=True)
alld = json.load(open("data/conll04/conll04_test.json")); docs = [alld[i % len(alld)] for i in range(n)]
inp = work / "in.jsonl"
inp.write_text("".join(json.dumps({"id": i, "tokens": d["tokens"]}) + "\n" for i, d in enumerate(docs)))
from spert.infer.extractor import SpERT
from spert.infer.stream import StreamSpec, run_predict
from spert.infer.ray import RaySettings, predict_on_ray, connect
res = {}
def single(threads):
    torch.set_num_threads(threads)
    m = SpERT.load(model_dir)
    t = time.perf_counter(); run_predict(m, StreamSpec(str(inp), str(work / f"single{threads}.jsonl")), progress=False); return time.perf_counter() - t
t0 = time.perf_counter(); ray = connect(RaySettings(actors=2)); res["ray_init_s"] = round(time.perf_counter() - t0, 1)
for rep in range(int(sys.argv[3]) if len(sys.argv) > 3 else 2):
    for name, fn in [("single_1_thread", lambda: single(1)), ("single_2_threads", lambda: single(2)),
                     ("ray_1_actor", lambda: (lambda t: (predict_on_ray(model_dir, StreamSpec(str(inp), str(work / "ray1.jsonl")), RaySettings(actors=1)), time.perf_counter() - t)[1])(time.perf_counter())),
                     ("ray_2_actors", lambda: (lambda t: (predict_on_ray(model_dir, StreamSpec(str(inp), str(work / "ray2.jsonl")), RaySettings(actors=2)), time.perf_counter() - t)[1])(time.perf_counter()))]:
        s = fn(); res.setdefault(name, []).append(round(s, 2)); print(name, round(s, 2), f"{n / s:.1f} docs/s", flush=True)
same = all((work / f).read_bytes() == (work / "single1.jsonl").read_bytes() for f in ("single2.jsonl", "ray1.jsonl", "ray2.jsonl"))
res["outputs_identical"] = same; res["documents"] = n; res["load"] = os.getloadavg()
print(json.dumps(res))
