"""Label Studio: the JSON export of a text project (a list of tasks).

A task holds ``data`` (the text, under ``text`` or the key given), ``annotations``
(each with a ``result`` list) and possibly ``predictions``. Results used:

* ``{"id": R, "type": "labels", "value": {"start": S, "end": E, "text": ..., "labels": [T]}}``
  an entity (a region with several labels keeps the first: a change);
* ``{"type": "relation", "from_id": R1, "to_id": R2, "direction": "right", "labels": [T]}``
  a relation from R1 to R2 (``left`` reverses it; ``bi`` is read as from -> to, a
  change; one relation per label; none without a label, a change).

Other result types (choices, text areas, ...) are counted and skipped. Per task, one
annotation is read: the ``latest`` (by ``updated_at``, else ``created_at``, else
position) or the ``first`` not cancelled one; or, with ``pick="prediction"``, the
latest prediction (to read back pre-annotations). A task without one is skipped and
counted. Offsets are characters (code points) of the text, as Label Studio stores them
since 2022; older versions counted UTF-16 code units (an emoji counts two), so a region
whose quoted text matches only in UTF-16 units is converted.

Pre-annotations (:class:`LabelStudioWriter`) are a JSON list of tasks, written atomically,
each with ``data.text`` (plus the record's other fields) and one entry in ``predictions``:
``labels`` regions and ``relation`` results, every one with its ``score``, and the
prediction's ``score`` set to the lowest of them, so that reviewers sort tasks by the
model's confidence in the Data Manager and correct the least certain first. The labelling
config must name its ``Labels`` tag ``label`` and its ``Text`` tag ``text`` (Label Studio's
relation extraction template does), or pass other names. ``pick="prediction"`` reads them
back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from spert.data.documents import RecordWriter, is_int, load_json
from spert.data.formats.common import (ImportSummary, SourceDocument, SourceEntity, SourceRelation, check_choice,
                                       check_fragments)
from spert.data.records import Prediction, round_score
from spert.errors import DataError

PICKS = ("latest", "first", "prediction")
NO_ANNOTATION = "Label Studio task without an annotation skipped"
SEVERAL_LABELS = "Label Studio region with several labels: first label kept"
OTHER_RESULT = "Label Studio result of another type skipped"
UNLABELLED_RELATION = "Label Studio relation without a label dropped"
BIDIRECTIONAL = "Label Studio bidirectional relation read as from_id -> to_id"


def read_labelstudio(source: str | Path, summary: ImportSummary, *, pick: Literal["latest", "first", "prediction"] =
                     "latest", text_field: str | None = None) -> list[SourceDocument]:
    path = Path(source)
    check_choice("--annotation", pick, PICKS)
    data = load_json(path)
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise DataError(path, f"expected a list of tasks, got {type(data).__name__}")
    docs = []
    for i, task in enumerate(data):
        doc = parse_task(task, path, i, summary, pick, text_field)
        if doc is not None:
            docs.append(doc)
    return docs


def parse_task(task: Any, path: Path, i: int, summary: ImportSummary, pick: str,
               text_field: str | None) -> SourceDocument | None:
    def fail(problem: str, fld: str | None = None) -> DataError:
        return DataError(path, f"task {tid}: {problem}", doc=i, field=fld)

    tid = task.get("id", i) if isinstance(task, dict) else i
    if not isinstance(task, dict):
        raise fail(f"a task must be an object, got {type(task).__name__}")
    data = task.get("data")
    if not isinstance(data, dict):
        raise fail("missing or not an object", "data")
    text = _text(data, text_field, fail)
    result = _pick(task, pick, fail)
    where0 = f"{path}: task {tid}"
    if result is None:
        summary.change(NO_ANNOTATION, where0)
        return None
    doc = SourceDocument(str(tid), text)
    units: list[int] | None = None  # UTF-16 offset -> character index, built when needed
    region_ids: set[str] = set()
    for j, r in enumerate(result):
        fld = f"result[{j}]"
        if not isinstance(r, dict):
            raise fail(f"must be an object, got {type(r).__name__}", fld)
        rtype = r.get("type")
        where = f"{where0}: result {r.get('id', j)}"
        if rtype == "labels":
            value = r.get("value")
            if not isinstance(value, dict) or "start" not in value or "end" not in value:
                raise fail("a labels result needs value.start and value.end", fld)
            a, b, labels = value["start"], value["end"], value.get("labels")
            if not (is_int(a) and is_int(b)):
                raise fail(f"offsets must be integers, got {a!r} and {b!r}", f"{fld}.value")
            if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
                raise fail("must be a non-empty list of strings", f"{fld}.value.labels")
            if "id" not in r:
                raise fail("missing field", f"{fld}.id")
            quoted = value.get("text")
            if isinstance(quoted, str) and text[a:b] != quoted and not text.isascii():
                units = units if units is not None else _utf16_index(text)
                if 0 <= a < b < len(units) and text[units[a]:units[b]] == quoted:
                    a, b = units[a], units[b]
            check_fragments(path, None, f"task {tid}: region {r['id']}", text, [(a, b)],
                            quoted if isinstance(quoted, str) else None)
            if len(labels) > 1 or str(r["id"]) in region_ids:  # a second labels result of a region, too
                summary.change(SEVERAL_LABELS, where)
            if str(r["id"]) in region_ids:
                continue
            region_ids.add(str(r["id"]))
            doc.entities.append(SourceEntity(str(r["id"]), labels[0], ((a, b),), where))
        elif rtype == "relation":
            for key in ("from_id", "to_id"):
                if key not in r:
                    raise fail("missing field", f"{fld}.{key}")
            head, tail = str(r["from_id"]), str(r["to_id"])
            direction = r.get("direction", "right")
            if direction == "left":
                head, tail = tail, head
            labels = r.get("labels") or []
            if not labels:
                summary.change(UNLABELLED_RELATION, where)
                continue
            if direction == "bi":
                summary.change(BIDIRECTIONAL, where)
            for label in labels:
                doc.relations.append(SourceRelation(str(label), head, tail, f"{where} ({head} -> {tail})"))
        else:
            summary.change(OTHER_RESULT, f"{where} ({rtype})")
    return doc


def _text(data: dict, text_field: str | None, fail) -> str:
    if text_field is None:
        strings = [k for k, v in data.items() if isinstance(v, str)]
        text_field = "text" if "text" in data or len(strings) != 1 else strings[0]
    text = data.get(text_field)
    if not isinstance(text, str):
        raise fail("missing or not a string (name the text's key with --text-field)", f"data.{text_field}")
    return text


def _pick(task: dict, pick: str, fail) -> list | None:
    key = "predictions" if pick == "prediction" else "annotations"
    items = task.get(key) or []
    if not isinstance(items, list):
        raise fail(f"must be a list, got {type(items).__name__}", key)
    items = [a for a in items if isinstance(a, dict) and not a.get("was_cancelled")]
    if not items:
        return None
    if pick == "first":
        chosen = items[0]
    else:  # latest: ISO timestamps sort as strings; ties and missing stamps fall back to position
        chosen = max(enumerate(items), key=lambda x: (str(x[1].get("updated_at") or x[1].get("created_at") or ""),
                                                      x[0]))[1]
    result = chosen.get("result")
    if not isinstance(result, list):
        raise fail("missing or not a list", f"{key}[].result")
    return result


def _utf16_index(text: str) -> list[int]:
    """UTF-16 code-unit offset -> character index (offsets inside a surrogate pair map to the character)."""
    out = []
    for i, c in enumerate(text):
        out += [i] * (2 if ord(c) > 0xFFFF else 1)
    out.append(len(text))
    return out


class LabelStudioWriter(RecordWriter):
    """Pre-annotations as a JSON list of Label Studio tasks (see the module's docstring)."""

    def __init__(self, path: str | Path, *, model_version: str = "spert", from_name: str = "label",
                 to_name: str = "text") -> None:
        super().__init__(path, jsonl=False)
        self.model_version, self.from_name, self.to_name = model_version, from_name, to_name

    def add(self, p: Prediction) -> None:
        self.write(labelstudio_task(p, self.model_version, self.from_name, self.to_name))


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
        obj["score"] = round_score(score)
    return obj
