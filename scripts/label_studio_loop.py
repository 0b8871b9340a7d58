"""The Label Studio loop measured: prediction latency, a training round's time, a learning curve.

Usage (project root):
    .venv/bin/python scripts/label_studio_loop.py MODEL_DIR [--rounds 3] [--per-round 100] [--epochs 2]
        [--latency-tasks 100] [--test-limit N] [--beside] [--out /tmp/ls_loop]

No Label Studio server is needed: the backend (``spert serve --label-studio``'s app, in this
process through ASGI) trains from the fake Label Studio of ``tests/label_studio_fixtures.py``,
whose export holds CoNLL04 train sentences annotated with their gold (simulated annotators;
its ``annotated_task`` is the one of the ASGI tests). Requests have the shapes Label Studio
sends (that module's ``predict_body``).

1. Latency: ``/label-studio/predict`` for ``--latency-tasks`` CoNLL04 test sentences, one task
   per request as the labelling stream asks (per task: median and 95th percentile), and all in
   one request as the Data Manager's "Retrieve Predictions" asks (per task: the mean).
2. Rounds: round k exports k x ``--per-round`` annotated tasks (the first ones of CoNLL04 train)
   and sends ``START_TRAINING``; the round's wall time, its held-out scores and whether its model
   was accepted are recorded, and the serving model is scored on CoNLL04 test (NER and REL+
   micro F1, as ``spert evaluate``; ``--test-limit`` for the first N sentences only).
3. ``--beside``: for each round's k x ``--per-round`` sentences, a plain ``spert train`` (the
   default encoder, ``configs/conll04.yaml``'s settings, ``--epochs``) on the same first sentences
   of CoNLL04 train, scored the same way: what full training on that data reaches, beside the loop
   (whose rounds train on 80 % of the tasks and start from the serving model).
4. ``OUT/loop.json`` holds every figure, ``OUT/learning_curve.png`` the curve.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the ASGI tests' fake Label Studio and request shapes

from fastapi.testclient import TestClient  # noqa: E402

from label_studio_fixtures import FakeLabelStudio, annotated_task, make_backend_app, predict_body  # noqa: E402

from spert.data.documents import write_records  # noqa: E402
from spert.infer.extractor import SpERT  # noqa: E402
from spert.train.evaluation import evaluate_directory  # noqa: E402

CONLL04 = ROOT / "data" / "conll04"


def latency(client: TestClient, texts: list[str]) -> dict[str, float]:
    """Seconds per task: one task per request (median, p95), and all tasks in one request (mean)."""
    client.post("/label-studio/predict", json=predict_body(texts[:2]))  # warm up
    single = []
    for text in texts:
        t0 = time.perf_counter()
        r = client.post("/label-studio/predict", json=predict_body([text]))
        single.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
    t0 = time.perf_counter()
    r = client.post("/label-studio/predict", json=predict_body(texts))
    batch = time.perf_counter() - t0
    assert r.status_code == 200 and len(r.json()["results"]) == len(texts), r.text
    single.sort()
    return {"tasks": len(texts), "single_median_s": statistics.median(single),
            "single_p95_s": single[max(0, round(0.95 * len(single)) - 1)], "batch_total_s": batch,
            "batch_per_task_s": batch / len(texts)}


def wait_for_round(client: TestClient, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get("/label-studio/training?project=7").json()
        if status.get("finished"):
            return status
        time.sleep(1)
    raise SystemExit(f"no round finished within {timeout} s: {status}")


def test_scores(model_dir: Path, test: Path, out: Path) -> dict[str, float]:
    metrics = evaluate_directory(model_dir, test, out).metrics.to_json()
    return {"ner_f1": metrics["ner"]["micro"]["f1"], "rel_plus_f1": metrics["rel_plus"]["micro"]["f1"]}


def plain_training(n: int, epochs: int, test: Path, out: Path) -> dict:
    """A plain ``spert train`` on the first ``n`` CoNLL04 train sentences, scored on ``test``."""
    run = out / f"plain_{n}"
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "spert", "train", "-c", str(ROOT / "configs" / "conll04.yaml"),
                    "--train_path", str(CONLL04 / "conll04_train.json"), "--max_train_docs", str(n),
                    "--epochs", str(epochs), "--output_dir", str(run), "--quiet"], check=True, cwd=ROOT)
    return {"annotated_tasks": n, "wall_s": round(time.monotonic() - t0, 1),
            "test": test_scores(run / "model", test, out / f"eval_plain_{n}")}


def plot(rounds: list[dict], path: Path, beside: list[dict] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["annotated_tasks"] for r in rounds]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(x, [r["test"]["ner_f1"] for r in rounds], "o-", label="NER micro F1")
    ax.plot(x, [r["test"]["rel_plus_f1"] for r in rounds], "s-", label="REL+ micro F1")
    if beside:
        bx = [r["annotated_tasks"] for r in beside]
        ax.plot(bx, [r["test"]["ner_f1"] for r in beside], "o--", color="C0", alpha=0.6,
                label="NER, plain training on the same sentences")
        ax.plot(bx, [r["test"]["rel_plus_f1"] for r in beside], "s--", color="C1", alpha=0.6,
                label="REL+, plain training on the same sentences")
    ax.set_xlabel("annotated tasks (CoNLL04 train, gold)")
    ax.set_ylabel("F1 on CoNLL04 test (%)")
    ax.set_xticks(x)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7)
    ax.set_title("spert serve --label-studio: the loop's model")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--per-round", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=20, help="epochs a round trains (the config's own: 20)")
    ap.add_argument("--latency-tasks", type=int, default=100)
    ap.add_argument("--test-limit", type=int, default=None, help="score on the first N test sentences only")
    ap.add_argument("--beside", action="store_true", help="plain training on the same sentences too")
    ap.add_argument("--out", type=Path, default=Path("/tmp/ls_loop"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    train = json.loads((CONLL04 / "conll04_train.json").read_text())
    test_records = json.loads((CONLL04 / "conll04_test.json").read_text())[:args.test_limit]
    test = args.out / "test.json"
    write_records(test, test_records)
    source = FakeLabelStudio([])
    app = make_backend_app(args.model.resolve(), SpERT.load(args.model), args.out / "versions", source,
                           train_overrides={"epochs": args.epochs})
    figures: dict = {"model": str(args.model), "epochs": args.epochs, "per_round": args.per_round, "rounds": []}
    with TestClient(app) as client:
        figures["latency"] = latency(client, [" ".join(r["tokens"]) for r in test_records[:args.latency_tasks]])
        print(json.dumps(figures["latency"]), flush=True)
        figures["start"] = test_scores(args.model, test, args.out / "eval_start")
        print("start", figures["start"], flush=True)
        for k in range(1, args.rounds + 1):
            n = k * args.per_round
            source.tasks = [annotated_task(i + 1, r) for i, r in enumerate(train[:n])]
            t0 = time.monotonic()
            r = client.post("/label-studio/webhook", json={"action": "START_TRAINING", "project": {
                "id": 7, "label_config": predict_body([])["label_config"]}})
            assert r.status_code == 201, r.text
            status = wait_for_round(client, 3600)
            wall = time.monotonic() - t0
            serving = client.get("/label-studio/versions").json()["serving"]
            model_dir = app.state.label_studio.store.path(serving)
            row = {"round": k, "annotated_tasks": n, "wall_s": round(wall, 1), "stage": status["stage"],
                   "version": status.get("version"), "serving": serving, "score": status.get("score"),
                   "train_records": status.get("train_records"), "held_out_records": status.get("held_out_records"),
                   "error": status.get("error"), "test": test_scores(model_dir, test, args.out / f"eval_round{k}")}
            figures["rounds"].append(row)
            print(json.dumps(row), flush=True)
    if args.beside:
        figures["plain"] = []
        for k in range(1, args.rounds + 1):
            figures["plain"].append(plain_training(k * args.per_round, args.epochs, test, args.out))
            print(json.dumps(figures["plain"][-1]), flush=True)
    (args.out / "loop.json").write_text(json.dumps(figures, indent=2))
    plot([{"annotated_tasks": 0, "test": figures["start"]}] + figures["rounds"], args.out / "learning_curve.png",
         figures.get("plain"))
    print(f"wrote {args.out / 'loop.json'} and {args.out / 'learning_curve.png'}")


if __name__ == "__main__":
    main()
