"""Load test of ``spert serve`` over loopback, beside offline prediction on the same sentences.

    python -m spert.serve.loadtest --model runs/conll04/model --clients 1,8,32

One run measures, on the same sentences (CoNLL04 test by default, tokens joined by spaces,
one request ``{"text": ...}`` per sentence):

1. offline: ``SpERT.predict`` over all sentences in one call (``spert predict``'s batching)
   for sentences/s, and one sentence at a time for the latency of a lone sentence; these
   one-at-a-time records are the reference for the server's answers;
2. the server (``spert serve`` in a subprocess, or ``--url`` of a running one) at each
   number of concurrent clients: sentences/s and p50/p95/p99 latency, every answer
   compared with the reference (equal but for float rounding of scores, see
   :func:`same_record`);
3. offline sentences/s once more, so drift in the machine's load shows.

Clients are asyncio tasks on one event loop in this process, each with a keep-alive
connection, speaking just enough HTTP/1.1 (``Content-Length`` bodies) to cost little CPU:
on a small machine the clients share the cores with the server. Server CPU seconds per
sentence (from ``/proc``) are given beside wall-clock figures, since other processes on a
shared machine slow wall time but not CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spert.atomic import atomic_write_text
from spert.infer.extractor import SpERT
from spert.runtime import set_cpu_threads

SCORE_TOLERANCE = 1e-5  # a document's padding depends on its batch: scores agree to float rounding


@dataclass
class Offline:
    sentences_per_s: float
    cpu_ms_per_sentence: float
    single_p50_ms: float  # one sentence predicted alone
    records: list[dict[str, Any]] = field(repr=False)


@dataclass
class LoadLevel:
    clients: int
    requests: int
    seconds: float
    sentences_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    server_cpu_ms_per_sentence: float | None
    failed: int  # answers that were not 200
    mismatched: int  # 200 answers that differ from the one-at-a-time reference


def load_sentences(path: str | Path, limit: int | None = None) -> list[str]:
    docs = json.loads(Path(path).read_text(encoding="utf-8"))
    return [" ".join(d["tokens"]) for d in docs][:limit]


def measure_offline(model: SpERT, sentences: list[str], batch_size: int) -> Offline:
    model.predict(sentences[:16], batch_size=batch_size)  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    model.predict(sentences, batch_size=batch_size)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    single, records = [], []
    for s in sentences:
        t = time.perf_counter()
        [p] = model.predict([s], batch_size=batch_size)
        single.append(time.perf_counter() - t)
        records.append(json.loads(json.dumps(p.to_json())))
    return Offline(len(sentences) / wall, 1000 * cpu / len(sentences), 1000 * float(np.median(single)), records)


def same_record(got: Any, expected: Any) -> bool:
    """Equal, with scores allowed to differ by float rounding (:data:`SCORE_TOLERANCE`)."""
    if isinstance(got, dict) and isinstance(expected, dict):
        if got.keys() != expected.keys():
            return False
        return all(abs(got[k] - expected[k]) <= SCORE_TOLERANCE if k == "score" and got[k] is not None
                   and expected[k] is not None else same_record(got[k], expected[k]) for k in got)
    if isinstance(got, list) and isinstance(expected, list):
        return len(got) == len(expected) and all(same_record(a, b) for a, b in zip(got, expected))
    return got == expected


# -- the clients -----------------------------------------------------------------------------


class _Connection:
    """One keep-alive HTTP/1.1 connection that posts JSON and reads ``Content-Length`` answers."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.reader, self.writer
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json"
                     f"\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode("latin-1") + body)
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def run_clients(url: str, sentences: list[str], clients: int, reference: list[dict[str, Any]] | None = None,
                      *, rounds: int = 1, api_key: str | None = None, pid: int | None = None) -> LoadLevel:
    """``clients`` concurrent clients send every sentence ``rounds`` times, one request per sentence."""
    host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    todo = iter([i for _ in range(rounds) for i in range(len(sentences))])
    latencies: list[float] = []
    failed = mismatched = 0

    async def client() -> None:
        nonlocal failed, mismatched
        conn = _Connection(host, int(port))
        try:
            for i in todo:
                body = json.dumps({"text": sentences[i]}).encode("utf-8")
                t = time.perf_counter()
                status, answer = await conn.post("/v1/extract", body, headers)
                latencies.append(time.perf_counter() - t)
                if status != 200:
                    failed += 1
                elif reference is not None and not same_record(json.loads(answer)["documents"], [reference[i]]):
                    mismatched += 1
        finally:
            conn.close()

    cpu = _process_cpu(pid)
    start = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(clients)])
    wall = time.perf_counter() - start
    n = len(latencies)
    server_cpu = None if cpu is None else 1000 * (_process_cpu(pid) - cpu) / n  # type: ignore[operator]
    p50, p95, p99 = (1000 * float(x) for x in np.percentile(latencies, [50, 95, 99]))
    return LoadLevel(clients, n, wall, n / wall, p50, p95, p99, server_cpu, failed, mismatched)


def _process_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of a process and its threads (Linux ``/proc``), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the server ------------------------------------------------------------------------------


def start_server(model: str | Path, flags: list[str], timeout: float = 300) -> tuple[subprocess.Popen, str]:
    """``spert serve`` on a free loopback port; returns once it is ready."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tempfile.TemporaryFile()  # not a pipe: a full pipe would stall the server
    proc = subprocess.Popen([sys.executable, "-m", "spert", "serve", "--model", str(model), "--port", str(port),
                             "--no-access-log", *flags], stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"spert serve exited: {log.read().decode(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2):
                return proc, url
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("spert serve did not get ready")


def run(model: str | Path, data: str | Path, clients: list[int], *, batch_size: int = 8, limit: int | None = None,
        rounds: int = 1, url: str | None = None, server_flags: list[str] | None = None,
        threads: int | None = None) -> dict[str, Any]:
    """The whole measurement (see the module's docs) as a JSON-ready dict.

    ``threads``: PyTorch threads, offline and in the server alike (default: every core).
    """
    set_cpu_threads()
    if threads is not None:
        torch.set_num_threads(threads)
        server_flags = ["--threads", str(threads), *(server_flags or [])]
    sentences = load_sentences(data, limit)
    extractor = SpERT.load(model)
    before = measure_offline(extractor, sentences, batch_size)
    proc = None
    if url is None:
        proc, url = start_server(model, ["--batch-size", str(batch_size), *(server_flags or [])])
    try:
        asyncio.run(run_clients(url, sentences[:32], 4))  # warm-up
        levels = [asyncio.run(run_clients(url, sentences, c, before.records, rounds=rounds,
                                          pid=proc.pid if proc else None)) for c in clients]
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    after = measure_offline(extractor, sentences, batch_size)
    offline_sps = (before.sentences_per_s + after.sentences_per_s) / 2
    offline_cpu = (before.cpu_ms_per_sentence + after.cpu_ms_per_sentence) / 2
    single = min(before.single_p50_ms, after.single_p50_ms)
    return {
        "sentences": len(sentences), "data": str(data), "model": str(model), "batch_size": batch_size,
        "threads": torch.get_num_threads(), "rounds": rounds,
        "cores": os.cpu_count(), "offline": {
            "sentences_per_s_before": before.sentences_per_s, "sentences_per_s_after": after.sentences_per_s,
            "cpu_ms_per_sentence": offline_cpu, "single_sentence_p50_ms": single},
        "levels": [{**asdict(lv), "throughput_vs_offline": lv.sentences_per_s / offline_sps,
                    "p50_vs_single_sentence": lv.p50_ms / single,
                    "cpu_vs_offline": None if lv.server_cpu_ms_per_sentence is None
                    else lv.server_cpu_ms_per_sentence / offline_cpu} for lv in levels],
    }


def format_report(r: dict[str, Any]) -> str:
    off = r["offline"]
    lines = [f"{r['sentences']} sentences; offline {off['sentences_per_s_before']:.1f} sent/s before, "
             f"{off['sentences_per_s_after']:.1f} after; one sentence alone {off['single_sentence_p50_ms']:.1f} ms "
             f"(p50); offline CPU {off['cpu_ms_per_sentence']:.1f} ms/sentence",
             "clients  sent/s  vs offline  p50 ms  p95 ms  p99 ms  p50 vs one  server CPU ms/sent  failed  mismatched"]
    for lv in r["levels"]:
        cpu = "-" if lv["server_cpu_ms_per_sentence"] is None else \
            f"{lv['server_cpu_ms_per_sentence']:.1f} ({lv['cpu_vs_offline']:.2f}x)"
        lines.append(f"{lv['clients']:>7}  {lv['sentences_per_s']:6.1f}  {lv['throughput_vs_offline']:10.2f}  "
                     f"{lv['p50_ms']:6.1f}  {lv['p95_ms']:6.1f}  {lv['p99_ms']:6.1f}  "
                     f"{lv['p50_vs_single_sentence']:10.2f}  {cpu:>18}  {lv['failed']:6}  {lv['mismatched']:10}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m spert.serve.loadtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", "-m", required=True, help="model directory")
    parser.add_argument("--data", default="data/conll04/conll04_test.json", help="SpERT JSON; tokens joined")
    parser.add_argument("--clients", default="1,8,32", help="concurrent clients per level, comma-separated")
    parser.add_argument("--batch-size", type=int, default=8, help="sentences per forward pass, offline and served")
    parser.add_argument("--limit", type=int, help="use only the first N sentences")
    parser.add_argument("--rounds", type=int, default=1, help="send every sentence this many times per level")
    parser.add_argument("--threads", type=int, help="PyTorch threads offline and in the server (default: cores)")
    parser.add_argument("--url", help="a running server instead of starting one")
    parser.add_argument("--server-flag", action="append", default=[], help="extra spert serve flag (repeatable), "
                                                                           "e.g. --server-flag=--max-wait-ms=2")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    result = run(args.model, args.data, [int(c) for c in args.clients.split(",")], batch_size=args.batch_size,
                 limit=args.limit, rounds=args.rounds, url=args.url, server_flags=args.server_flag,
                 threads=args.threads)
    print(format_report(result))
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
