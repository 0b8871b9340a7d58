"""Pre-annotations: predictions written in the formats annotation tools import for correction.

* ``brat``: a directory with ``NAME.txt`` (the document's text, unchanged) and
  ``NAME.ann`` (``T`` entities, ``R`` relations, and an ``AnnotatorNotes`` line per
  annotation with the model's score). ``NAME`` is the record's ``document`` or ``id``
  field made safe for a file name, else ``doc-N``.
* ``doccano``: JSON Lines for a relation-extraction project: ``text``, ``entities``
  (``id``, ``label``, ``start_offset``, ``end_offset``) and ``relations`` (``id``,
  ``from_id``, ``to_id``, ``type``); the input record's other fields are kept (doccano
  shows them as metadata).
* ``labelstudio``: a JSON list of tasks, each with ``data.text`` (plus the record's
  other fields) and one entry in ``predictions``: ``labels`` regions and ``relation``
  results, every one with its ``score``, and the prediction's ``score`` set to the
  lowest of them, so that reviewers sort tasks by the model's confidence in the Data
  Manager and correct the least certain first. The labelling config must name its
  ``Labels`` tag ``label`` and its ``Text`` tag ``text`` (Label Studio's relation
  extraction template does), or pass other names.

Every writer is atomic: the directory or file appears complete when the run succeeds
and not at all otherwise. Importing an export (``spert data import``; Label Studio with
``pick="prediction"``) gives back the predicted entities and relations.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from spert.atomic import AtomicFile, atomic_directory
from spert.errors import SpertError
from spert.data.records import Prediction

EXPORT_FORMATS = ("brat", "doccano", "labelstudio")
_UNSAFE = re.compile(r"[^\w.-]+")


def _score(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


class BratWriter:
    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            # the directory is written whole and would replace what is there, e.g. a brat collection
            raise SpertError(f"{path} exists and is not empty; brat pre-annotations go to a new directory "
                             "(copy them into a collection afterwards)")
        self._ctx = atomic_directory(path)
        self.dir = self._ctx.__enter__()
        self.names: set[str] = set()
        self.count = 0

    def _name(self, p: Prediction) -> str:
        raw = p.extra.get("document", p.extra.get("id"))
        base = _UNSAFE.sub("_", str(raw)).strip("._") if raw is not None else ""
        base = base or f"doc-{self.count:06d}"
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}-{k}"
        self.names.add(name)
        return name

    def add(self, p: Prediction) -> None:
        name = self._name(p)
        lines, notes = [], []
        for i, e in enumerate(p.entities, start=1):
            text = e.text.replace("\r", " ").replace("\n", " ")  # the format is line-oriented
            lines.append(f"T{i}\t{e.type} {e.char_start} {e.char_end}\t{text}")
            if e.score is not None:
                notes.append(f"T{i}\tscore={_score(e.score)}")
        for j, r in enumerate(p.relations, start=1):
            lines.append(f"R{j}\t{r.type} Arg1:T{r.head + 1} Arg2:T{r.tail + 1}")
            if r.score is not None:
                notes.append(f"R{j}\tscore={_score(r.score)}")
        lines += [f"#{k}\tAnnotatorNotes {n}" for k, n in enumerate(notes, start=1)]
        # newline="" keeps the text byte for byte: brat's offsets count every \r
        with open(self.dir / f"{name}.txt", "w", encoding="utf-8", newline="") as fh:
            fh.write(p.text)
        with open(self.dir / f"{name}.ann", "w", encoding="utf-8", newline="\n") as fh:
            fh.write("".join(line + "\n" for line in lines))
        self.count += 1

    def flush(self) -> None:
        pass

    def commit(self) -> None:
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        err = RuntimeError("aborted")
        self._ctx.__exit__(RuntimeError, err, None)  # removes the temporary directory


class _FileWriter:
    """A file of JSON Lines or of one JSON list, written atomically."""

    json_list = False

    def __init__(self, path: str | Path) -> None:
        self.file = AtomicFile(path)
        self.count = 0
        if self.json_list:
            self.file.fh.write("[")

    def _write(self, obj: dict[str, Any]) -> None:
        text = json.dumps(obj, ensure_ascii=False)
        if self.json_list:
            self.file.fh.write(("\n" if self.count == 0 else ",\n") + text)
        else:
            self.file.fh.write(text + "\n")
        self.count += 1

    def flush(self) -> None:
        self.file.fh.flush()

    def commit(self) -> None:
        if self.json_list:
            self.file.fh.write("\n]\n")
        self.file.commit()

    def abort(self) -> None:
        self.file.abort()


class DoccanoWriter(_FileWriter):
    def add(self, p: Prediction) -> None:
        self._write(doccano_record(p))


class LabelStudioWriter(_FileWriter):
    json_list = True

    def __init__(self, path: str | Path, *, model_version: str = "spert", from_name: str = "label",
                 to_name: str = "text") -> None:
        super().__init__(path)
        self.model_version, self.from_name, self.to_name = model_version, from_name, to_name

    def add(self, p: Prediction) -> None:
        self._write(labelstudio_task(p, self.model_version, self.from_name, self.to_name))


def doccano_record(p: Prediction) -> dict[str, Any]:
    return {**p.extra, "text": p.text,
            "entities": [{"id": i + 1, "label": e.type, "start_offset": e.char_start, "end_offset": e.char_end}
                         for i, e in enumerate(p.entities)],
            "relations": [{"id": j + 1, "from_id": r.head + 1, "to_id": r.tail + 1, "type": r.type}
                          for j, r in enumerate(p.relations)]}


def labelstudio_task(p: Prediction, model_version: str = "spert", from_name: str = "label",
                     to_name: str = "text") -> dict[str, Any]:
    """One task with the prediction; scores are left out where there are none (given entities)."""
    result: list[dict[str, Any]] = []
    for i, e in enumerate(p.entities):
        result.append(_scored({"id": f"e{i + 1}", "from_name": from_name, "to_name": to_name, "type": "labels",
                               "value": {"start": e.char_start, "end": e.char_end, "text": e.text,
                                         "labels": [e.type]}}, e.score))
    for r in p.relations:
        result.append(_scored({"from_id": f"e{r.head + 1}", "to_id": f"e{r.tail + 1}", "type": "relation",
                               "direction": "right", "labels": [r.type]}, r.score))
    scores = [x["score"] for x in result if "score" in x]
    prediction = _scored({"model_version": model_version, "result": result}, min(scores) if scores else None)
    return {"data": {**{k: v for k, v in p.extra.items() if k != "text"}, "text": p.text},
            "predictions": [prediction]}


def _scored(obj: dict[str, Any], score: float | None) -> dict[str, Any]:
    if score is not None:
        obj["score"] = _score(score)
    return obj


def open_exporter(fmt: str, path: str | Path | None, **kwargs: Any):
    """A writer with ``add(prediction)``, ``flush()``, ``commit()`` and ``abort()``."""
    if fmt not in EXPORT_FORMATS:
        raise SpertError(f"unknown pre-annotation format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if path in (None, "-"):
        raise SpertError(f"--format {fmt} needs --output (a {'directory' if fmt == 'brat' else 'file'})")
    if fmt == "brat":
        return BratWriter(path)  # type: ignore[arg-type]
    if fmt == "doccano":
        return DoccanoWriter(path)  # type: ignore[arg-type]
    return LabelStudioWriter(path, **kwargs)  # type: ignore[arg-type]
