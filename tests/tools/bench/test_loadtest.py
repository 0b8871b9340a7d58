"""The load generator against a real uvicorn server (in a thread, the tiny model): every answer
checked against the one-at-a-time records, and the figures it reports consistent with what it sent."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
import time

import pytest
import uvicorn
from typer.testing import CliRunner

from paths import CONLL04
from spert.cli import app
from spert.errors import SpertError
from spert.infer.extractor import SpERT
from spert.serve.server import create_app
from spert.serve.settings import ServeSettings
from spert.tools.bench.loadtest import (
    LoadLevel,
    LoadTestResult,
    OfflineFigures,
    check_dependencies,
    load_sentences,
    measure_offline,
    run_clients,
    same_record,
)
from spert.tools.bench.tables import format_load_test

TEST_DATA = CONLL04 / "conll04_test.json"


@pytest.fixture(scope="module")
def extractor(tiny_model_dir) -> SpERT:
    return SpERT.load(tiny_model_dir)


@pytest.fixture(scope="module")
def url(tiny_model_dir, extractor):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app_ = create_app(ServeSettings(model=tiny_model_dir, max_wait_ms=2), extractor)
    server = uvicorn.Server(uvicorn.Config(app_, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def test_clients_get_the_one_at_a_time_records(url, extractor):
    sentences = load_sentences(TEST_DATA, limit=24)
    offline = measure_offline(extractor, sentences, batch_size=8)
    assert offline.sentences_per_s > 0 and offline.cpu_ms_per_sentence > 0 and offline.single_p50_ms > 0
    assert len(offline.records) == 24 and [r["text"] for r in offline.records] == sentences
    for clients in (1, 6):
        # the server runs in this process, so this process's CPU time stands in for the server's
        lv = asyncio.run(run_clients(url, sentences, clients, offline.records, pid=os.getpid()))
        assert (lv.clients, lv.requests, lv.failed, lv.mismatched) == (clients, 24, 0, 0)
        assert 0 < lv.p50_ms <= lv.p95_ms <= lv.p99_ms <= 1000 * lv.seconds
        assert lv.sentences_per_s == pytest.approx(24 / lv.seconds)
        assert lv.server_cpu_ms_per_sentence is not None and lv.server_cpu_ms_per_sentence > 0


def test_an_answer_that_differs_from_the_reference_is_counted(url, extractor):
    sentences = load_sentences(TEST_DATA, limit=6)
    reference = json.loads(json.dumps([p.to_json() for p in extractor.predict(sentences)]))
    reference[2] = {**reference[2], "tokens": ["not", "what", "the", "server", "says"]}
    lv = asyncio.run(run_clients(url, sentences, 2, reference, rounds=2))
    assert (lv.requests, lv.failed, lv.mismatched) == (12, 0, 2)  # sentence 2, once per round
    assert lv.server_cpu_ms_per_sentence is None  # no process given


def test_bench_serve_against_a_running_server(url, tiny_model_dir, tmp_path):
    out = tmp_path / "load.json"
    res = CliRunner().invoke(app, ["bench", "serve", "--model", str(tiny_model_dir), "--url", url, "--limit", "10",
                                   "--clients", "1,3", "--rounds", "2", "--json", str(out)])
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    assert r["sentences"] == 10 and r["rounds"] == 2 and r["batch_size"] == 8
    assert [(lv["clients"], lv["requests"], lv["failed"], lv["mismatched"]) for lv in r["levels"]] == \
        [(1, 20, 0, 0), (3, 20, 0, 0)]
    assert all(lv["server_cpu_ms_per_sentence"] is None and lv["cpu_vs_offline"] is None for lv in r["levels"])
    assert r["offline"]["sentences_per_s_before"] > 0 and r["offline"]["sentences_per_s_after"] > 0
    assert len(res.output.strip().splitlines()) == 2 + 2  # the offline line, the header, one row per level


def test_ratios_and_table_of_a_result():
    level = LoadLevel(clients=8, requests=100, seconds=10.0, sentences_per_s=10.0, p50_ms=30.0, p95_ms=40.0,
                      p99_ms=50.0, server_cpu_ms_per_sentence=6.0, failed=1, mismatched=2)
    r = LoadTestResult(sentences=100, data="d.json", model="m", batch_size=8, threads=1, rounds=1, cores=2,
                       offline=OfflineFigures(10.0, 30.0, cpu_ms_per_sentence=4.0, single_sentence_p50_ms=20.0),
                       levels=[level])
    assert (r.throughput_vs_offline(level), r.p50_vs_single_sentence(level), r.cpu_vs_offline(level)) == (0.5, 1.5, 1.5)
    assert r.to_json()["levels"][0] == {"clients": 8, "requests": 100, "seconds": 10.0, "sentences_per_s": 10.0,
                                        "p50_ms": 30.0, "p95_ms": 40.0, "p99_ms": 50.0,
                                        "server_cpu_ms_per_sentence": 6.0, "failed": 1, "mismatched": 2,
                                        "throughput_vs_offline": 0.5, "p50_vs_single_sentence": 1.5,
                                        "cpu_vs_offline": 1.5}
    assert format_load_test(r).splitlines()[-1].split() == \
        ["8", "10.0", "0.50", "30.0", "40.0", "50.0", "1.50", "6.0", "(1.50x)", "1", "2"]


def test_without_httpx_one_error_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "httpx", None)  # as if not installed
    with pytest.raises(SpertError, match=r"needs httpx .*pip install 'spert\[serve\]'"):
        check_dependencies(start_server=False)
    with pytest.raises(SpertError, match="httpx"):
        asyncio.run(run_clients("http://127.0.0.1:1", ["x"], 1))


def test_same_record_allows_only_score_rounding():
    a = {"entities": [{"type": "Peop", "score": 0.5}], "relations": []}
    assert same_record(a, {"entities": [{"type": "Peop", "score": 0.500001}], "relations": []})
    assert not same_record(a, {"entities": [{"type": "Peop", "score": 0.51}], "relations": []})
    assert not same_record(a, {"entities": [{"type": "Loc", "score": 0.5}], "relations": []})
    assert not same_record(a, {"entities": [], "relations": []})
