"""``spert bench serve``: a load test of ``spert serve`` over loopback, beside offline prediction
on the same sentences.

    spert bench serve --model runs/conll04/model --clients 1,8,32

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

Clients are asyncio tasks on one event loop in this process, each with its own keep-alive
connection (an ``httpx.AsyncClient`` limited to one): on a small machine the clients share
the cores with the server. Server CPU seconds per sentence (from ``/proc``) are given beside
wall-clock figures, since other processes on a shared machine slow wall time but not CPU
time. The clients need httpx, and starting a server needs FastAPI and uvicorn: the ``serve``
extra has all three. :func:`run_loadtest` returns a :class:`LoadTestResult`;
:func:`spert.tools.bench.tables.format_load_test` prints it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from spert.atomic import atomic_write_text
from spert.errors import SpertError
from spert.infer.extractor import SpERT
from spert.runtime import set_cpu_threads
from spert.tools.bench.settings import LoadTestSettings

SCORE_TOLERANCE = 1e-5  # a document's padding depends on its batch: scores agree to float rounding
WARMUP_SENTENCES, WARMUP_CLIENTS = 32, 4  # untimed requests before the first level
READY_TIMEOUT_S = 300  # loading and warming up the model in the server


@dataclass(frozen=True)
class Offline:
    """One offline measurement: all sentences in one call, then one at a time."""

    sentences_per_s: float
    cpu_ms_per_sentence: float
    single_p50_ms: float  # one sentence predicted alone
    records: list[dict[str, Any]] = field(repr=False)  # one at a time: the reference for the server's answers


@dataclass(frozen=True)
class LoadLevel:
    """The server at one number of concurrent clients."""

    clients: int
    requests: int
    seconds: float
    sentences_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    server_cpu_ms_per_sentence: float | None  # None: no process to read (a server given by --url)
    failed: int  # answers that were not 200
    mismatched: int  # 200 answers that differ from the one-at-a-time reference


@dataclass(frozen=True)
class OfflineFigures:
    """Offline prediction before and after the server phase, the figures the server is compared with."""

    sentences_per_s_before: float
    sentences_per_s_after: float
    cpu_ms_per_sentence: float  # the mean of before and after
    single_sentence_p50_ms: float  # the lower of before and after

    @property
    def sentences_per_s(self) -> float:
        return (self.sentences_per_s_before + self.sentences_per_s_after) / 2


@dataclass(frozen=True)
class LoadTestResult:
    """A whole load test; ``to_json`` is what ``--json`` writes."""

    sentences: int
    data: str
    model: str
    batch_size: int
    threads: int
    rounds: int
    cores: int | None
    offline: OfflineFigures
    levels: list[LoadLevel]

    def throughput_vs_offline(self, level: LoadLevel) -> float:
        return level.sentences_per_s / self.offline.sentences_per_s

    def p50_vs_single_sentence(self, level: LoadLevel) -> float:
        return level.p50_ms / self.offline.single_sentence_p50_ms

    def cpu_vs_offline(self, level: LoadLevel) -> float | None:
        cpu = level.server_cpu_ms_per_sentence
        return None if cpu is None else cpu / self.offline.cpu_ms_per_sentence

    def to_json(self) -> dict[str, Any]:
        off = self.offline
        return {
            "sentences": self.sentences, "data": self.data, "model": self.model, "batch_size": self.batch_size,
            "threads": self.threads, "rounds": self.rounds, "cores": self.cores,
            "offline": {"sentences_per_s_before": off.sentences_per_s_before,
                        "sentences_per_s_after": off.sentences_per_s_after,
                        "cpu_ms_per_sentence": off.cpu_ms_per_sentence,
                        "single_sentence_p50_ms": off.single_sentence_p50_ms},
            "levels": [{**asdict(lv), "throughput_vs_offline": self.throughput_vs_offline(lv),
                        "p50_vs_single_sentence": self.p50_vs_single_sentence(lv),
                        "cpu_vs_offline": self.cpu_vs_offline(lv)} for lv in self.levels],
        }


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


def check_dependencies(start_server: bool) -> None:
    """Before anything is measured: the clients need httpx, a server started here FastAPI and uvicorn."""
    needed = ["httpx"] + (["fastapi", "uvicorn"] if start_server else [])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise SpertError(f"spert bench serve needs {', '.join(missing)} (the serve extra): "
                         "pip install 'spert[serve]'")


def _httpx() -> ModuleType:
    check_dependencies(start_server=False)
    import httpx

    return httpx


async def run_clients(url: str, sentences: list[str], clients: int, reference: list[dict[str, Any]] | None = None,
                      *, rounds: int = 1, api_key: str | None = None, pid: int | None = None) -> LoadLevel:
    """``clients`` concurrent clients send every sentence ``rounds`` times, one request per sentence;
    ``pid``: the server's process, whose CPU time is read before and after."""
    httpx = _httpx()
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
    todo = iter([i for _ in range(rounds) for i in range(len(sentences))])
    latencies: list[float] = []
    failed = mismatched = 0

    async def client() -> None:
        nonlocal failed, mismatched
        # one keep-alive connection per client; no proxy from the environment (loopback); no client
        # timeout: the server's --timeout bounds every request
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=None, trust_env=False,
                                     limits=httpx.Limits(max_connections=1)) as http:
            for i in todo:
                body = json.dumps({"text": sentences[i]}).encode("utf-8")
                t = time.perf_counter()
                response = await http.post("/v1/extract", content=body)
                latencies.append(time.perf_counter() - t)
                if response.status_code != 200:
                    failed += 1
                elif reference is not None and not same_record(response.json()["documents"], [reference[i]]):
                    mismatched += 1

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


def start_server(model: str | Path, flags: list[str], timeout: float = READY_TIMEOUT_S) -> tuple[subprocess.Popen, str]:
    """``spert serve`` on a free loopback port; returns once it is ready."""
    httpx = _httpx()
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
            raise SpertError(f"spert serve exited: {log.read().decode(errors='replace')[-2000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2, trust_env=False).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SpertError(f"spert serve did not get ready within {timeout:g} s")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM, as a process manager stops it: requests in flight finish first."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)


# -- the whole run ---------------------------------------------------------------------------


def run_loadtest(settings: LoadTestSettings) -> LoadTestResult:
    """The whole measurement (see the module's docs). ``settings.threads``: PyTorch threads, offline
    and in the server alike (default: every core)."""
    check_dependencies(start_server=settings.url is None)
    set_cpu_threads()
    server_flags = list(settings.server_flags)
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
        server_flags = ["--threads", str(settings.threads), *server_flags]
    sentences = load_sentences(settings.data, settings.limit)
    extractor = SpERT.load(settings.model)
    before = measure_offline(extractor, sentences, settings.batch_size)
    levels = _serve_levels(settings, sentences, before.records, server_flags)
    after = measure_offline(extractor, sentences, settings.batch_size)
    offline = OfflineFigures(before.sentences_per_s, after.sentences_per_s,
                             (before.cpu_ms_per_sentence + after.cpu_ms_per_sentence) / 2,
                             min(before.single_p50_ms, after.single_p50_ms))
    return LoadTestResult(len(sentences), str(settings.data), str(settings.model), settings.batch_size,
                          torch.get_num_threads(), settings.rounds, os.cpu_count(), offline, levels)


def _serve_levels(settings: LoadTestSettings, sentences: list[str], reference: list[dict[str, Any]],
                  server_flags: list[str]) -> list[LoadLevel]:
    """Every level against ``settings.url``, or against a ``spert serve`` started (and stopped) here."""
    proc, url = None, settings.url
    if url is None:
        proc, url = start_server(settings.model, ["--batch-size", str(settings.batch_size), *server_flags])
    try:
        asyncio.run(run_clients(url, sentences[:WARMUP_SENTENCES], WARMUP_CLIENTS))
        return [asyncio.run(run_clients(url, sentences, c, reference, rounds=settings.rounds,
                                        pid=proc.pid if proc else None)) for c in settings.clients]
    finally:
        if proc is not None:
            stop_server(proc)


def write_result(result: LoadTestResult, path: str | Path) -> None:
    atomic_write_text(path, json.dumps(result.to_json(), indent=2))
