"""What every importer shares: source documents (characters and ids, as annotation tools
store them), the import options, the summary of changes with its reasons, and the checks
of offsets and quoted text that the readers make at the boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from spert.data.documents import open_file
from spert.errors import DataError, SpertError

MAX_EXAMPLES = 5  # examples kept per reason

# Reasons an item is not carried over exactly (changes: --strict refuses each).
DISCONTINUOUS_SKIPPED = "discontinuous entity skipped"
DISCONTINUOUS_COVERED = "discontinuous entity replaced by its covering span"
WHITESPACE_TRIMMED = "whitespace trimmed from an entity's ends"
EMPTY_ENTITY = "entity without a visible character dropped"
DUPLICATE_ENTITY = "duplicate entity (same type and words) merged"
TOO_LONG = "entity longer than max_span_size words dropped"
OVERLAPPING = "overlapping entity dropped (--no-overlap)"
ENTITY_CUT = "entity longer than the encoder takes dropped"
RELATION_UNKNOWN_ID = "relation to an unknown id dropped"
RELATION_DROPPED = "relation to a dropped or skipped annotation dropped"
RELATION_SELF = "relation from an entity to itself dropped"
RELATION_ACROSS = "relation across sentences dropped"
RELATION_ACROSS_WINDOWS = "relation across the pieces of a long document or sentence dropped"
DUPLICATE_RELATION = "duplicate relation merged"

# Notes: counted, nothing of the annotation is lost.
WORD_SPLIT = "word split at an entity boundary"
SENTENCES_MERGED = "sentences merged because an entity crosses them"
LONG_DOCUMENT_CUT = "document cut at sentence boundaries to fit the encoder"
LONG_SENTENCE_CUT = "sentence longer than the encoder cut into windows"


@dataclass
class SourceEntity:
    id: str
    type: str
    fragments: tuple[tuple[int, int], ...]  # character spans [start, end) in the document text
    where: str  # "file: line N: id" for messages and examples


@dataclass
class SourceRelation:
    type: str
    head: str  # entity ids
    tail: str
    where: str


@dataclass
class SourceDocument:
    """One annotated text as an annotation tool stores it: characters and ids."""

    id: str
    text: str
    entities: list[SourceEntity] = field(default_factory=list)
    relations: list[SourceRelation] = field(default_factory=list)
    skipped_ids: set[str] = field(default_factory=set)  # ids of annotations skipped (events, ...)
    symmetric: set[str] = field(default_factory=set)  # relation types symmetric by construction


@dataclass(frozen=True)
class ImportOptions:
    """How an import carries annotations over. ``max_span_size`` is the model's setting
    (:class:`spert.model.settings.ModelSettings`, whose default ``spert data import`` offers): entities
    longer are dropped, as SpERT never proposes them."""

    discontinuous: Literal["skip", "cover"] = "skip"
    documents: Literal["split", "keep"] = "split"
    max_span_size: int = field(kw_only=True)
    no_overlap: bool = False
    symmetric: frozenset[str] = frozenset()
    max_subwords: int = 512  # keep mode: a record's subwords, [CLS] and [SEP] included
    strict: bool = False

    def __post_init__(self) -> None:
        for flag, value, choices in (("--discontinuous", self.discontinuous, DISCONTINUOUS_CHOICES),
                                     ("--documents", self.documents, DOCUMENTS_CHOICES)):
            check_choice(flag, value, choices)


DISCONTINUOUS_CHOICES = ("skip", "cover")
DOCUMENTS_CHOICES = ("split", "keep")


def check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    """Refuse an import option's value that is none of its choices; ``name`` is its ``spert data import`` flag."""
    if value not in choices:
        raise SpertError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


@dataclass
class ImportSummary:
    """What an import carried over, and every item it changed or dropped, by reason."""

    strict: bool = False
    documents: int = 0
    records: int = 0
    entities: int = 0  # carried over into the records
    relations: int = 0
    changes: dict[str, int] = field(default_factory=dict)  # reason -> count (refused by --strict)
    notes: dict[str, int] = field(default_factory=dict)  # reason -> count (nothing lost)
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> first few "file: line: id"

    def change(self, reason: str, where: str, count: int = 1) -> None:
        if self.strict:
            raise SpertError(f"{where}: {reason} (--strict refuses every change)")
        self._count(self.changes, reason, where, count)

    def note(self, reason: str, where: str, count: int = 1) -> None:
        self._count(self.notes, reason, where, count)

    def _count(self, table: dict[str, int], reason: str, where: str, count: int) -> None:
        if count <= 0:
            return
        table[reason] = table.get(reason, 0) + count
        ex = self.examples.setdefault(reason, [])
        if len(ex) < MAX_EXAMPLES:
            ex.append(where)

    @property
    def changed(self) -> int:
        return sum(self.changes.values())

    def to_json(self) -> dict[str, Any]:
        return {"documents": self.documents, "records": self.records, "entities": self.entities,
                "relations": self.relations, "changes": dict(sorted(self.changes.items())),
                "notes": dict(sorted(self.notes.items())),
                "examples": {k: v for k, v in sorted(self.examples.items())}}

    def format(self) -> str:
        lines = [f"{self.documents} documents -> {self.records} records, "
                 f"{self.entities} entities, {self.relations} relations"]
        for title, table in (("changed or dropped", self.changes), ("notes", self.notes)):
            if table:
                lines.append(f"{title}:")
                for reason, n in sorted(table.items()):
                    ex = "; ".join(self.examples.get(reason, []))
                    lines.append(f"  {n:6d}  {reason}" + (f"  (e.g. {ex})" if ex else ""))
        if not self.changes:
            lines.append("every entity and relation carried over exactly")
        return "\n".join(lines)


@dataclass
class ImportResult:
    records: list[dict[str, Any]]
    types: dict[str, Any]  # the types file
    summary: ImportSummary


# -- checks the readers share ---------------------------------------------------------------------


def check_fragments(path: Any, line: int | None, eid: str, text: str, fragments: Sequence[tuple[int, int]],
                    quoted: str | None, *, sep: str = " ") -> None:
    """Offsets inside the text, and the text an export quotes equal to the text at them.

    ``quoted`` is what the tool wrote for the entity (fragments joined by ``sep``);
    line breaks in the text count as spaces, as line-oriented formats cannot hold them.
    """
    for a, b in fragments:
        if not (0 <= a < b <= len(text)):
            raise DataError(path, f"{eid}: offsets {a}-{b} are empty or outside the text's {len(text)} "
                            "characters", line=line)
    if quoted is None:
        return
    found = sep.join(text[a:b] for a, b in fragments)
    if _flat(found) != _flat(quoted):
        raise DataError(path, f"{eid}: the annotation quotes {quoted!r} but the text at "
                        f"{';'.join(f'{a}-{b}' for a, b in fragments)} is {found!r}", line=line)


def _flat(s: str) -> str:
    """Line breaks as spaces, one per character, so the quoted text keeps the span's length."""
    return s.replace("\r", " ").replace("\n", " ")


def read_text(path: Any) -> str:
    """A UTF-8 text file exactly as stored: no newline translation (offsets count every \\r)."""
    with open_file(path, "rb") as fh:
        raw = fh.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(path, f"not valid UTF-8 (byte {e.start})") from None
