"""One entry point for every format: read the source, align it to records, summarise; and
write what an import gives (``spert data import``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from spert.atomic import atomic_write_text
from spert.data.documents import write_records
from spert.data.formats.alignment import to_records
from spert.data.formats.brat import read_brat
from spert.data.formats.common import ImportOptions, ImportResult, ImportSummary
from spert.data.formats.doccano import read_doccano
from spert.data.formats.labelstudio import read_labelstudio
from spert.data.text import TextTokenizer
from spert.errors import SpertError

FORMATS = ("brat", "doccano", "labelstudio")


def import_annotations(fmt: str, source: str | Path, options: ImportOptions | None = None, *,
                       tokenizer: TextTokenizer | None = None,
                       subword_counts: Callable[[Sequence[str]], Sequence[int]] | None = None,
                       pick: str = "latest", text_field: str | None = None) -> ImportResult:
    """SpERT records, a types file and the summary of changes from an annotation tool's export.

    ``pick`` and ``text_field`` apply to Label Studio only. Raises a :class:`SpertError`
    for malformed input and, with ``options.strict``, for the first change.
    """
    options = options or ImportOptions()
    summary = ImportSummary(strict=options.strict)
    if fmt == "brat":
        docs = read_brat(source, summary)
    elif fmt == "doccano":
        docs = read_doccano(source, summary)
    elif fmt == "labelstudio":
        docs = read_labelstudio(source, summary, pick=pick, text_field=text_field)  # type: ignore[arg-type]
    else:
        raise SpertError(f"unknown annotation format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return to_records(docs, options, summary, tokenizer=tokenizer, subword_counts=subword_counts)


def summary_path(output: str | Path) -> Path:
    """Where the summary of an import goes: beside its records, ``OUT.summary.json``."""
    output = Path(output)
    return output.with_name(output.stem + ".summary.json")


def write_import(result: ImportResult, output: str | Path, types_output: str | Path) -> Path:
    """Write the records (:func:`spert.data.documents.write_records`: JSON Lines for ``.jsonl``,
    else SpERT JSON with one record a line), the types file and the summary, each atomically;
    return the summary's path."""
    write_records(output, result.records)
    atomic_write_text(types_output, json.dumps(result.types, ensure_ascii=False, indent=2) + "\n")
    summary = summary_path(output)
    atomic_write_text(summary, json.dumps(result.summary.to_json(), ensure_ascii=False, indent=2) + "\n")
    return summary
