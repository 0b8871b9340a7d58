"""The annotation formats by name: one registration each, its reader and its pre-annotation writer.

``spert data import FORMAT`` reads through :meth:`AnnotationFormat.read` (then
:mod:`spert.data.formats.alignment` turns the source documents into records), and
``spert predict --format FORMAT`` writes through :func:`open_writer`. A new format is one
module beside ``brat.py`` (a reader of the tool's export into
:class:`~spert.data.formats.common.SourceDocument` objects, and a writer of
:class:`~spert.data.records.Prediction` records) and one line in :data:`FORMATS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from spert.data.formats.brat import BratWriter, read_brat
from spert.data.formats.common import ImportSummary, SourceDocument
from spert.data.formats.doccano import DoccanoWriter, read_doccano
from spert.data.formats.labelstudio import LabelStudioWriter, read_labelstudio
from spert.data.records import Prediction
from spert.errors import SpertError


class PreannotationWriter(Protocol):
    """What ``spert predict --format`` writes through; nothing appears before :meth:`commit`."""

    def add(self, prediction: Prediction) -> None: ...

    def flush(self) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


@dataclass(frozen=True)
class AnnotationFormat:
    name: str
    reader: Callable[..., list[SourceDocument]]  # (source, summary, **read_options)
    writer: Callable[..., PreannotationWriter]  # (path, **write_options)
    output: str = "file"  # what the writer's path names: a "file" or a "directory"
    read_options: frozenset[str] = frozenset()  # the keyword options its reader takes

    def read(self, source: str | Path, summary: ImportSummary, **options: Any) -> list[SourceDocument]:
        """The source documents of an export. ``options`` go to the reader; one that is None is not
        given (the reader's default holds), and one this format's reader does not take is refused,
        naming it and the formats that take it."""
        given = {k: v for k, v in options.items() if v is not None}
        for name in sorted(set(given) - self.read_options):
            takers = [f.name for f in FORMATS.values() if name in f.read_options]
            raise SpertError(f"the {self.name} format takes no option {name!r} "
                             f"({'only ' + ', '.join(takers) + ' does' if takers else 'no format does'})")
        return self.reader(source, summary, **given)

    def open_writer(self, path: str | Path | None, **options: Any) -> PreannotationWriter:
        if path in (None, "-"):
            raise SpertError(f"--format {self.name} needs --output (a {self.output})")
        return self.writer(path, **options)  # type: ignore[arg-type]


FORMATS: dict[str, AnnotationFormat] = {f.name: f for f in (
    AnnotationFormat("brat", read_brat, BratWriter, output="directory"),
    AnnotationFormat("doccano", read_doccano, DoccanoWriter),
    AnnotationFormat("labelstudio", read_labelstudio, LabelStudioWriter, read_options=frozenset({"pick", "text_field"})),
)}


def annotation_format(name: str, what: str = "annotation format") -> AnnotationFormat:
    """The registered format ``name``, or an error naming ``what`` was asked for and the choices."""
    try:
        return FORMATS[name]
    except KeyError:
        raise SpertError(f"unknown {what} {name!r}; choose one of {', '.join(FORMATS)}") from None


def open_writer(name: str, path: str | Path | None, **options: Any) -> PreannotationWriter:
    """A pre-annotation writer for format ``name`` (``spert predict --format``); ``options``
    go to the writer (Label Studio: ``model_version``, ``from_name``, ``to_name``)."""
    return annotation_format(name, "pre-annotation format").open_writer(path, **options)
