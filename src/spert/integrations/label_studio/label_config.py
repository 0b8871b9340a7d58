"""A Label Studio project's labelling config, as far as the ML backend needs it.

Label Studio sends the config as XML (``label_config`` in ``/predict``, ``schema`` in
``/setup``, ``project.label_config`` in a webhook). The backend needs the ``Labels`` tag
(its ``name``, the ``toName`` of the ``Text`` tag it labels, and its ``Label`` values), the
``Text`` tag's data key (``value="$text"``) and the ``Relations`` tag's ``Relation`` values.
:func:`parse_label_config` reads them; :func:`type_mapping` says which of the model's types
the project has, and which of the project's types the model cannot predict.

The XML comes over the network: Python's expat refuses entity expansion bombs and
ElementTree resolves no external entities, and the size is bounded by the server's body
limit.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from spert.errors import SpertError


class LabelConfigError(SpertError):
    """A labelling config the backend cannot predict for (a 422 with its message)."""


@dataclass(frozen=True)
class LabelConfig:
    from_name: str  # the Labels tag's name
    to_name: str  # the Text tag's name (the Labels tag's toName)
    text_key: str  # the task data key the Text tag shows ("$text" -> "text")
    entity_types: tuple[str, ...]  # Label values, in config order
    relation_types: tuple[str, ...]  # Relation values (none: relations are drawn without labels)
    has_relations: bool  # whether the config has a Relations tag at all


@dataclass(frozen=True)
class TypeMapping:
    entity_types: frozenset[str]  # model types the project has: predicted
    relation_types: frozenset[str]
    missing: tuple[str, ...]  # project types the model does not know ("entity X", "relation Y")
    left_out: tuple[str, ...]  # model types the project lacks (never sent)


def parse_label_config(xml: object) -> LabelConfig:
    """The first ``Labels`` tag over a ``Text`` tag, its labels and the ``Relations`` values."""
    if not isinstance(xml, str) or not xml.strip():
        raise LabelConfigError("the labelling config must be a non-empty XML string")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as e:
        raise LabelConfigError(f"the labelling config is not valid XML: {e}") from None
    texts = {t.get("name"): t.get("value", "") for t in root.iter() if t.tag in ("Text", "HyperText")}
    labels = next((t for t in root.iter("Labels") if t.get("toName") in texts), None)
    if labels is None:
        raise LabelConfigError("the labelling config needs a <Labels name=... toName=...> tag over a <Text> tag "
                               "(Label Studio's relation extraction template has one)")
    value = texts[labels.get("toName")]
    if not value.startswith("$") or len(value) < 2:
        raise LabelConfigError(f"the <Text> tag {labels.get('toName')!r} must show a task field (value=\"$text\"), "
                               f"not {value!r}")
    relations = next(root.iter("Relations"), None)
    return LabelConfig(
        from_name=str(labels.get("name")), to_name=str(labels.get("toName")), text_key=value[1:],
        entity_types=tuple(str(x.get("value")) for x in labels.iter("Label") if x.get("value")),
        relation_types=() if relations is None else tuple(str(x.get("value")) for x in relations.iter("Relation")
                                                          if x.get("value")),
        has_relations=relations is not None)


def type_mapping(config: LabelConfig, entity_types: list[str], relation_types: list[str]) -> TypeMapping:
    """What the model predicts for this project: the types both have (by exact name)."""
    ents, rels = set(config.entity_types), set(config.relation_types)
    missing = [f"entity {t}" for t in config.entity_types if t not in entity_types]
    missing += [f"relation {t}" for t in config.relation_types if t not in relation_types]
    left_out = [f"entity {t}" for t in entity_types if t not in ents]
    left_out += [f"relation {t}" for t in relation_types if t not in rels]
    return TypeMapping(frozenset(ents & set(entity_types)), frozenset(rels & set(relation_types)),
                       tuple(missing), tuple(left_out))
