"""The type schema: which entity and relation types a dataset (and a model) knows.

Class index 0 is reserved for "no entity" / "no relation"; declared types follow in
file order, so entity type i has class index i + 1. The relation classifier has no
"none" output: relation type i is output i of the classifier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spert.errors import DataError


@dataclass(frozen=True)
class EntityType:
    name: str
    short: str
    verbose: str


@dataclass(frozen=True)
class RelationType:
    name: str
    short: str
    verbose: str
    symmetric: bool = False


@dataclass(frozen=True)
class TypeSchema:
    entities: tuple[EntityType, ...]
    relations: tuple[RelationType, ...] = ()
    _entity_index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    _relation_index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._entity_index.update({t.name: i + 1 for i, t in enumerate(self.entities)})
        self._relation_index.update({t.name: i for i, t in enumerate(self.relations)})

    @property
    def num_entity_classes(self) -> int:
        """Entity classifier outputs: the declared types plus "no entity"."""
        return len(self.entities) + 1

    @property
    def num_relation_types(self) -> int:
        """Relation classifier outputs: one per declared type, no "none" class."""
        return len(self.relations)

    def entity_class(self, name: str) -> int | None:
        """Class index (>= 1) of an entity type, None if unknown."""
        return self._entity_index.get(name)

    def relation_index(self, name: str) -> int | None:
        """Output index (>= 0) of a relation type, None if unknown."""
        return self._relation_index.get(name)

    def to_json(self) -> dict[str, Any]:
        """The types-file layout of the authors' implementation."""
        return {
            "entities": {t.name: {"short": t.short, "verbose": t.verbose} for t in self.entities},
            "relations": {t.name: {"short": t.short, "verbose": t.verbose, "symmetric": t.symmetric}
                          for t in self.relations},
        }

    @classmethod
    def from_json(cls, obj: Any, path: str | Path | None = None) -> "TypeSchema":
        if not isinstance(obj, dict):
            raise DataError(path, "a types file must be a JSON object with 'entities' and 'relations'")
        if "entities" not in obj:
            raise DataError(path, "missing field", field="entities")
        entities = tuple(EntityType(n, s, v) for n, s, v, _ in _read_types(obj["entities"], "entities", path))
        if not entities:
            raise DataError(path, "at least one entity type must be declared", field="entities")
        relations = tuple(RelationType(n, s, v, sym)
                          for n, s, v, sym in _read_types(obj.get("relations", {}), "relations", path))
        return cls(entities, relations)


def _read_types(obj: Any, key: str, path: str | Path | None) -> list[tuple[str, str, str, bool]]:
    if not isinstance(obj, dict):
        raise DataError(path, f"must be an object mapping type names to descriptions, got {type(obj).__name__}",
                        field=key)
    out = []
    for name, desc in obj.items():
        if desc is None:
            desc = {}
        if not isinstance(desc, dict):
            raise DataError(path, "must be an object with 'short' and 'verbose'", field=f"{key}.{name}")
        symmetric = desc.get("symmetric", False)
        if not isinstance(symmetric, bool):
            raise DataError(path, f"must be true or false, got {symmetric!r}", field=f"{key}.{name}.symmetric")
        out.append((name, str(desc.get("short", name)), str(desc.get("verbose", name)), symmetric))
    return out


def load_types(path: str | Path) -> TypeSchema:
    """Read a types file (``{"entities": {...}, "relations": {...}}``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(path, f"cannot read types file: {e.strerror or e}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(path, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    return TypeSchema.from_json(obj, path)
