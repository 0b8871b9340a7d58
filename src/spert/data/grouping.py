"""Which sentences make up one document, for document context (``context_words``).

SpERT trains and predicts sentence by sentence; with document context each sentence is
encoded with words of the sentences around it (:mod:`spert.model.context`). This module
says where the sentences of a document come from in a dataset:

* DyGIE / DyGIE++ JSON Lines (one document a line, :mod:`spert.data.dygie`): the reader
  gives each sentence the fields ``document`` (the line's ``doc_key``, else its line
  number) and ``sentence`` (its index in the line).
* SpERT JSON records: records that carry the same ``doc_id`` (preferred) or ``document``
  (what ``spert data import`` writes) are one document. Its sentences are in the order of
  their ``sentence`` field (a non-negative integer; all of a document's records have one,
  or none has, and then file order counts). A record without either field is a document
  of its own. ``orig_id`` is not a document field here: in the authors' releases
  (CoNLL04, SciERC, ADE) it names a sentence, not a document.

:func:`read_corpus` reads either format (a DyGIE file is recognised by its first line);
:func:`document_sentences` groups documents' indices by document. Both are pure apart
from reading the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from spert.data.documents import Document, is_int, open_file, read_documents
from spert.data.dygie import read_dygie
from spert.data.schema import TypeSchema
from spert.errors import DataError

DOCUMENT_FIELDS = ("doc_id", "document")  # record fields naming a record's document, in order of preference
SENTENCE_FIELD = "sentence"  # a record's position in its document
_DYGIE_FIELDS = ("sentences", "ner")  # what marks a line as a DyGIE document


def is_dygie(path: str | Path) -> bool:
    """Is the file DyGIE JSON Lines? Its first non-blank line is an object with ``sentences`` and ``ner``
    (a SpERT JSON file starts with ``[``; SpERT JSON Lines records have ``tokens``)."""
    with open_file(path) as fh:
        for line in fh:
            text = line.strip()
            if not text:
                continue
            if not text.startswith("{"):
                return False
            try:
                first = json.loads(text)
            except json.JSONDecodeError:
                return False
            return isinstance(first, dict) and all(k in first for k in _DYGIE_FIELDS) and "tokens" not in first
    return False


def read_corpus(path: str | Path, schema: TypeSchema) -> list[Document]:
    """The sentences of a dataset file as documents, in file order: DyGIE JSON Lines (whatever the
    suffix) or SpERT JSON / JSON Lines (:func:`spert.data.documents.read_documents`)."""
    return read_dygie(path, schema) if is_dygie(path) else read_documents(path, schema)


def document_key(doc: Document) -> Any:
    """The value of the first document field a record carries (see :data:`DOCUMENT_FIELDS`), or None."""
    for name in DOCUMENT_FIELDS:
        value = doc.extra.get(name)
        if value is not None:
            return value if isinstance(value, (str, int, float, bool)) else repr(value)
    return None


def document_sentences(docs: Sequence[Document], path: str | Path | None = None) -> list[list[int]]:
    """Indices of ``docs`` grouped by document, each group in sentence order, groups in order of first
    appearance; a record without a document field is a group of its own. Raises a :class:`DataError`
    naming the record and field for a bad, missing or repeated ``sentence`` index."""
    groups: dict[Any, list[int]] = {}
    for i, doc in enumerate(docs):
        key = document_key(doc)
        groups.setdefault(("record", i) if key is None else ("field", key), []).append(i)
    return [_in_sentence_order(members, docs, path) if len(members) > 1 else members for members in groups.values()]


def _in_sentence_order(members: list[int], docs: Sequence[Document], path: str | Path | None) -> list[int]:
    """One document's records in the order of their ``sentence`` field (file order when none has one)."""
    having = [i for i in members if SENTENCE_FIELD in docs[i].extra]
    if not having:
        return members
    if len(having) != len(members):
        missing = next(i for i in members if SENTENCE_FIELD not in docs[i].extra)
        raise DataError(path, f"missing field: other records of document {document_key(docs[missing])!r} "
                        "give their sentence index", doc=missing, field=SENTENCE_FIELD)
    seen: dict[int, int] = {}
    for i in members:
        value = docs[i].extra[SENTENCE_FIELD]
        if not is_int(value) or value < 0:
            raise DataError(path, f"must be a non-negative integer, got {value!r}", doc=i, field=SENTENCE_FIELD)
        if value in seen:
            raise DataError(path, f"sentence {value} of document {document_key(docs[i])!r} appears twice "
                            f"(record {seen[value]} has it too)", doc=i, field=SENTENCE_FIELD)
        seen[value] = i
    return sorted(members, key=lambda i: docs[i].extra[SENTENCE_FIELD])
