"""The load generator against a real uvicorn server (in a thread, the tiny model): answers checked, figures sane."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn

from paths import CONLL04
from spert.serve.loadtest import format_report, load_sentences, measure_offline, run_clients, same_record


@pytest.fixture(scope="module")
def url(make_app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(max_wait_ms=2), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def test_clients_get_the_one_at_a_time_records(url, extractor):
    sentences = load_sentences(CONLL04 / "conll04_test.json", limit=24)
    offline = measure_offline(extractor, sentences, batch_size=8)
    assert offline.sentences_per_s > 0 and offline.single_p50_ms > 0 and len(offline.records) == 24
    levels = [asyncio.run(run_clients(url, sentences, c, offline.records)) for c in (1, 6)]
    for lv in levels:
        assert lv.requests == 24 and lv.failed == 0 and lv.mismatched == 0
        assert 0 < lv.p50_ms <= lv.p95_ms <= lv.p99_ms and lv.sentences_per_s > 0
    report = {"sentences": 24, "offline": {"sentences_per_s_before": 1.0, "sentences_per_s_after": 1.0,
                                           "single_sentence_p50_ms": 1.0, "cpu_ms_per_sentence": 1.0},
              "levels": [{**lv.__dict__, "throughput_vs_offline": 1.0, "p50_vs_single_sentence": 1.0,
                          "cpu_vs_offline": None} for lv in levels]}
    assert "clients" in format_report(report)


def test_same_record_allows_only_score_rounding():
    a = {"entities": [{"type": "Peop", "score": 0.5}], "relations": []}
    assert same_record(a, {"entities": [{"type": "Peop", "score": 0.500001}], "relations": []})
    assert not same_record(a, {"entities": [{"type": "Peop", "score": 0.51}], "relations": []})
    assert not same_record(a, {"entities": [{"type": "Loc", "score": 0.5}], "relations": []})
    assert not same_record(a, {"entities": [], "relations": []})
