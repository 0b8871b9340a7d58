"""Benchmark settings and their parsing."""

from __future__ import annotations

import pytest

from spert.errors import SpertError
from spert.tools.bench.settings import BenchSettings, parse_backends, parse_positive_ints


def test_parse_positive_ints():
    assert parse_positive_ints("1,8,32", "--batch-sizes") == (1, 8, 32)
    assert parse_positive_ints("none", "--lengths") == ()
    with pytest.raises(SpertError, match="--lengths"):
        parse_positive_ints("25,x", "--lengths")
    with pytest.raises(SpertError):
        parse_positive_ints("0", "--batch-sizes")


def test_settings_defaults_match_the_issue():
    s = BenchSettings(model="m")
    assert s.batch_sizes == (1, 8, 32) and s.lengths == (25, 50, 100, 200, 300)
    assert str(s.data).endswith("conll04/conll04_test.json")
    assert s.backends == ("torch",)


def test_backends_put_torch_first_once_and_reject_unknown_names():
    assert BenchSettings(model="m", backends=parse_backends("onnx-int8, torch,onnx,onnx")).backends == \
        ("torch", "onnx-int8", "onnx")
    with pytest.raises(SpertError, match="tensorrt"):
        BenchSettings(model="m", backends=("tensorrt",))
