"""``spert predict``: streaming prediction over inputs of any size.

Input formats (``--input-format``; by default from the file's suffix, and text
for standard input, ``-``):

* ``text`` (any other suffix): one document per line, raw text. An empty line is
  an empty document, so output record i belongs to input line i.
* ``jsonl`` (``.jsonl``, ``.ndjson``): one JSON value per line: a record
  ``{"text": ...}`` or ``{"tokens": [...]}`` (SpERT JSON), a string, or a list of
  words. Blank lines are skipped. Other record fields are passed through.
* ``json`` (``.json``): SpERT JSON, a list of records. This one is parsed whole
  (JSON has no streaming reader in the standard library); use JSON Lines for
  files larger than memory.

Output (``--output-format``): JSON Lines, one record per input document in input order (to
standard output without ``-o``), or SpERT JSON (one list) when ``-o`` ends in ``.json``; or an
annotation tool's pre-annotations (brat, doccano, labelstudio).

Memory stays flat: inputs are read lazily and predicted ``chunk_size`` documents
at a time (sorted by length into batches within a chunk), and each chunk's
records are written before the next chunk is read.

Errors: a bad input line (invalid UTF-8, invalid JSON, a record without text or
tokens, a malformed field, given entities that do not fit) stops the run with
``error: FILE: line N: ...`` and exit status 2. With ``skip_errors`` the line is
skipped instead (no output record), a warning names it, and the summary counts
it. An output file is written to a temporary file beside it and renamed into
place only when the run succeeds: after an error or an interrupt no partial
output file is left behind.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from tqdm.auto import tqdm

from spert.atomic import committed
from spert.data.documents import RecordWriter, open_file, parse_json
from spert.data.formats.registry import FORMATS, PreannotationWriter, open_writer
from spert.data.records import Input, chunked, parse_input
from spert.errors import DataError, SpertError, raise_or_report
from spert.infer.extractor import SpERT
from spert.infer.options import PredictOptions

log = logging.getLogger(__name__)

INPUT_FORMATS = ("text", "jsonl", "json")
OUTPUT_FORMATS = ("jsonl", "json")
_MAX_WARNINGS = 20  # skipped lines named one by one; the rest only counted


@dataclass
class PredictSummary:
    documents: int = 0  # records written
    skipped: int = 0  # bad inputs skipped (with skip_errors)
    skipped_lines: list[int] = field(default_factory=list)  # their line numbers (first few)

    def skip(self, error: DataError | str, line: int | None) -> None:
        """Count a bad input that is skipped; the first few are named in a warning."""
        self.skipped += 1
        if line is not None and len(self.skipped_lines) < _MAX_WARNINGS:
            self.skipped_lines.append(line)
        if self.skipped <= _MAX_WARNINGS:
            log.warning("%s (skipped)", error)


def input_format(path: str, given: str | None = None) -> str:
    if given is not None:
        if given not in INPUT_FORMATS:
            raise SpertError(f"unknown input format {given!r}; choose one of {', '.join(INPUT_FORMATS)}")
        return given
    suffix = Path(path).suffix.lower()
    if path != "-" and suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if path != "-" and suffix == ".json":
        return "json"
    return "text"


@dataclass(frozen=True)
class StreamSpec:
    """What a ``spert predict`` run reads and writes (the model and :class:`PredictOptions` aside)."""

    input: str  # a path, or "-" for standard input
    output: str | None = None  # a path; None or "-": standard output
    input_format: str | None = None  # text, jsonl or json (None: from the suffix; text for "-")
    # jsonl or json (None: from the suffix of output), or an annotation tool's pre-annotations
    # (brat, doccano, labelstudio: spert.data.formats.registry)
    output_format: str | None = None
    skip_errors: bool = False  # skip bad inputs (named in a warning, counted) instead of stopping

    def formats(self, given_entities: bool) -> tuple[str, str]:
        """(input format, output format), checked against ``given_entities``."""
        fin = input_format(self.input, self.input_format)
        fout = self.output_format if self.output_format in FORMATS else output_format(self.output,
                                                                                      self.output_format)
        if given_entities and fin == "text":
            raise SpertError("relations for given entities need records with 'entities': "
                             "use JSON Lines or SpERT JSON input")
        return fin, fout  # type: ignore[return-value]

    def open_writer(self, fmt: str) -> OutputWriter | PreannotationWriter:
        return open_writer(fmt, self.output) if fmt in FORMATS else OutputWriter(self.output, fmt)


def output_format(path: str | None, given: str | None = None) -> str:
    if given is not None:
        if given not in OUTPUT_FORMATS:
            raise SpertError(f"unknown output format {given!r}; choose one of {', '.join(OUTPUT_FORMATS + tuple(FORMATS))}")
        return given
    return "json" if path not in (None, "-") and Path(path).suffix.lower() == ".json" else "jsonl"


# -- reading -----------------------------------------------------------------------------


def open_input(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    return open_file(path, "rb")


def _decode(raw: bytes, path: str, lineno: int) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(path, f"not valid UTF-8 (byte {e.start + 1} of the line)", line=lineno) from None
    if lineno == 1:
        text = text.removeprefix("\ufeff")  # a byte-order mark is no content
    return text.removesuffix("\n").removesuffix("\r")


def parse_line(raw: bytes, fmt: str, name: str, lineno: int, given_entities: bool = False) -> Input | None:
    """One line of a text or JSON Lines input, checked; None for a blank JSON Lines line."""
    text = _decode(raw, name, lineno)
    if fmt == "text":
        return parse_input(text, path=name, line=lineno)  # never given entities: checked by the CLI
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(name, f"not valid JSON (column {e.colno}: {e.msg})", line=lineno) from None
    return parse_input(obj, given_entities=given_entities, path=name, line=lineno)


def input_name(path: str) -> str:
    return "<stdin>" if path == "-" else path


def read_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line), lazily."""
    fh = open_input(path)
    try:
        yield from enumerate(fh, start=1)
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def read_inputs(path: str, fmt: str, *, given_entities: bool = False,
                on_error: Callable[[DataError], None] | None = None) -> Iterator[Input]:
    """Checked inputs, lazily; a bad line raises a :class:`DataError` naming it, or goes to ``on_error``."""
    name = input_name(path)
    if fmt == "json":
        yield from _read_json(path, name, given_entities, on_error)
        return
    for lineno, raw in read_lines(path):
        try:
            inp = parse_line(raw, fmt, name, lineno, given_entities)
        except DataError as e:
            raise_or_report(e, on_error)
            continue
        if inp is not None:
            yield inp


def load_json_list(path: str, name: str) -> list[Any]:
    """A SpERT JSON file's list of records, parsed whole."""
    fh = open_input(path)
    try:
        data = parse_json(fh, name)
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()
    if not isinstance(data, list):
        raise DataError(name, f"SpERT JSON must be a list of documents, got {type(data).__name__} "
                        "(use a .jsonl suffix or --input-format jsonl for JSON Lines)")
    return data


def _read_json(path: str, name: str, given_entities: bool, on_error) -> Iterator[Input]:
    for i, obj in enumerate(load_json_list(path, name)):
        try:
            yield parse_input(obj, given_entities=given_entities, path=name, doc=i)
        except DataError as e:
            raise_or_report(e, on_error)


def count_documents(path: str, fmt: str) -> int | None:
    """Lines in a file (the progress bar's total; blank JSONL lines are counted too)."""
    if path == "-" or fmt == "json":
        return None
    n, last = 0, b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


# -- writing -----------------------------------------------------------------------------


class OutputWriter(RecordWriter):
    """``spert predict``'s output: prediction records as JSON Lines (``fmt`` "jsonl") or a SpERT
    JSON list ("json"), to standard output or atomically to a file."""

    def __init__(self, path: str | None, fmt: str) -> None:
        super().__init__(path, jsonl=fmt != "json")

    def add(self, prediction) -> None:
        self.write(prediction.to_json())


# -- the run -----------------------------------------------------------------------------


def run_predict(model: SpERT, spec: StreamSpec, options: PredictOptions | None = None, *,
                progress: bool = True) -> PredictSummary:
    """Predict every document of ``spec.input`` and write the records; see the module's docs.

    A pre-annotation ``output_format`` (brat, doccano or labelstudio) writes pre-annotations for that
    tool instead (:func:`spert.data.formats.registry.open_writer`).
    """
    opts = options or PredictOptions()
    fin, fout = spec.formats(opts.given_entities)
    summary = PredictSummary()
    on_error = (lambda e: summary.skip(e, e.line)) if spec.skip_errors else None
    total = count_documents(spec.input, fin) if progress and spec.input != "-" else None
    writer = spec.open_writer(fout)
    bar = tqdm(total=total, unit="doc", desc="predict", file=sys.stderr, disable=not progress, dynamic_ncols=True)
    try:
        with committed(writer):
            inputs = read_inputs(spec.input, fin, given_entities=opts.given_entities, on_error=on_error)
            for chunk in chunked(inputs, opts.chunk_size):
                for p in model.predict_inputs(chunk, opts, on_error=on_error):
                    if p is not None:
                        writer.add(p)
                        summary.documents += 1
                writer.flush()
                bar.update(len(chunk))
    finally:
        bar.close()
    return summary
