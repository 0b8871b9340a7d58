"""Atomic writes: a file or a directory appears complete or not at all.

The names of the hidden temporaries and of the old copy that a write keeps beside its target
belong to this module; other code clears what an interrupted write left with ``remove_old_copy``
(the old copy of one directory) or ``remove_temporaries`` (every temporary in a directory).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Protocol, TypeVar


def _old_copy(path: Path) -> Path:
    """Where ``atomic_directory`` moves the previous copy of ``path`` while it swaps in the new one."""
    return path.with_name(f".{path.name}.old")


def _temporary(name: str) -> dict[str, str]:
    """The name parts of a write's temporary beside its target ``name``: ``.NAME.RANDOM.tmp``."""
    return {"prefix": f".{name}.", "suffix": ".tmp"}


def _temporaries(directory: Path, name: str) -> Iterator[Path]:
    """The temporaries of writes of ``name`` in ``directory`` (finished, killed, or under way)."""
    parts = _temporary(name)
    return directory.glob(glob.escape(parts["prefix"]) + "*" + parts["suffix"])


class WriteError(OSError):
    """A write that failed; what its path held before is untouched (the write went to a temporary)."""


def write_error(e: BaseException, path: str | Path) -> WriteError | None:
    """The failure of a write to ``path`` as an ``OSError`` naming it (a full disk, a quota, a read-only
    file system), also where a library reported the system's error only in its text (safetensors:
    "... (os error 28)"); None for anything else."""
    code = e.errno if isinstance(e, OSError) else None
    if code is None:
        found = re.search(r"os error (\d+)", str(e))
        code = int(found.group(1)) if found else None
    if code is None:
        return None
    return WriteError(code, os.strerror(code), str(path))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicFile:
    """A text file written under a temporary name beside ``path``.

    ``commit()`` syncs it and renames it into place; ``abort()`` removes it. Until
    then, whatever ``path`` held before is untouched. A commit also deletes the temporaries of
    ``path`` that writers killed before this one started left behind (last written before then).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(**_temporary(self.path.name), dir=self.path.parent)
        self.tmp = Path(tmp)
        self.started = os.stat(tmp).st_mtime
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        self.fh = os.fdopen(fd, "w", encoding="utf-8")

    def commit(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.path)
        for stale in _temporaries(self.path.parent, self.path.name):
            try:
                if stale.is_file() and stale.stat().st_mtime < self.started:
                    stale.unlink()
            except OSError:  # gone meanwhile, or not ours to delete: leave it
                pass

    def abort(self) -> None:
        try:
            self.fh.close()  # flushes what is buffered: on a full disk that fails too
        except OSError:
            pass
        self.tmp.unlink(missing_ok=True)


class Committable(Protocol):
    """An output that appears only when committed (:class:`AtomicFile`, the record and pre-annotation
    writers); its ``path`` (None: standard output), if it has one, names it when a write fails."""

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
    except BaseException as e:
        output.abort()
        path = getattr(output, "path", None)  # None: standard output, or a writer that names no path
        failed = write_error(e, path) if path is not None else None
        if failed is not None:
            raise failed from e
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
    tmp = Path(tempfile.mkdtemp(**_temporary(path.name), dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 directories
    try:
        yield tmp
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        failed = write_error(e, path)
        if failed is not None:  # a full disk: say where, the previous copy is untouched
            raise failed from e
        raise
    old = _old_copy(path)
    if old.exists():
        shutil.rmtree(old)
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def recover_directory(path: str | Path) -> bool:
    """Put back the previous copy of the directory ``path`` where an ``atomic_directory`` write was
    killed mid-swap (``path`` moved aside, the new copy not yet in place); whether ``path`` exists."""
    path = Path(path)
    old = _old_copy(path)
    if not path.exists() and old.is_dir():
        os.replace(old, path)
    return path.exists()


def remove_temporaries(directory: str | Path, names: Iterable[str]) -> list[Path]:
    """Delete the temporaries that writes of ``names`` (files or directories in ``directory``) left
    when they were killed before their swap; the removed paths. Only for a directory one process
    writes at a time (a run's output directory): a write under way there would lose its temporary."""
    removed = []
    for name in names:
        for tmp in _temporaries(Path(directory), name):
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def remove_old_copy(path: str | Path) -> None:
    """Delete the previous copy of the directory ``path`` that an ``atomic_directory`` write
    interrupted after its swap left beside it. While ``path`` itself is missing (the write was
    interrupted mid-swap) the old copy is the only complete one and is kept."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(_old_copy(path), ignore_errors=True)
