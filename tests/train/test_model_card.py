"""The model card: Hugging Face metadata (model-index with the scores) and the body a reader needs."""

from __future__ import annotations

import yaml

from spert.train.model_card import CardInput, Teacher, metadata, render

SCORES = {k: {"micro": {"precision": 80.0 + i, "recall": 70.0 + i, "f1": 74.666 + i},
              "macro": {"precision": 60.0, "recall": 50.0, "f1": 54.5 + i}, "per_type": {}}
          for i, k in enumerate(("ner", "rel", "rel_plus"))}
SETTINGS = {"encoder": "all-MiniLM-L6-v2", "train_path": "data/conll04/conll04_train_dev.json",
            "test_path": "data/conll04/conll04_test.json", "valid_path": None, "epochs": 20,
            "output_dir": "/somewhere/private", "distill_weight": 0.5, "distill_temperature": 2.0}


def card(**kw) -> CardInput:
    base = dict(name="conll04", settings=SETTINGS, entity_types=["Loc", "Peop"], relation_types=["Live_In"],
                scores=SCORES, split="test", command="spert train -c configs/conll04.yaml", version="0.1.0")
    return CardInput(**{**base, **kw})


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_metadata_holds_the_scores_encoder_and_datasets():
    meta = front_matter(render(card()))
    assert meta == metadata(card())
    assert meta["library_name"] == "spert" and meta["base_model"] == "all-MiniLM-L6-v2" and meta["license"] == "other"
    assert meta["datasets"] == ["conll04_test", "conll04_train_dev"]
    [entry] = meta["model-index"]
    [result] = entry["results"]
    assert result["dataset"] == {"name": "conll04_test", "type": "conll04_test", "split": "test"}
    values = {m["name"]: m["value"] for m in result["metrics"]}
    assert values == {"NER micro F1": 74.67, "NER macro F1": 54.5, "REL micro F1": 75.67, "REL macro F1": 55.5,
                      "REL+ micro F1": 76.67, "REL+ macro F1": 56.5}


def test_body_says_what_how_and_the_command():
    text = render(card())
    assert "# conll04" in text and "entity types: Loc, Peop" in text and "relation types: Live_In" in text
    assert "| REL+ (spans, entity types and relation type) | 82.00 | 72.00 | 76.67 | 56.50 |" in text
    assert "spert train -c configs/conll04.yaml" in text
    assert "/somewhere/private" not in text  # the output directory is the machine's, not the model's
    assert "Distilled" not in text and "knowledge-distillation" not in front_matter(text)["tags"]


def test_a_student_names_its_teacher_and_an_unevaluated_run_says_so():
    student = render(card(teacher=Teacher("runs/conll04_mpnet/model", "all-mpnet-base-v2", SCORES)))
    assert "## Distilled" in student and "runs/conll04_mpnet/model" in student and "all-mpnet-base-v2" in student
    assert "distill_weight 0.5, distill_temperature 2.0" in student
    assert "knowledge-distillation" in front_matter(student)["tags"]
    bare = render(card(scores=None, split=None, command=None))
    assert "Not evaluated" in bare and "model-index" not in front_matter(bare)
