"""One task's prediction as Label Studio takes it, of the project's types and within the caps.

A prediction holds the ``labels`` regions and ``relation`` results of
:func:`spert.data.formats.labelstudio.labelstudio_task` for the project's ``Labels`` and
``Text`` tag names, only of types the project has, the ``model_version`` (``spert-base``,
``spert-v0003``) and a task score, the lowest score of its results (1.0 when nothing was
found), by which Label Studio's Data Manager sorts the least certain tasks first. A model
that finds too many entities would bury the annotator: at most ``max_entities`` entities and
``max_relations`` relations between them are kept, the highest-scoring (the caps are the
backend's settings, ``LabelStudioSettings.max_entities`` and ``max_relations``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from spert.data.formats.labelstudio import labelstudio_task
from spert.data.records import Prediction
from spert.integrations.label_studio.label_config import LabelConfig, TypeMapping

NOTHING_FOUND_SCORE = 1.0  # a task without results has nothing to correct


def ls_prediction(p: Prediction, config: LabelConfig, mapping: TypeMapping, version: str,
                  max_entities: int, max_relations: int) -> tuple[dict[str, Any], bool]:
    """One task's prediction in Label Studio's format, of the types the project has: at most
    ``max_entities`` entities and ``max_relations`` relations between them, the highest-scoring
    (in the text's order); and whether the caps cut anything of those types."""
    eligible = [i for i, e in enumerate(p.entities) if e.type in mapping.entity_types]
    kept = _best(eligible, [e.score for e in p.entities], max_entities)
    index = {old: new for new, old in enumerate(kept)}
    candidates = [j for j, r in enumerate(p.relations)
                  if r.type in mapping.relation_types and r.head in index and r.tail in index]
    relations = [replace(p.relations[j], head=index[p.relations[j].head], tail=index[p.relations[j].tail])
                 for j in _best(candidates, [r.score for r in p.relations], max_relations)]
    shown = replace(p, entities=[p.entities[i] for i in kept], relations=relations)
    prediction = labelstudio_task(shown, version, config.from_name, config.to_name)["predictions"][0]
    prediction.setdefault("score", NOTHING_FOUND_SCORE)
    return prediction, len(kept) < len(eligible) or len(relations) < len(candidates)


def _best(indices: list[int], scores: list[float | None], n: int) -> list[int]:
    """The ``n`` of ``indices`` with the highest scores (ties: the earlier), in their order."""
    if len(indices) <= n:
        return indices
    ranked = sorted(indices, key=lambda i: (-(scores[i] if scores[i] is not None else 1.0), i))
    return sorted(ranked[:n])
