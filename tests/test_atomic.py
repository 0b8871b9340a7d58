import os
import stat

import pytest

from spert.atomic import atomic_directory, atomic_write_text


def test_atomic_write_replaces_and_keeps_usual_permissions(tmp_path):
    p = tmp_path / "out.json"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask
    assert [x.name for x in tmp_path.iterdir()] == ["out.json"]  # no temporary left behind


def test_atomic_directory_keeps_old_copy_on_failure(tmp_path):
    d = tmp_path / "model"
    with atomic_directory(d) as tmp:
        (tmp / "weights").write_text("v1")
    with pytest.raises(RuntimeError):
        with atomic_directory(d) as tmp:
            (tmp / "weights").write_text("half")
            raise RuntimeError("crash while writing")
    assert (d / "weights").read_text() == "v1"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["model"]
    with atomic_directory(d) as tmp:
        (tmp / "weights").write_text("v2")
    assert (d / "weights").read_text() == "v2"
