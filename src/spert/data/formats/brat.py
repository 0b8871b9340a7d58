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
"""

from __future__ import annotations

from pathlib import Path

from spert.data.formats.common import (ImportSummary, SourceDocument, SourceEntity, SourceRelation, check_fragments,
                                       read_text)
from spert.errors import DataError

EVENT_SKIPPED = "brat event skipped"
ATTRIBUTE_SKIPPED = "brat attribute skipped"
NORMALIZATION_SKIPPED = "brat normalization skipped"
NOTE_SKIPPED = "brat note skipped"
NO_ANN = "text without .ann (no annotations)"
_SKIPPED = {"E": EVENT_SKIPPED, "A": ATTRIBUTE_SKIPPED, "M": ATTRIBUTE_SKIPPED, "N": NORMALIZATION_SKIPPED}


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
