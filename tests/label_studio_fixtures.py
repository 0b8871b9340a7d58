"""Label Studio as the backend's tests see it: the requests it sends, a simulated annotator, a fake server.

Request shapes follow HumanSignal/label-studio-ml-backend 2.0 (``label_studio_ml/api.py`` and
its tests: ``project`` as ``"ID.TIMESTAMP"``, ``schema`` in /setup, ``params.context`` in
/predict, ``action`` and ``project: {"id", "label_config"}`` in /webhook). The fake Label Studio
returns an export of CoNLL04 sentences annotated with their gold entities and relations. Shared
by the ASGI tests (``tests/integrations/label_studio``), the end-to-end test against a real
Label Studio and ``scripts/label_studio_loop.py`` (one definition of each).
"""

from __future__ import annotations

import json

from paths import CONLL04
from spert.integrations.label_studio.mount import create_app
from spert.integrations.label_studio.source import UnknownProject
from spert.serve.settings import LabelStudioSettings, ServeSettings

CONLL04_TYPES = json.loads((CONLL04 / "conll04_types.json").read_text())
LABEL_CONFIG = ("<View><Labels name=\"label\" toName=\"text\">"
                + "".join(f"<Label value=\"{t}\"/>" for t in CONLL04_TYPES["entities"])
                + "</Labels><Text name=\"text\" value=\"$text\"/><Relations>"
                + "".join(f"<Relation value=\"{t}\"/>" for t in CONLL04_TYPES["relations"])
                + "</Relations></View>")
TEXTS = ["John Smith works for Acme Corp. in New York.", "Ada Lovelace was born in London.",
         "Marie Curie lived in Paris, France, with Pierre Curie."]
# the fine-tuning of the ASGI tests' rounds: one short epoch on the tiny model
QUICK_TRAINING = {"epochs": 1, "batch_size": 4, "neg_entity_count": 10, "neg_relation_count": 10,
                  "eval_batch_size": 8}


def ls_task(tid: int, text: str, annotations: list | None = None) -> dict:
    """A task as Label Studio sends it to /predict (fields from label-studio-ml-backend's tests)."""
    return {"id": tid, "data": {"text": text}, "meta": {}, "created_at": "2024-04-13T19:22:37.153686Z",
            "updated_at": "2024-05-03T00:03:22.356871Z", "is_labeled": False, "overlap": 1, "inner_id": tid,
            "total_annotations": 0, "cancelled_annotations": 0, "total_predictions": 0, "project": 7,
            "updated_by": 1, "file_upload": None, "comment_authors": [], "predictions": [],
            "annotations": annotations or []}


def annotated_task(tid: int, record: dict) -> dict:
    """A CoNLL04 sentence as a Label Studio task annotated with its gold (a simulated annotator)."""
    tokens, starts, pos = record["tokens"], [], 0
    for t in tokens:
        starts.append(pos)
        pos += len(t) + 1
    text = " ".join(tokens)
    result = []
    for i, e in enumerate(record["entities"]):
        a, b = starts[e["start"]], starts[e["end"] - 1] + len(tokens[e["end"] - 1])
        result.append({"id": f"r{i}", "from_name": "label", "to_name": "text", "type": "labels",
                       "value": {"start": a, "end": b, "text": text[a:b], "labels": [e["type"]]}})
    for r in record["relations"]:
        result.append({"from_id": f"r{r['head']}", "to_id": f"r{r['tail']}", "type": "relation",
                       "direction": "right", "labels": [r["type"]]})
    return ls_task(tid, text, [{"id": tid, "result": result, "was_cancelled": False,
                                "created_at": "2024-05-03T00:03:22Z"}])


class FakeLabelStudio:
    """Label Studio as the backend's SDK source sees it: one project, an export of annotated tasks."""

    def __init__(self, tasks: list[dict], project: int = 7) -> None:
        self.tasks, self.project, self.exports = tasks, project, 0

    def check_project(self, project_id: int) -> None:
        if project_id != self.project:
            raise UnknownProject(f"Label Studio has no project {project_id} for this token")

    def export(self, project_id: int) -> bytes:
        self.exports += 1
        return json.dumps(self.tasks).encode()


def make_backend_app(model_dir, extractor, versions_dir, source=None, **ls):
    """``spert serve --label-studio``'s app on ``extractor``, its annotations from ``source``."""
    settings = ServeSettings(model=model_dir, label_studio=LabelStudioSettings(versions_dir=versions_dir, **ls))
    app = create_app(settings, extractor)
    if source is not None:
        app.state.label_studio._source = lambda: source
    return app


def predict_body(texts, label_config=LABEL_CONFIG, project="7.1700000000"):
    return {"tasks": [ls_task(i + 1, t) for i, t in enumerate(texts)], "model_version": None, "project": project,
            "label_config": label_config, "params": {"login": None, "password": None, "context": {}}}
