"""``spert serve`` in its own process on a loopback port, for the tests that need a real server
(the page in Chromium, graceful shutdown, fault injection)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir: Path, log: Path, *flags: str) -> Server:
    port = free_port()
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "spert", "serve", "--model", str(model_dir), "--port", str(port),
                             *flags], stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    server = Server(proc, f"http://127.0.0.1:{port}/", log)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"spert serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(server.url + "readyz", timeout=2) as r:
                if r.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"spert serve was not ready within 180 s:\n{log.read_text()}")


def stop(server: Server) -> bool:
    """SIGTERM, as a process manager stops it; True if it shut down cleanly."""
    server.process.send_signal(signal.SIGTERM)
    try:
        code = server.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise
    # uvicorn re-raises the signal once it has shut down, so the exit status says "terminated by SIGTERM"
    return code in (0, -signal.SIGTERM) and "Application shutdown complete" in server.log.read_text()


def post(url: str, body: dict, timeout: float = 120) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
