"""Benchmark settings and their parsing."""

from __future__ import annotations

import pytest

from spert.errors import SpertError
from spert.tools.bench.settings import BenchSettings, parse_backends, parse_int_list


def test_parse_int_list():
    assert parse_int_list("1,8,32", "--batch-sizes") == (1, 8, 32)
    assert parse_int_list("none", "--lengths") == ()
    with pytest.raises(SpertError, match="--lengths"):
        parse_int_list("25,x", "--lengths")
    with pytest.raises(SpertError):
        parse_int_list("0", "--batch-sizes")


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
