"""A model card for every trained model directory: ``README.md`` in the Hugging Face convention.

YAML metadata first (``library_name``, ``base_model``: the encoder, ``datasets``, ``license``,
``tags`` and a ``model-index`` holding the test scores, which the Hub reads into its results
widget), then what a reader looks for: what the model extracts, how it scored, the command that
trained it and its settings, and for a distilled student its teacher. Pure: it takes the run's
settings and scores and returns text; the training loop writes it into the model directory.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from spert.atomic import atomic_write_text

TASKS = (("ner", "NER (span and type)"), ("rel", "REL (spans and relation type)"),
         ("rel_plus", "REL+ (spans, entity types and relation type)"))


@dataclass(frozen=True)
class Teacher:
    """Where a distilled student's targets came from."""

    path: str
    encoder: str
    scores: Mapping[str, Any] | None  # the teacher's metrics.json, when it has one


@dataclass(frozen=True)
class CardInput:
    """What the card says: the run's settings (TrainConfig as JSON), its types, its scores."""

    name: str
    settings: Mapping[str, Any]
    entity_types: Sequence[str]
    relation_types: Sequence[str]
    scores: Mapping[str, Any] | None  # metrics.json of the test (or validation) split, if evaluated
    split: str | None  # which split the scores are of ("test", "valid")
    command: str | None  # the command line that trained it
    version: str  # spert's version
    license: str = "other"  # the Hub's license field; a model's is its data's and its encoder's to decide
    teacher: Teacher | None = None


def _dataset(path: object) -> str:
    return Path(str(path)).stem if path else ""


def metadata(card: CardInput) -> dict[str, Any]:
    """The YAML header: the Hub's model-card fields."""
    s = card.settings
    datasets = sorted({_dataset(s.get(k)) for k in ("train_path", "valid_path", "test_path") if s.get(k)})
    meta: dict[str, Any] = {
        "library_name": "spert",
        "license": card.license,
        "base_model": str(s.get("encoder", "")),
        "tags": ["spert", "joint-entity-relation-extraction", "named-entity-recognition", "relation-extraction"]
        + (["knowledge-distillation"] if card.teacher else []),
        "datasets": datasets,
        "pipeline_tag": "token-classification",
    }
    if card.scores:
        data_path = s.get("test_path") if card.split == "test" else s.get("valid_path")
        metrics = [{"type": "f1", "name": f"{label.split(' ')[0]} {avg} F1", "value": round(card.scores[key][avg]["f1"], 2)}
                   for key, label in TASKS if key in card.scores for avg in ("micro", "macro")]
        meta["model-index"] = [{"name": card.name, "results": [{
            "task": {"type": "token-classification", "name": "Joint entity and relation extraction"},
            "dataset": {"name": _dataset(data_path), "type": _dataset(data_path), "split": card.split or ""},
            "metrics": metrics}]}]
    return meta


def _scores_table(scores: Mapping[str, Any]) -> list[str]:
    rows = ["| task | micro P | micro R | micro F1 | macro F1 |", "| --- | ---: | ---: | ---: | ---: |"]
    for key, label in TASKS:
        if key in scores:
            mi, ma = scores[key]["micro"], scores[key]["macro"]
            rows.append(f"| {label} | {mi['precision']:.2f} | {mi['recall']:.2f} | {mi['f1']:.2f} | {ma['f1']:.2f} |")
    return rows


def render(card: CardInput) -> str:
    """The whole README.md."""
    s = card.settings
    out = ["---", yaml.safe_dump(metadata(card), sort_keys=False, allow_unicode=True).rstrip(), "---", "",
           f"# {card.name}", "",
           f"A [SpERT](https://arxiv.org/abs/1909.07755) model (span-based joint entity and relation extraction) "
           f"trained with spert {card.version} on `{s.get('train_path')}`, fine-tuning the encoder "
           f"`{s.get('encoder')}`.", "",
           f"- entity types: {', '.join(card.entity_types) or 'none'}",
           f"- relation types: {', '.join(card.relation_types) or 'none'}", ""]
    if card.teacher is not None:
        t = card.teacher
        out += ["## Distilled", "",
                f"A student trained toward the outputs of the teacher `{t.path}` (encoder `{t.encoder}`), "
                f"distill_weight {s.get('distill_weight')}, distill_temperature {s.get('distill_temperature')}.", ""]
        if t.scores:
            out += ["The teacher's scores:", "", *_scores_table(t.scores), ""]
    if card.scores:
        data = s.get("test_path") if card.split == "test" else s.get("valid_path")
        out += [f"## Scores ({card.split} split: `{data}`, in percent)", "", *_scores_table(card.scores), ""]
    else:
        out += ["## Scores", "", "Not evaluated: the run had no test or validation data.", ""]
    out += ["## Use", "", "```bash", "pip install spert", "spert predict --model MODEL_DIR input.txt -o out.jsonl",
            "```", "", "```python", "from spert import SpERT", "", 'model = SpERT.load("MODEL_DIR")',
            'for doc in model.predict(["Ada Lovelace was born in London."]):', "    print(doc.triples())", "```", ""]
    if card.command:
        out += ["## Training", "", "```bash", card.command, "```", ""]
    out += ["Settings (`config.json`):", "", "| setting | value |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in s.items() if k not in ("output_dir",)]
    return "\n".join(out) + "\n"


CARD = "README.md"


def command_line(argv: Sequence[str] | None = None) -> str | None:
    """The ``spert ...`` command this process runs, or None when spert was called from Python."""
    argv = list(sys.argv if argv is None else argv)
    if not argv or not (Path(argv[0]).name == "spert" or argv[0].endswith("spert/__main__.py")):
        return None
    return shlex.join(["spert", *argv[1:]])


def write_card(model_dir: Path, card: CardInput) -> None:
    """``model_dir/README.md``, atomically."""
    atomic_write_text(Path(model_dir) / CARD, render(card))
