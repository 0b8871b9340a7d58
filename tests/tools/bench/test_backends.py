"""Loading the model under test."""

from __future__ import annotations

import pytest

from spert.errors import SpertError
from spert.tools.bench.backends import load_subject


def test_encoder_needs_types_when_ambiguous(tiny_encoder_dir, few_docs):
    with pytest.raises(SpertError, match="--types"):
        load_subject(str(tiny_encoder_dir), None, few_docs, 0)
