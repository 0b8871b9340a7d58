"""One entry point for every format: read the source, align it to records, summarise; and
write what an import gives (``spert data import``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from spert.atomic import atomic_write_text
from spert.data.documents import write_records
from spert.data.formats.alignment import to_records
from spert.data.formats.common import ImportOptions, ImportResult, ImportSummary
from spert.data.formats.registry import annotation_format
from spert.data.text import TextTokenizer


def import_annotations(fmt: str, source: str | Path, options: ImportOptions, *,
                       tokenizer: TextTokenizer | None = None,
                       subword_counts: Callable[[Sequence[str]], Sequence[int]] | None = None,
                       **read_options: Any) -> ImportResult:
    """SpERT records, a types file and the summary of changes from an annotation tool's export.

    ``fmt`` is a name in :data:`spert.data.formats.registry.FORMATS`; ``read_options`` go to
    its reader where it takes them (Label Studio: ``pick``, ``text_field``). Raises a
    :class:`SpertError` for malformed input and, with ``options.strict``, for the first change.
    """
    source_format = annotation_format(fmt)
    summary = ImportSummary(strict=options.strict)
    docs = source_format.read(source, summary, **read_options)
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
