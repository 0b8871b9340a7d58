"""Atomic writes: a file or a directory appears complete or not at all.

The names of the hidden temporaries and of the old copy that a write keeps beside its target
belong to this module; other code clears what an interrupted write left with ``remove_old_copy``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol, TypeVar


def _old_copy(path: Path) -> Path:
    """Where ``atomic_directory`` moves the previous copy of ``path`` while it swaps in the new one."""
    return path.with_name(f".{path.name}.old")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicFile:
    """A text file written under a temporary name beside ``path``.

    ``commit()`` syncs it and renames it into place; ``abort()`` removes it. Until
    then, whatever ``path`` held before is untouched.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self.tmp = Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        self.fh = os.fdopen(fd, "w", encoding="utf-8")

    def commit(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


class Committable(Protocol):
    """An output that appears only when committed (:class:`AtomicFile`, the record and pre-annotation writers)."""

    def commit(self) -> None: ...

    def abort(self) -> None: ...


W = TypeVar("W", bound=Committable)


@contextmanager
def committed(output: W) -> Iterator[W]:
    """``with committed(writer) as w: ...``: committed when the block ends, aborted when anything
    (an error, Ctrl-C) leaves it early, so the path keeps what it held before."""
    try:
        yield output
        output.commit()
    except BaseException:
        output.abort()
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with committed(AtomicFile(path)) as f:
        f.fh.write(text)


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it replaces ``path``.

    The old directory is moved aside before the new one is renamed into place and
    deleted only afterwards, so at every moment one complete copy exists on disk.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 directories
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = _old_copy(path)
    if old.exists():
        shutil.rmtree(old)
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def remove_old_copy(path: str | Path) -> None:
    """Delete the previous copy of the directory ``path`` that an ``atomic_directory`` write
    interrupted after its swap left beside it. While ``path`` itself is missing (the write was
    interrupted mid-swap) the old copy is the only complete one and is kept."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(_old_copy(path), ignore_errors=True)
