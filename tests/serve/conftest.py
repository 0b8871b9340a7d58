"""Fixtures for the server tests: the tiny model loaded once, and apps built around it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from spert.infer.extractor import SpERT
from spert.serve.server import create_app
from spert.serve.settings import ServeSettings


@pytest.fixture(scope="session")
def model_dir(tiny_model_dir):
    return tiny_model_dir


@pytest.fixture(scope="session")
def extractor(model_dir) -> SpERT:
    return SpERT.load(model_dir)


@pytest.fixture(scope="session")
def make_app(model_dir, extractor) -> Callable[..., Any]:
    """An app serving the tiny model (loaded once), with any settings overridden."""

    def make(**overrides: Any):
        return create_app(ServeSettings(model=model_dir, **overrides), extractor)

    return make
