"""A task's prediction in Label Studio's format: capped to the best entities and the relations between them."""

from __future__ import annotations

from dataclasses import replace

from label_studio_fixtures import CONLL04_TYPES, LABEL_CONFIG
from spert.data.records import PredictedEntity, PredictedRelation, Prediction
from spert.integrations.label_studio.label_config import parse_label_config, type_mapping
from spert.integrations.label_studio.preannotations import ls_prediction


def test_predictions_are_capped_to_the_best_entities_and_relations_between_them():
    words = "a b c d e".split()
    ents = [PredictedEntity("Peop", i, i + 1, 2 * i, 2 * i + 1, w, s)
            for i, (w, s) in enumerate(zip(words, (0.5, 0.9, 0.6, 0.95, 0.9)))]
    rels = [PredictedRelation("Kill", h, t, s) for h, t, s in ((0, 1, 0.99), (1, 3, 0.5), (3, 4, 0.7), (4, 1, 0.6))]
    p = Prediction(" ".join(words), tuple(words), tuple((2 * i, 2 * i + 1) for i in range(5)),
                   ((0, 5),), ents, rels)
    config = parse_label_config(LABEL_CONFIG)
    mapping = type_mapping(config, list(CONLL04_TYPES["entities"]), list(CONLL04_TYPES["relations"]))
    out, cut = ls_prediction(p, config, mapping, "spert-base", max_entities=3, max_relations=2)
    assert cut
    regions = [x for x in out["result"] if x["type"] == "labels"]
    assert [x["value"]["text"] for x in regions] == ["b", "d", "e"]  # the best three (0.9 ties: the earlier), in order
    ids = {x["value"]["text"]: x["id"] for x in regions}
    relations = [(x["from_id"], x["to_id"]) for x in out["result"] if x["type"] == "relation"]
    # (a, b) lost its head; of the three left the best two, in their order
    assert relations == [(ids["d"], ids["e"]), (ids["e"], ids["b"])]
    uncapped, cut = ls_prediction(p, config, mapping, "spert-base", max_entities=5, max_relations=4)
    assert len(uncapped["result"]) == len(ents) + len(rels) and not cut
    # what the project has no type for is left out, not cut: it does not count against the caps
    other = replace(p, entities=[*ents, PredictedEntity("Drug", 0, 1, 0, 1, "a", 0.99)])
    out, cut = ls_prediction(other, config, mapping, "spert-base", max_entities=5, max_relations=4)
    assert len([x for x in out["result"] if x["type"] == "labels"]) == 5 and not cut
    # a relation over the cap is a cut too
    _, cut = ls_prediction(p, config, mapping, "spert-base", max_entities=5, max_relations=3)
    assert cut


def test_a_task_without_results_scores_one():
    p = Prediction("x", ("x",), ((0, 1),), ((0, 1),), [], [])
    config = parse_label_config(LABEL_CONFIG)
    mapping = type_mapping(config, list(CONLL04_TYPES["entities"]), list(CONLL04_TYPES["relations"]))
    out, cut = ls_prediction(p, config, mapping, "spert-v0002", max_entities=1, max_relations=1)
    assert out["result"] == [] and out["score"] == 1.0 and out["model_version"] == "spert-v0002" and not cut
