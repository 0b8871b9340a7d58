"""Reader for the DyGIE / DyGIE++ JSON Lines format (one document a line).

Each line holds ``sentences`` (lists of words), ``ner`` (per sentence, entities as
``[start, end, type]`` with document-level word offsets and INCLUSIVE ends) and
``relations`` (per sentence, ``[head_start, head_end, tail_start, tail_end, type]``).
Each sentence becomes one SpERT document with sentence-local, end-exclusive spans, and
the fields ``document`` (the line's ``doc_key``, else ``"line N"``) and ``sentence`` (its
index in the line), which keep the abstract together for document context
(:mod:`spert.data.grouping`).
Type names are matched to the schema case-insensitively (DyGIE's SciERC spells
relation types in capitals). PTB bracket tokens (-LRB-, ...) can be mapped to the
characters they stand for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spert.data.documents import Document, iter_jsonl, parse_document
from spert.errors import DataError
from spert.data.schema import TypeSchema

PTB_BRACKETS = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}


def _type_lookup(names: list[str]) -> dict[str, str]:
    return {n.lower(): n for n in names}


def read_dygie(path: str | Path, schema: TypeSchema, *, map_brackets: bool = True) -> list[Document]:
    """All sentences of a DyGIE JSON Lines file as SpERT documents, in file order."""
    path = Path(path)
    ent_names = _type_lookup([t.name for t in schema.entities])
    rel_names = _type_lookup([t.name for t in schema.relations])
    docs: list[Document] = []
    for doc_index, (lineno, obj) in enumerate(iter_jsonl(path)):
        docs.extend(_convert(obj, path, doc_index, lineno, schema, ent_names, rel_names, map_brackets,
                             first_index=len(docs)))
    return docs


def _convert(obj: Any, path: Path, doc_index: int, lineno: int, schema: TypeSchema, ent_names: dict[str, str],
             rel_names: dict[str, str], map_brackets: bool, first_index: int) -> list[Document]:
    def fail(problem: str, fld: str) -> DataError:
        return DataError(path, problem, doc=doc_index, field=fld, line=lineno)

    if not isinstance(obj, dict):
        raise fail(f"a document must be a JSON object, got {type(obj).__name__}", "document")
    for key in ("sentences", "ner"):
        if key not in obj:
            raise fail("missing field", key)
    sentences = obj["sentences"]
    ner = obj["ner"]
    relations = obj.get("relations") or [[] for _ in sentences]
    if not isinstance(sentences, list) or not all(isinstance(s, list) for s in sentences):
        raise fail("must be a list of sentences (lists of words)", "sentences")
    for key, val in (("ner", ner), ("relations", relations)):
        if not isinstance(val, list) or len(val) != len(sentences):
            raise fail(f"must be a list with one entry per sentence ({len(sentences)})", key)

    doc_key = obj.get("doc_key")
    document = doc_key if isinstance(doc_key, (str, int)) and not isinstance(doc_key, bool) else f"line {lineno}"
    out = []
    offset = 0
    for si, words in enumerate(sentences):
        n = len(words)
        entities: list[dict[str, Any]] = []
        index: dict[tuple[int, int], int] = {}
        for ei, item in enumerate(ner[si]):
            fld = f"ner[{si}][{ei}]"
            if not (isinstance(item, list) and len(item) == 3):
                raise fail("must be [start, end, type]", fld)
            start, end, etype = item
            if not (isinstance(start, int) and isinstance(end, int)):
                raise fail("start and end must be integers", fld)
            name = ent_names.get(str(etype).lower(), etype)
            span = (start - offset, end - offset + 1)
            if span not in index:
                index[span] = len(entities)
            entities.append({"type": name, "start": span[0], "end": span[1]})
        rels = []
        for ri, item in enumerate(relations[si]):
            fld = f"relations[{si}][{ri}]"
            if not (isinstance(item, list) and len(item) == 5):
                raise fail("must be [head_start, head_end, tail_start, tail_end, type]", fld)
            hs, he, ts, te, rtype = item
            head, tail = (hs - offset, he - offset + 1), (ts - offset, te - offset + 1)
            for role, span in (("head", head), ("tail", tail)):
                if span not in index:
                    raise fail(f"the {role} span {span[0] + offset}..{span[1] + offset - 1} is not an entity "
                               f"of the sentence", fld)
            rels.append({"type": rel_names.get(str(rtype).lower(), rtype), "head": index[head],
                         "tail": index[tail]})
        tokens = [PTB_BRACKETS.get(w, w) for w in words] if map_brackets else list(words)
        record = {"tokens": tokens, "entities": entities, "relations": rels, "document": document, "sentence": si}
        out.append(parse_document(record, schema, path=path, doc=first_index + len(out), line=lineno))
        offset += n
    return out
