"""The versions directory: every trained version, which one serves, a pin."""

from __future__ import annotations

import pytest

from spert.integrations.label_studio.versions import BASE, UnknownVersion, VersionStore


def test_version_store(tmp_path, tiny_model_dir):
    store = VersionStore(tmp_path / "versions", tiny_model_dir)
    assert store.names() == [BASE] and store.serving() == BASE and store.path(BASE) == tiny_model_dir
    for expected in ("v0001", "v0002"):
        candidate = tmp_path / f"c{expected}"
        candidate.mkdir()
        assert store.add(candidate, {"accepted": True}) == expected
    store.promote("v0002")
    assert store.serving() == "v0002"
    store.pin("v0001")
    assert store.serving() == "v0001" and store.latest() == "v0002"
    store.pin(None)
    assert store.serving() == "v0002"
    with pytest.raises(UnknownVersion):
        store.pin("v0009")
    with pytest.raises(UnknownVersion):
        store.path("../etc")
    assert [v["name"] for v in store.listing()] == [BASE, "v0001", "v0002"]
