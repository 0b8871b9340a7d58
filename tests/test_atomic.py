import os
import stat

import pytest

from spert.atomic import atomic_directory, atomic_write_text, remove_old_copy


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


def _interrupt_step(monkeypatch, name, call):
    """Make the ``call``-th call of ``spert.atomic``'s os/shutil function ``name`` die as a killed process would."""
    import spert.atomic as atomic

    module = atomic.shutil if name == "rmtree" else atomic.os
    real, calls = getattr(module, name), []

    def dying(*args, **kwargs):
        calls.append(args)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, dying)


def test_remove_old_copy_clears_what_an_interrupted_swap_left(tmp_path, monkeypatch):
    d = tmp_path / "last"
    with atomic_directory(d) as tmp:
        (tmp / "weights").write_text("v1")
    with monkeypatch.context() as m:
        _interrupt_step(m, "rmtree", 1)  # killed after the swap, before the old copy went
        with pytest.raises(KeyboardInterrupt):
            with atomic_directory(d) as tmp:
                (tmp / "weights").write_text("v2")
    assert len(list(tmp_path.iterdir())) == 2  # the new copy and the old one beside it
    remove_old_copy(d)
    assert [x.name for x in tmp_path.iterdir()] == ["last"] and (d / "weights").read_text() == "v2"
    remove_old_copy(d)  # nothing left to remove is fine


def test_remove_old_copy_keeps_the_only_complete_copy(tmp_path, monkeypatch):
    d = tmp_path / "last"
    with atomic_directory(d) as tmp:
        (tmp / "weights").write_text("v1")
    with monkeypatch.context() as m:
        _interrupt_step(m, "replace", 2)  # killed mid-swap: the old copy moved aside, the new not yet in place
        with pytest.raises(KeyboardInterrupt):
            with atomic_directory(d) as tmp:
                (tmp / "weights").write_text("v2")
    assert not d.exists()
    remove_old_copy(d)
    kept = [x for x in tmp_path.iterdir() if (x / "weights").exists() and (x / "weights").read_text() == "v1"]
    assert len(kept) == 1
