"""Fault injection against a real server (``spert serve`` in its own process): its model directory
removed or replaced while it serves, clients that disconnect mid-request or send their body very
slowly, and far more concurrent requests than its queue holds. Answers stay 200 or 4xx/503 JSON,
memory stays bounded, and the server stays ready."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from server_process import post, start_server, stop

TEXT = "John Smith works for Acme Corp. in New York."


@pytest.fixture(scope="module")
def served(tiny_model_dir, tmp_path_factory):
    """A server on a copy of the tiny model (the tests damage that copy), with a small queue."""
    root = tmp_path_factory.mktemp("served")
    model = root / "model"
    shutil.copytree(tiny_model_dir, model)
    server = start_server(model, root / "server.log", "--max-queue", "4", "--max-batch-size", "2",
                          "--max-wait-ms", "20")
    yield server, model
    assert stop(server), server.log.read_text()[-3000:]


def _ok(url: str) -> None:
    status, body = post(url + "v1/extract", {"text": TEXT})
    assert status == 200 and len(body["documents"]) == 1
    with urllib.request.urlopen(url + "readyz", timeout=10) as r:
        assert r.status == 200


def _rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_the_model_directory_removed_or_replaced_while_serving(served, tmp_path):
    server, model = served
    _ok(server.url)
    before = post(server.url + "v1/extract", {"text": TEXT})[1]
    shutil.rmtree(model)  # the loaded model serves on
    assert post(server.url + "v1/extract", {"text": TEXT}) == (200, before)
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"garbage")  # replaced by something broken: still the loaded one
    (model / "spert.json").write_text("{")
    assert post(server.url + "v1/extract", {"text": TEXT}) == (200, before)
    with urllib.request.urlopen(server.url + "v1/model", timeout=10) as r:  # the description is the loaded one's
        assert r.status == 200 and json.loads(r.read())["entity_types"]


def test_clients_that_disconnect_mid_request(served):
    server, _ = served
    host, port = urllib.parse.urlparse(server.url).hostname, urllib.parse.urlparse(server.url).port
    body = json.dumps({"texts": [TEXT] * 50}).encode()
    for cut in (10, len(body) // 2, len(body)):  # in the body, and after it while the answer is computed
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"POST /v1/extract HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:cut])
        # closed here, mid-request
    time.sleep(0.5)
    _ok(server.url)


def test_a_body_sent_very_slowly_does_not_hold_up_other_clients(served):
    server, _ = served
    parsed = urllib.parse.urlparse(server.url)
    body = json.dumps({"text": TEXT}).encode()
    done = threading.Event()

    def slow() -> int:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        conn.putrequest("POST", "/v1/extract")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        for i in range(0, len(body), 4):  # 4 bytes every 50 ms
            conn.send(body[i:i + 4])
            time.sleep(0.05)
        status = conn.getresponse().status
        conn.close()
        done.set()
        return status

    with ThreadPoolExecutor(1) as pool:
        slow_status = pool.submit(slow)
        time.sleep(0.3)
        started = time.monotonic()
        _ok(server.url)  # answered while the slow body is still coming
        assert not done.is_set() and time.monotonic() - started < 5
        assert slow_status.result(timeout=60) == 200


def test_far_more_concurrent_requests_than_the_queue_holds(served):
    server, _ = served
    _ok(server.url)
    rss = _rss_kb(server.process.pid)
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda i: post(server.url + "v1/extract", {"texts": [TEXT] * 3}), range(200)))
    statuses = {s for s, _ in answers}
    assert statuses <= {200, 503} and 503 in statuses, statuses  # the queue (4 documents) refuses the rest
    assert all(b["error"] == "busy" and b["limit"] == 4 for s, b in answers if s == 503), answers[:3]
    grown = _rss_kb(server.process.pid) - rss
    assert grown < 200_000, f"resident memory grew by {grown} kB"
    _ok(server.url)
