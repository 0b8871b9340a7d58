"""Fixtures of the benchmark's tests: a few CoNLL04 sentences with their annotations."""

from __future__ import annotations

import json

import pytest

from paths import CONLL04


@pytest.fixture(scope="module")
def few_docs(tmp_path_factory):
    """Ten CoNLL04 test sentences, with their annotations."""
    docs = json.loads((CONLL04 / "conll04_test.json").read_text(encoding="utf-8"))[:10]
    path = tmp_path_factory.mktemp("bench_data") / "few.json"
    path.write_text(json.dumps(docs), encoding="utf-8")
    return path
