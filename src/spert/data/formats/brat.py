"""brat standoff: a directory of ``NAME.txt`` (the text) and ``NAME.ann`` (annotations).

``.ann`` lines, one annotation each, fields separated by tabs:

* ``T1<TAB>Type START END<TAB>text`` a text-bound annotation (an entity); a
  discontinuous one lists fragments ``START END;START END`` and quotes their texts
  joined by a space. Offsets count characters of the ``.txt`` exactly as stored (a
  CRLF line end is two characters).
* ``R1<TAB>Type Arg1:T1 Arg2:T2`` a binary relation, head first.
* ``*<TAB>Type T1 T2 ...`` an equivalence: a symmetric relation between every pair.
* ``E`` events, ``A``/``M`` attributes and ``N`` normalizations are counted and
  skipped (changes); ``#`` notes are counted (nothing of an entity or relation is lost).

A ``.txt`` without ``.ann`` is a document without annotations (noted); an ``.ann``
without ``.txt`` is an error. Documents are read in the order of their paths; their
id is the path under the directory without the suffix.

Pre-annotations (:class:`BratWriter`) go to a new directory, written whole: ``NAME.txt``
(the document's text, unchanged) and ``NAME.ann`` (``T`` entities, ``R`` relations, and an
``AnnotatorNotes`` line per annotation with the model's score). ``NAME`` is the record's
``document`` or ``id`` field made safe for a file name, else ``doc-N``.
"""

from __future__ import annotations

import re
from pathlib import Path

from spert.atomic import atomic_directory
from spert.data.formats.common import (ImportSummary, SourceDocument, SourceEntity, SourceRelation, check_fragments,
                                       read_text)
from spert.data.records import Prediction, round_score
from spert.errors import DataError, SpertError

EVENT_SKIPPED = "brat event skipped"
ATTRIBUTE_SKIPPED = "brat attribute skipped"
NORMALIZATION_SKIPPED = "brat normalization skipped"
NOTE_SKIPPED = "brat note skipped"
NO_ANN = "text without .ann (no annotations)"
_SKIPPED = {"E": EVENT_SKIPPED, "A": ATTRIBUTE_SKIPPED, "M": ATTRIBUTE_SKIPPED, "N": NORMALIZATION_SKIPPED}
_UNSAFE = re.compile(r"[^\w.-]+")  # characters a written file name does not keep


def read_brat(source: str | Path, summary: ImportSummary) -> list[SourceDocument]:
    root = Path(source)
    if not root.is_dir():
        raise DataError(root, "brat input must be a directory of .txt and .ann files")
    texts = sorted(root.rglob("*.txt"))
    for ann in sorted(root.rglob("*.ann")):
        if not ann.with_suffix(".txt").exists():
            raise DataError(ann, "no .txt beside this .ann")
    if not texts:
        raise DataError(root, "no .txt files found")
    docs = []
    for txt in texts:
        doc = SourceDocument(txt.relative_to(root).with_suffix("").as_posix(), read_text(txt))
        ann = txt.with_suffix(".ann")
        if ann.exists():
            parse_ann(ann, read_text(ann), doc, summary)
        else:
            summary.note(NO_ANN, str(txt))
        docs.append(doc)
    return docs


def parse_ann(path: Path, content: str, doc: SourceDocument, summary: ImportSummary) -> None:
    """Add the annotations of one ``.ann`` file to ``doc`` (checked against its text)."""
    ids: set[str] = set()
    for lineno, line in enumerate(content.split("\n"), start=1):
        line = line.removesuffix("\r")
        if lineno == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        fields = line.split("\t")
        aid = fields[0]
        where = f"{path}: line {lineno}: {aid}"

        def fail(problem: str, aid: str = aid, lineno: int = lineno) -> DataError:
            return DataError(path, f"{aid}: {problem}", line=lineno)

        kind = aid[:1]
        if kind == "#":
            summary.note(NOTE_SKIPPED, where)
            continue
        if aid in ids:
            raise fail("id defined twice")
        if aid != "*":
            ids.add(aid)
        if kind in _SKIPPED:
            summary.change(_SKIPPED[kind], where)
            doc.skipped_ids.add(aid)
            continue
        if len(fields) < 2:
            raise fail("expected a tab after the id")
        head = fields[1].split()
        if not head:
            raise fail("missing type")
        if kind == "T":
            if len(fields) < 3:
                raise fail("a text-bound annotation needs 'Type START END<TAB>text'")
            etype, spans = head[0], fields[1][len(head[0]):].strip()
            fragments = []
            for frag in spans.split(";"):
                parts = frag.split()
                if len(parts) != 2 or not all(p.isdigit() for p in parts):
                    raise fail(f"bad offsets {frag.strip()!r} (expected 'START END')")
                fragments.append((int(parts[0]), int(parts[1])))
            check_fragments(path, lineno, aid, doc.text, fragments, "\t".join(fields[2:]))
            doc.entities.append(SourceEntity(aid, etype, tuple(fragments), where))
        elif kind == "R":
            args = [a.split(":", 1) for a in head[1:]]
            if len(args) != 2 or any(len(a) != 2 or not a[1] for a in args):
                raise fail("a relation needs 'Type Arg1:ID Arg2:ID'")
            if {args[0][0], args[1][0]} == {"Arg1", "Arg2"}:
                args.sort()  # the head is Arg1 wherever it is written
            doc.relations.append(SourceRelation(head[0], args[0][1], args[1][1], where))
        elif kind == "*":
            members = head[1:]
            if len(members) < 2:
                raise fail("an equivalence needs two ids or more")
            doc.symmetric.add(head[0])
            for i, a in enumerate(members):
                for b in members[i + 1:]:
                    doc.relations.append(SourceRelation(head[0], a, b, where))
        else:
            raise fail(f"unknown annotation kind {kind!r} (expected T, R, *, E, A, M, N or #)")


class BratWriter:
    """Pre-annotations as a brat collection (see the module's docstring), written atomically."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            # the directory is written whole and would replace what is there, e.g. a brat collection
            raise SpertError(f"{path} exists and is not empty; brat pre-annotations go to a new directory "
                             "(copy them into a collection afterwards)")
        self.path = Path(path)  # named by a failed write's error
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
                notes.append(f"T{i}\tscore={round_score(e.score)}")
        for j, r in enumerate(p.relations, start=1):
            lines.append(f"R{j}\t{r.type} Arg1:T{r.head + 1} Arg2:T{r.tail + 1}")
            if r.score is not None:
                notes.append(f"R{j}\tscore={round_score(r.score)}")
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
