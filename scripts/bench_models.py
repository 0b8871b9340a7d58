"""Prediction speed and memory of several models side by side: `spert bench` of each in turn, round
after round (A B C A B C ...), so that the machine's drift falls on all of them alike; medians.

usage: python scripts/bench_models.py NAME=MODEL_DIR [NAME=MODEL_DIR ...] [--rounds 3] [--out DIR]
           [--data FILE] [--batch-sizes 1,8] [--max-docs N]

Prints a Markdown table (test F1 from the bench's own scoring, sentences/s per batch size and the
ratio to the first model, the whole process's peak resident memory, the weights' size on disk) and
writes it, with every round's `spert bench` JSON, under --out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path


def bench_once(name: str, model: Path, out: Path, r: int, data: str, batch_sizes: str, max_docs: int | None) -> dict:
    js, peak = out / f"{name}_r{r}.json", out / f"{name}_r{r}.peak_kb"
    cmd = ["/usr/bin/time", "-f", "%M", "-o", str(peak), sys.executable, "-m", "spert", "bench", "-m", str(model),
           "--data", data, "--batch-sizes", batch_sizes, "--train-updates", "0", "--no-naive", "--lengths", "none",
           "--repeats", "1", "--json", str(js)] + ([] if max_docs is None else ["--max-docs", str(max_docs)])
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    result = json.loads(js.read_text())
    result["process_peak_kb"] = int(peak.read_text().split()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="NAME=MODEL_DIR")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench_models"))
    ap.add_argument("--data", default="data/conll04/conll04_test.json")
    ap.add_argument("--batch-sizes", default="1,8")
    ap.add_argument("--max-docs", type=int, default=None, help="only the first N sentences")
    args = ap.parse_args()
    models = [(n, Path(d)) for n, d in (m.split("=", 1) for m in args.models)]
    args.out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {n: [] for n, _ in models}
    for r in range(args.rounds):
        for name, model in models:
            runs[name].append(bench_once(name, model, args.out, r, args.data, args.batch_sizes, args.max_docs))
            print(f"round {r + 1}/{args.rounds}: {name} done", file=sys.stderr)

    sizes = [int(b) for b in args.batch_sizes.split(",")]

    def rate(name: str, b: int) -> float:
        return statistics.median(next(x["inference"]["sentences_per_s"] for x in run["by_batch_size"]
                                      if x["batch_size"] == b) for run in runs[name])

    first = models[0][0]
    head = ["model", "NER", "REL+"] + [f"sentences/s, batch {b} (x {first})" for b in sizes] + \
           ["process peak memory", "weights on disk"]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for name, model in models:
        f1 = runs[name][0]["by_batch_size"][0]["f1"]
        cells = [name, f"{f1['ner']:.2f}", f"{f1['rel_plus']:.2f}"]
        cells += [f"{rate(name, b):.1f} ({rate(name, b) / rate(first, b):.2f}x)" for b in sizes]
        peak = statistics.median(run["process_peak_kb"] for run in runs[name]) / 1024
        weights = sum(p.stat().st_size for p in model.glob("*.safetensors")) / 2 ** 20
        cells += [f"{peak:,.0f} MiB", f"{weights:,.0f} MiB"]
        lines.append("| " + " | ".join(cells) + " |")
    machine = runs[first][0]["machine"]
    table = "\n".join(lines) + (f"\n\n{args.rounds} rounds in turn, medians; {machine['cpu']}, {machine['cores']} cores, "
                                f"{machine['torch_threads']} threads, torch {machine['torch']}\n")
    (args.out / "table.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
