"""Documents, and SpERT JSON and JSON Lines read and written.

Everything a user can get wrong in a dataset is checked here, at the boundary, and
reported with the file, the document index and the field. Nothing is clipped or
dropped silently. Duplicate relations (the same type between the same entities)
occur in the published SciERC copy; they carry no information and are merged.

The JSON helpers here (:func:`open_file`, :func:`load_json`, :func:`iter_jsonl`) are the
ones every reader of the data layer uses: DyGIE (:mod:`spert.data.dygie`), the
annotation formats (:mod:`spert.data.formats`) and prediction input. Every SpERT JSON
file the package writes goes through :func:`write_records` or :class:`RecordWriter`.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Sequence

from spert.atomic import AtomicFile, atomic_write_text, committed
from spert.data.schema import TypeSchema
from spert.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Entity:
    type: str
    start: int  # first word
    end: int  # one past the last word

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)


@dataclass(frozen=True, slots=True)
class Relation:
    type: str
    head: int  # index into the document's entity list
    tail: int


@dataclass(frozen=True, slots=True)
class Document:
    tokens: tuple[str, ...]
    entities: tuple[Entity, ...] = ()
    relations: tuple[Relation, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # e.g. orig_id, passed through

    def to_json(self) -> dict[str, Any]:
        return {
            "tokens": list(self.tokens),
            "entities": [{"type": e.type, "start": e.start, "end": e.end} for e in self.entities],
            "relations": [{"type": r.type, "head": r.head, "tail": r.tail} for r in self.relations],
            **self.extra,
        }


def is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def parse_document(obj: Any, schema: TypeSchema | None, *, path: str | Path | None = None,
                   doc: int | None = None, line: int | None = None,
                   require_annotations: bool = True) -> Document:
    """Validate one SpERT JSON record and turn it into a :class:`Document`.

    ``schema=None`` accepts any type names (used for unlabelled prediction input).
    With ``require_annotations`` the ``entities`` field must be present, and so must
    ``relations`` when the schema declares relation types.
    """

    def fail(problem: str, fld: str | None = None) -> DataError:
        return DataError(path, problem, doc=doc, field=fld, line=line)

    if not isinstance(obj, dict):
        raise fail(f"a document must be a JSON object, got {type(obj).__name__}")
    tokens = _tokens(obj, fail)
    entities = _entities(obj, schema, len(tokens), require_annotations, fail)
    needs_relations = require_annotations and (schema is None or schema.num_relation_types > 0)
    relations = _relations(obj, schema, entities, needs_relations, fail, (path, doc))
    extra = {k: v for k, v in obj.items() if k not in ("tokens", "entities", "relations")}
    return Document(tuple(tokens), tuple(entities), tuple(relations), extra)


Fail = Callable[..., DataError]  # (problem, field=None) -> the error naming file, document and line


def _tokens(obj: dict[str, Any], fail: Fail) -> list[str]:
    """The record's non-empty list of string tokens."""
    if "tokens" not in obj:
        raise fail("missing field", "tokens")
    tokens = obj["tokens"]
    if not isinstance(tokens, list):
        raise fail(f"must be a list of strings, got {type(tokens).__name__}", "tokens")
    if not tokens:
        raise fail("empty token list", "tokens")
    for i, t in enumerate(tokens):
        if not isinstance(t, str):
            raise fail(f"must be a string, got {type(t).__name__}", f"tokens[{i}]")
    return tokens


def _items(obj: dict[str, Any], name: str, required: bool, keys: tuple[str, ...],
           fail: Fail) -> Iterator[tuple[str, list[Any]]]:
    """Yield (field name, values of ``keys``) for each object of the list ``obj[name]``, whose
    ``type`` must be a string."""
    raw = obj.get(name)
    if raw is None:
        if required:
            raise fail("missing field", name)
        raw = []
    if not isinstance(raw, list):
        raise fail(f"must be a list, got {type(raw).__name__}", name)
    for i, item in enumerate(raw):
        fld = f"{name}[{i}]"
        if not isinstance(item, dict):
            raise fail(f"must be an object, got {type(item).__name__}", fld)
        for key in keys:
            if key not in item:
                raise fail("missing field", f"{fld}.{key}")
        if not isinstance(item["type"], str):
            raise fail(f"must be a string, got {type(item['type']).__name__}", f"{fld}.type")
        yield fld, [item[k] for k in keys]


def _entities(obj: dict[str, Any], schema: TypeSchema | None, n: int, required: bool, fail: Fail) -> list[Entity]:
    """The record's entities: known types, spans inside its ``n`` tokens, no duplicates."""
    entities: list[Entity] = []
    seen: dict[tuple[str, int, int], int] = {}
    for i, (fld, (etype, start, end)) in enumerate(_items(obj, "entities", required, ("type", "start", "end"),
                                                          fail)):
        if schema is not None and schema.entity_class(etype) is None:
            known = ", ".join(t.name for t in schema.entities)
            raise fail(f"unknown entity type {etype!r} (the types file declares: {known})", f"{fld}.type")
        for key, val in (("start", start), ("end", end)):
            if not is_int(val):
                raise fail(f"must be an integer, got {val!r}", f"{fld}.{key}")
        if start < 0 or start >= n:
            raise fail(f"start {start} is out of range for {n} tokens", f"{fld}.start")
        if end > n:
            raise fail(f"end {end} is beyond the {n} tokens (end is exclusive)", f"{fld}.end")
        if end <= start:
            raise fail(f"empty span: end {end} must be greater than start {start}", f"{fld}.end")
        key3 = (etype, start, end)
        if key3 in seen:
            raise fail(f"duplicate entity: same type and span as entities[{seen[key3]}]", fld)
        seen[key3] = i
        entities.append(Entity(etype, start, end))
    return entities


def _relations(obj: dict[str, Any], schema: TypeSchema | None, entities: list[Entity], required: bool,
               fail: Fail, where: tuple[Any, Any]) -> list[Relation]:
    """The record's relations: known types, head and tail among ``entities`` and distinct;
    symmetric ones with the earlier-starting entity as head; duplicates merged."""
    relations: list[Relation] = []
    seen: set[tuple[str, int, int]] = set()
    for fld, (rtype, head, tail) in _items(obj, "relations", required, ("type", "head", "tail"), fail):
        rel_type = None
        if schema is not None:
            idx = schema.relation_index(rtype)
            if idx is None:
                known = ", ".join(t.name for t in schema.relations) or "none"
                raise fail(f"unknown relation type {rtype!r} (the types file declares: {known})", f"{fld}.type")
            rel_type = schema.relations[idx]
        for key, val in (("head", head), ("tail", tail)):
            if not is_int(val):
                raise fail(f"must be an integer, got {val!r}", f"{fld}.{key}")
            if not 0 <= val < len(entities):
                raise fail(f"entity index {val} is out of range: the document has {len(entities)} entities",
                           f"{fld}.{key}")
        if head == tail:
            raise fail(f"head and tail are the same entity ({head})", fld)
        # Symmetric relations are stored with the earlier-starting entity as head.
        if rel_type is not None and rel_type.symmetric and entities[tail].start < entities[head].start:
            head, tail = tail, head
        if (rtype, head, tail) in seen:
            log.debug("%s: document %s: duplicate relation %s merged", *where, fld)
            continue
        seen.add((rtype, head, tail))
        relations.append(Relation(rtype, head, tail))
    return relations


def open_file(path: str | Path, mode: str = "r") -> IO:
    """Open a file for reading, or raise a :class:`DataError` that says why not."""
    try:
        return open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"}))
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as e:
        raise DataError(path, f"cannot read file: {e.strerror or e}") from None


def parse_json(fh: IO, name: str | Path) -> Any:
    """The JSON document in an open file, or a :class:`DataError` naming ``name`` and where it breaks."""
    try:
        return json.load(fh)
    except json.JSONDecodeError as e:
        raise DataError(name, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except UnicodeDecodeError as e:
        raise DataError(name, f"not valid UTF-8 (byte {e.start + 1})") from None


def load_json(path: str | Path) -> Any:
    """A whole JSON file, or a :class:`DataError` naming the line and column of a syntax error."""
    with open_file(path) as fh:
        return parse_json(fh, path)


def iter_jsonl(path: str | Path, lines: Iterable[str] | None = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, object)`` for every non-blank line of a JSON Lines file."""
    path = Path(path)
    if lines is None:
        lines = open_file(path)
    for lineno, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield lineno, json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(path, f"not valid JSON (column {e.colno}: {e.msg})", line=lineno) from None


def is_jsonl(path: str | Path) -> bool:
    return Path(path).suffix.lower() in (".jsonl", ".ndjson")


def iter_records(path: str | Path) -> Iterator[tuple[int | None, int, Any]]:
    """``(line or None, document index, record)`` of a SpERT JSON file (a list of records) or
    JSON Lines (one record a line, by suffix); records are not checked here."""
    path = Path(path)
    if is_jsonl(path):
        for i, (lineno, obj) in enumerate(iter_jsonl(path)):
            yield lineno, i, obj
        return
    obj = load_json(path)
    if not isinstance(obj, list):
        raise DataError(path, f"a SpERT JSON dataset must be a list of documents, got {type(obj).__name__}"
                        " (use a .jsonl suffix for JSON Lines)")
    for i, record in enumerate(obj):
        yield None, i, record


def read_documents(path: str | Path, schema: TypeSchema | None, *,
                   require_annotations: bool = True) -> list[Document]:
    """Read a SpERT JSON file (a list of records) or JSON Lines (one record a line)."""
    return [parse_document(obj, schema, path=path, doc=i, line=line, require_annotations=require_annotations)
            for line, i, obj in iter_records(path)]


def write_records(path: str | Path, records: Iterable[dict[str, Any]], *, one_line: bool = False) -> None:
    """Write SpERT records atomically: JSON Lines for a ``.jsonl`` (or ``.ndjson``) path, else
    a JSON list with one record a line (it diffs and greps well).

    ``one_line`` writes the list on a single line without a final newline, as training's
    ``predictions.json`` and the parts of ``spert data split`` have always been written.
    """
    if one_line and not is_jsonl(path):
        atomic_write_text(path, json.dumps(list(records), ensure_ascii=False))
        return
    with committed(RecordWriter(path, jsonl=is_jsonl(path))) as writer:
        for record in records:
            writer.write(record)


class RecordWriter:
    """SpERT records streamed as JSON Lines or as one JSON list with a record a line, to
    standard output (``path`` None or ``-``) or to a file that appears, complete, only on
    :meth:`commit` (:class:`spert.atomic.AtomicFile`)."""

    def __init__(self, path: str | Path | None, *, jsonl: bool) -> None:
        self.jsonl, self.count = jsonl, 0
        self.file = None if path in (None, "-") else AtomicFile(path)
        self.path = None if self.file is None else self.file.path  # named by a failed write's error
        self.fh = sys.stdout if self.file is None else self.file.fh
        if not jsonl:
            self.fh.write("[")

    def write(self, record: dict[str, Any]) -> None:
        self.write_serialised(json.dumps(record, ensure_ascii=False))

    def write_serialised(self, text: str) -> None:
        """A record already serialised as one line of JSON."""
        if self.jsonl:
            self.fh.write(text + "\n")
        else:
            self.fh.write(("\n" if self.count == 0 else ",\n") + text)
        self.count += 1

    def flush(self) -> None:
        self.fh.flush()

    def commit(self) -> None:
        if not self.jsonl:
            self.fh.write("\n]\n")
        self.fh.flush()
        if self.file is not None:
            self.file.commit()

    def abort(self) -> None:
        if self.file is not None:
            self.file.abort()


def spans_overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return not (a[1] <= b[0] or b[1] <= a[0])


def remove_overlapping(entities: Sequence[tuple], relations: Sequence[tuple]) -> tuple[list, list]:
    """The ADE setting: drop entities overlapping any other entity, and relations whose
    head and tail overlap each other (entities are (start, end, type); relations
    ((start, end, type), (start, end, type), rel_type))."""
    kept_e = [e for e in entities if not any(e != o and spans_overlap(e[:2], o[:2]) for o in entities)]
    kept_r = [r for r in relations if not spans_overlap(r[0][:2], r[1][:2])]
    return kept_e, kept_r
