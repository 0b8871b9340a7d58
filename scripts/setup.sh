#!/usr/bin/env bash
# Set up everything on a fresh machine: a virtual environment with the CPU build of
# PyTorch, spert with its extras and test tools, and
# (best effort, as root on Debian) Chromium for the HTML-view test.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first and pinned: an open-ended requirement would pull a multi-GB CUDA build
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[serve,onnx,ray,test]"

# headless Chromium for the HTML rendering test
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "setup: could not install chromium; the HTML view test will be skipped" >&2
fi
echo "setup: done (activate with: . .venv/bin/activate)"
