"""The versions directory of the Label Studio backend: every model it trained, which one serves, a pin.

::

  VERSIONS/
    v0001/            a model directory (spert.json, weights, tokenizer) and version.json:
    v0002/              when, from which project and version, its scores and whether it was accepted
    current           the name of the version that serves (absent: the base model, ``--model``)
    pinned            a name that serves whatever training accepts later (absent: no pin)
    .work/            training jobs in progress (a candidate moves from here into vNNNN)

A candidate becomes a version by one rename inside the directory, and ``current`` and
``pinned`` are replaced atomically (:func:`spert.atomic.atomic_write_text`), so a crash
leaves either the old or the new state, never half of one. Rejected candidates stay as
versions too (``accepted: false``): they can be pinned. Nothing is ever deleted here.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from spert.atomic import atomic_write_text
from spert.errors import SpertError

BASE = "base"  # the model the server was started with
VERSION_INFO = "version.json"
_NAME = re.compile(r"v(\d{4,})")


class UnknownVersion(SpertError):
    pass


class VersionStore:
    """Model versions under ``root``; ``base`` is the model directory the server was started with."""

    def __init__(self, root: Path, base: Path) -> None:
        self.root, self.base = Path(root), Path(base)
        self.root.mkdir(parents=True, exist_ok=True)
        self.work = self.root / ".work"

    # -- reading -----------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every version, oldest first (``base`` first of all)."""
        found = sorted((int(m.group(1)), p.name) for p in self.root.iterdir()
                       if (m := _NAME.fullmatch(p.name)) and (p / VERSION_INFO).exists())
        return [BASE] + [name for _, name in found]

    def path(self, name: str) -> Path:
        if name == BASE:
            return self.base
        if not _NAME.fullmatch(name) or not (self.root / name / VERSION_INFO).exists():
            raise UnknownVersion(f"no model version {name!r} in {self.root}; versions: {', '.join(self.names())}")
        return self.root / name

    def info(self, name: str) -> dict[str, Any]:
        if name == BASE:
            return {"name": BASE, "path": str(self.base), "accepted": True}
        info = json.loads((self.path(name) / VERSION_INFO).read_text(encoding="utf-8"))
        return {"name": name, "path": str(self.root / name), **info}

    def pinned(self) -> str | None:
        return self._read("pinned")

    def latest(self) -> str:
        """The version training accepted last (``current``), whatever the pin says."""
        return self._read("current") or BASE

    def serving(self) -> str:
        """The version that serves: the pin, else the latest accepted one."""
        return self.pinned() or self.latest()

    def listing(self) -> list[dict[str, Any]]:
        serving, pinned = self.serving(), self.pinned()
        return [{**self.info(n), "serving": n == serving, "pinned": n == pinned} for n in self.names()]

    # -- changing ----------------------------------------------------------------------

    def job_dir(self, job: str) -> Path:
        path = self.work / job
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add(self, model_dir: Path, info: dict[str, Any]) -> str:
        """Move a trained model directory in as the next version (one rename); returns its name."""
        (Path(model_dir) / VERSION_INFO).write_text(json.dumps({"created": time.time(), **info}, indent=2),
                                                   encoding="utf-8")
        numbers = [int(n[1:]) for n in self.names() if n != BASE]
        name = f"v{(max(numbers) + 1) if numbers else 1:04d}"
        os.replace(model_dir, self.root / name)
        return name

    def promote(self, name: str) -> None:
        """Make ``name`` the latest accepted version (it serves unless a pin holds another)."""
        self.path(name)
        atomic_write_text(self.root / "current", name + "\n")

    def pin(self, name: str | None) -> None:
        """Serve ``name`` whatever training accepts later; ``None`` removes the pin."""
        if name is None:
            (self.root / "pinned").unlink(missing_ok=True)
            return
        self.path(name)
        atomic_write_text(self.root / "pinned", name + "\n")

    def _read(self, file: str) -> str | None:
        path = self.root / file
        if not path.exists():
            return None
        name = path.read_text(encoding="utf-8").strip()
        self.path(name)  # a pointer to a missing version is an error, not a silent fallback
        return name
