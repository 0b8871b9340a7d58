"""doccano: JSON Lines as a relation-extraction project exports (and imports) them.

One document a line::

    {"id": 7, "text": "...",
     "entities": [{"id": 1, "label": "Org", "start_offset": 0, "end_offset": 4}, ...],
     "relations": [{"id": 3, "from_id": 1, "to_id": 2, "type": "based_in"}, ...]}

Offsets are characters of ``text``, end exclusive. A sequence-labelling export
(``"label": [[start, end, "Type"], ...]``, no relations) is read too. A JSON list of
such objects (``.json``) is accepted as well. The document id is ``id`` when present,
else the line number.

Pre-annotations (:class:`DoccanoWriter`) are JSON Lines of the first form, written
atomically: ``text``, ``entities`` and ``relations`` with ids from 1; the input record's
other fields are kept (doccano shows them as metadata).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spert.data.documents import RecordWriter, is_int, iter_jsonl, load_json
from spert.data.formats.common import (ImportSummary, SourceDocument, SourceEntity, SourceRelation, check_fragments)
from spert.data.records import Prediction
from spert.errors import DataError


def read_doccano(source: str | Path, summary: ImportSummary) -> list[SourceDocument]:
    path = Path(source)
    if not path.is_file():
        raise DataError(path, "file not found" if not path.exists() else "doccano input must be a .jsonl file")
    if path.suffix.lower() == ".json":
        data = load_json(path)
        if not isinstance(data, list):
            raise DataError(path, f"expected a list of documents, got {type(data).__name__}")
        items = [(None, i, obj) for i, obj in enumerate(data)]
    else:
        items = [(lineno, None, obj) for lineno, obj in iter_jsonl(path)]
    return [parse_doccano(obj, path, line, doc) for line, doc, obj in items]


def parse_doccano(obj: Any, path: Path, line: int | None, doc: int | None) -> SourceDocument:
    def fail(problem: str, fld: str | None = None) -> DataError:
        return DataError(path, problem, line=line, doc=doc, field=fld)

    if not isinstance(obj, dict):
        raise fail(f"expected a JSON object, got {type(obj).__name__}")
    text = obj.get("text")
    if not isinstance(text, str):
        raise fail("missing or not a string", "text")
    did = str(obj.get("id", line if line is not None else doc))
    out = SourceDocument(did, text)
    where0 = f"{path}: " + (f"line {line}" if line is not None else f"document {doc}")
    raw_entities = obj.get("entities")
    if raw_entities is None and isinstance(obj.get("label"), list):  # sequence-labelling export
        raw_entities = [{"id": f"label[{i}]", "label": x[2], "start_offset": x[0], "end_offset": x[1]}
                        if isinstance(x, list) and len(x) == 3 else x for i, x in enumerate(obj["label"])]
    for i, e in enumerate(_list(raw_entities, "entities", fail)):
        fld = f"entities[{i}]"
        if not isinstance(e, dict):
            raise fail(f"must be an object, got {type(e).__name__}", fld)
        for key in ("id", "label", "start_offset", "end_offset"):
            if key not in e:
                raise fail("missing field", f"{fld}.{key}")
        a, b = e["start_offset"], e["end_offset"]
        if not (is_int(a) and is_int(b)):
            raise fail(f"offsets must be integers, got {a!r} and {b!r}", fld)
        eid = str(e["id"])
        if any(x.id == eid for x in out.entities):
            raise fail(f"entity id {eid} used twice", fld)
        check_fragments(path, line, f"entity {eid}", text, [(a, b)], None)
        out.entities.append(SourceEntity(eid, str(e["label"]), ((a, b),), f"{where0}: entity {eid}"))
    for i, r in enumerate(_list(obj.get("relations"), "relations", fail)):
        fld = f"relations[{i}]"
        if not isinstance(r, dict):
            raise fail(f"must be an object, got {type(r).__name__}", fld)
        for key in ("from_id", "to_id", "type"):
            if key not in r:
                raise fail("missing field", f"{fld}.{key}")
        rid = r.get("id", i)
        out.relations.append(SourceRelation(str(r["type"]), str(r["from_id"]), str(r["to_id"]),
                                            f"{where0}: relation {rid}"))
    return out


def _list(raw: Any, name: str, fail) -> list:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise fail(f"must be a list, got {type(raw).__name__}", name)
    return raw


class DoccanoWriter(RecordWriter):
    """Pre-annotations as doccano JSON Lines, one line per prediction (see the module's docstring)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, jsonl=True)

    def add(self, p: Prediction) -> None:
        self.write(doccano_record(p))


def doccano_record(p: Prediction) -> dict[str, Any]:
    return {**p.extra, "text": p.text,
            "entities": [{"id": i + 1, "label": e.type, "start_offset": e.char_start, "end_offset": e.char_end}
                         for i, e in enumerate(p.entities)],
            "relations": [{"id": j + 1, "from_id": r.head + 1, "to_id": r.tail + 1, "type": r.type}
                          for j, r in enumerate(p.relations)]}
