"""The Label Studio ML backend through ASGI: the requests Label Studio sends, malformed ones, a training round.

Request shapes follow HumanSignal/label-studio-ml-backend 2.0 (``label_studio_ml/api.py`` and
its tests: ``project`` as ``"ID.TIMESTAMP"``, ``schema`` in /setup, ``params.context`` in
/predict, ``action`` and ``project: {"id", "label_config"}`` in /webhook). Training runs
against a fake Label Studio that returns an export of CoNLL04 sentences annotated with
their gold entities and relations, on the tiny model, for one epoch.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paths import CONLL04
from spert.serve.ls_config import LabelConfigError, parse_label_config, type_mapping
from spert.serve.ls_training import UnknownProject
from spert.serve.model_versions import BASE, UnknownVersion, VersionStore
from spert.serve.server import create_app
from spert.serve.settings import LabelStudioSettings, ServeSettings

CONLL04_TYPES = json.loads((CONLL04 / "conll04_types.json").read_text())
LABEL_CONFIG = ("<View><Labels name=\"label\" toName=\"text\">"
                + "".join(f"<Label value=\"{t}\"/>" for t in CONLL04_TYPES["entities"])
                + "</Labels><Text name=\"text\" value=\"$text\"/><Relations>"
                + "".join(f"<Relation value=\"{t}\"/>" for t in CONLL04_TYPES["relations"])
                + "</Relations></View>")
TEXTS = ["John Smith works for Acme Corp. in New York.", "Ada Lovelace was born in London.",
         "Marie Curie lived in Paris, France, with Pierre Curie."]


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


@pytest.fixture(scope="module")
def fake_ls() -> FakeLabelStudio:
    records = json.loads((CONLL04 / "conll04_dev.json").read_text())[:12]
    return FakeLabelStudio([annotated_task(i + 1, r) for i, r in enumerate(records)])


def make_backend_app(model_dir, extractor, versions_dir, source=None, **ls):
    settings = ServeSettings(model=model_dir, label_studio=LabelStudioSettings(versions_dir=versions_dir, **ls))
    app = create_app(settings, extractor)
    if source is not None:
        app.state.label_studio._source = lambda: source
    return app


@pytest.fixture(scope="module")
def client(model_dir, extractor, tmp_path_factory, fake_ls):
    app = make_backend_app(model_dir, extractor, tmp_path_factory.mktemp("versions"), fake_ls,
                           train_overrides={"epochs": 1, "batch_size": 4, "neg_entity_count": 10,
                                            "neg_relation_count": 10, "eval_batch_size": 8})
    with TestClient(app) as c:
        yield c


def predict_body(texts, label_config=LABEL_CONFIG, project="7.1700000000"):
    return {"tasks": [ls_task(i + 1, t) for i, t in enumerate(texts)], "model_version": None, "project": project,
            "label_config": label_config, "params": {"login": None, "password": None, "context": {}}}


def error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["error"] == code, body
    if field is not None:
        assert body["field"] == field, body
    return body


# -- the labelling config ------------------------------------------------------------------


def test_label_config_names_tags_and_types():
    config = parse_label_config(LABEL_CONFIG)
    assert (config.from_name, config.to_name, config.text_key) == ("label", "text", "text")
    assert config.entity_types == tuple(CONLL04_TYPES["entities"])
    assert config.relation_types == tuple(CONLL04_TYPES["relations"])
    for bad in ("", "<View>", "<View><Text name='t' value='$x'/></View>", 5,
                "<View><Labels name='l' toName='t'/><Text name='t' value='plain'/></View>"):
        with pytest.raises(LabelConfigError):
            parse_label_config(bad)


def test_type_mapping_both_ways():
    config = parse_label_config(LABEL_CONFIG.replace("<Label value=\"Other\"/>", "<Label value=\"Drug\"/>"))
    m = type_mapping(config, list(CONLL04_TYPES["entities"]), ["Kill"])
    assert "Other" not in m.entity_types and "Drug" not in m.entity_types
    assert m.missing[0] == "entity Drug" and "relation Work_For" in m.missing
    assert m.left_out == ("entity Other",)


# -- the protocol --------------------------------------------------------------------------


def test_health_and_setup(client):
    assert client.get("/label-studio/health").json() == {"status": "UP", "model_class": "SpERT",
                                                         "model_version": "spert-base"}
    assert client.get("/label-studio/").json()["status"] == "UP"
    r = client.post("/label-studio/setup", json={"project": "7.1700000000", "schema": LABEL_CONFIG,
                                                 "hostname": "http://localhost:8080", "access_token": "ignored",
                                                 "model_version": None, "extra_params": {}})
    assert r.status_code == 200 and r.json()["model_version"] == "spert-base"
    assert r.json()["missing_types"] == [] and r.json()["left_out_types"] == []


def test_predictions_in_label_studio_format(client, extractor):
    r = client.post("/label-studio/predict", json=predict_body(TEXTS))
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == len(TEXTS)
    expected = extractor.predict(TEXTS)
    for text, pred, ref in zip(TEXTS, results, expected):
        assert pred["model_version"] == "spert-base"
        regions = {x["id"]: x for x in pred["result"] if x["type"] == "labels"}
        assert len(regions) == len(ref.entities)
        for x, e in zip(regions.values(), ref.entities):
            v = x["value"]
            assert (x["from_name"], x["to_name"]) == ("label", "text")
            assert text[v["start"]:v["end"]] == v["text"] == e.text and v["labels"] == [e.type]
        rels = [x for x in pred["result"] if x["type"] == "relation"]
        assert len(rels) == len(ref.relations)
        assert all(x["from_id"] in regions and x["to_id"] in regions and x["direction"] == "right" for x in rels)
        scores = [x["score"] for x in pred["result"]]
        assert pred["score"] == (min(scores) if scores else 1.0)
    assert any(p["result"] for p in results)


def test_types_the_project_lacks_are_left_out(client, caplog):
    config = LABEL_CONFIG.replace("<Label value=\"Loc\"/>", "<Label value=\"Drug\"/>")
    with caplog.at_level("WARNING"):
        for _ in range(2):
            r = client.post("/label-studio/predict", json=predict_body(TEXTS, config))
            assert r.status_code == 200
    assert all(x["value"]["labels"] != ["Loc"] for p in r.json()["results"] for x in p["result"]
               if x["type"] == "labels")
    assert sum("entity Drug" in m for m in caplog.messages) == 1  # reported once, not per request
    r = client.post("/label-studio/setup", json={"project": "7.1", "schema": config})
    assert r.json()["missing_types"] == ["entity Drug"] and r.json()["left_out_types"] == ["entity Loc"]


def test_predictions_are_capped_to_the_best_entities_and_relations_between_them():
    from spert.data.records import PredictedEntity, PredictedRelation, Prediction
    from dataclasses import replace

    from spert.serve.ml_backend import ls_prediction

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
    uncapped, cut = ls_prediction(p, config, mapping, "spert-base")
    assert len(uncapped["result"]) == len(ents) + len(rels) and not cut
    # what the project has no type for is left out, not cut: it does not count against the caps
    other = replace(p, entities=[*ents, PredictedEntity("Drug", 0, 1, 0, 1, "a", 0.99)])
    out, cut = ls_prediction(other, config, mapping, "spert-base", max_entities=5, max_relations=4)
    assert len([x for x in out["result"] if x["type"] == "labels"]) == 5 and not cut
    # a relation over the cap is a cut too
    _, cut = ls_prediction(p, config, mapping, "spert-base", max_entities=5, max_relations=3)
    assert cut


@pytest.mark.parametrize("body, status, code, field", [
    ({"tasks": "x", "project": "7.1", "label_config": LABEL_CONFIG}, 422, "invalid", "tasks"),
    ({"tasks": [], "label_config": LABEL_CONFIG}, 422, "invalid", "project"),
    ({"tasks": [{"id": 1, "data": {}}], "project": "7.1", "label_config": LABEL_CONFIG}, 422, "invalid",
     "tasks[0].data.text"),
    ({"tasks": [{"id": 1, "data": {"text": 3}}], "project": "7.1", "label_config": LABEL_CONFIG}, 422, "invalid",
     "tasks[0].data.text"),
    ({"tasks": [], "project": "7.1", "label_config": "<View"}, 422, "invalid", "label_config"),
    ({"tasks": [], "project": "7.1", "label_config": "<View><Text name='t' value='$t'/></View>"}, 422, "invalid",
     "label_config"),
    ({"tasks": [], "project": "seven", "label_config": LABEL_CONFIG}, 422, "invalid", "project"),
    ([1, 2], 422, "invalid", "body"),
])
def test_malformed_predict(client, body, status, code, field):
    error(client.post("/label-studio/predict", json=body), status, code, field)


def test_bad_json_and_long_text(client):
    error(client.post("/label-studio/predict", content=b"{tasks", headers={"content-type": "application/json"}),
          400, "bad_json", "body")
    body = predict_body(["word " * 2500])
    error(client.post("/label-studio/predict", json=body), 422, "invalid", "tasks[0].data.text")


@pytest.mark.parametrize("body, status, field", [
    ({"project": {"id": 7, "label_config": LABEL_CONFIG}}, 422, "action"),
    ({"action": "START_TRAINING"}, 422, "project"),
    ({"action": "START_TRAINING", "project": {"label_config": LABEL_CONFIG}}, 422, "project.id"),
    ({"action": "START_TRAINING", "project": {"id": "x", "label_config": LABEL_CONFIG}}, 422, "project.id"),
    ({"action": "START_TRAINING", "project": {"id": 7, "label_config": "<oops"}}, 422, "project.label_config"),
    ({"action": "START_TRAINING", "project": {"id": 8, "label_config": LABEL_CONFIG}}, 404, "project.id"),
])
def test_malformed_webhooks_never_train(client, fake_ls, body, status, field):
    before = fake_ls.exports
    r = client.post("/label-studio/webhook", json=body)
    error(r, status, "unknown_project" if status == 404 else "invalid", field)
    assert fake_ls.exports == before


def test_other_events_are_acknowledged(client):
    r = client.post("/label-studio/webhook", json={"action": "PROJECT_UPDATED", "project": {"id": 7}})
    assert r.status_code == 200 and r.json() == {"status": "Unknown event"}
    r = client.post("/label-studio/webhook", json={"action": "ANNOTATION_CREATED", "annotation": {"id": 1},
                                                   "task": {"id": 1}, "project": {"id": 7,
                                                                                  "label_config": LABEL_CONFIG}})
    assert r.status_code == 201 and r.json() == {"status": "ok", "result": {"training": False}}


def test_allowed_projects_and_basic_auth(model_dir, extractor, tmp_path):
    app = make_backend_app(model_dir, extractor, tmp_path / "v", projects=[3], basic_auth="ls:secret")
    with TestClient(app) as c:
        error(c.get("/label-studio/health"), 401, "unauthorized")
        error(c.get("/label-studio/health", headers={"Authorization": "Basic bm9wZTpub3Bl"}), 401, "unauthorized")
        auth = {"Authorization": "Basic " + base64.b64encode(b"ls:secret").decode()}
        assert c.get("/label-studio/health", headers=auth).status_code == 200
        error(c.post("/label-studio/predict", json=predict_body(TEXTS), headers=auth), 404, "unknown_project",
              "project")
        assert c.post("/label-studio/predict", json=predict_body(TEXTS, project="3.17"), headers=auth).status_code \
            == 200
        # no URL or token configured: training cannot start, and says why
        r = c.post("/label-studio/webhook", json={"action": "START_TRAINING",
                                                  "project": {"id": 3, "label_config": LABEL_CONFIG}}, headers=auth)
        error(r, 503, "not_configured")
        assert c.get("/healthz").status_code == 200  # the server's own endpoints keep their rules


def test_workers_must_be_one(model_dir, tmp_path):
    from spert.errors import ConfigError

    with pytest.raises(ConfigError, match="--workers 1"):
        create_app(ServeSettings(model=model_dir, workers=2,
                                 label_studio=LabelStudioSettings(versions_dir=tmp_path)))


# -- versions ------------------------------------------------------------------------------


def test_version_store(tmp_path, model_dir):
    store = VersionStore(tmp_path / "versions", model_dir)
    assert store.names() == [BASE] and store.serving() == BASE and store.path(BASE) == model_dir
    for expected in ("v0001", "v0002"):
        candidate = tmp_path / f"c{expected}"
        candidate.mkdir()
        assert store.add(candidate, {"accepted": True}) == expected
    store.promote("v0002")
    assert store.serving() == "v0002"
    store.pin("v0001")
    assert store.serving() == "v0001" and store.latest() == "v0002"
    store.pin(None)
    assert store.serving() == "v0002"
    with pytest.raises(UnknownVersion):
        store.pin("v0009")
    with pytest.raises(UnknownVersion):
        store.path("../etc")
    assert [v["name"] for v in store.listing()] == [BASE, "v0001", "v0002"]


# -- a training round ----------------------------------------------------------------------


def wait_for_round(client, project: int = 7, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/label-studio/training?project={project}").json()
        if status.get("finished"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"training did not finish within {timeout} s: {status}")


def test_training_round_switches_to_a_new_version(client, fake_ls, model_dir):
    start = {"action": "START_TRAINING", "project": {"id": 7, "title": "CoNLL04", "label_config": LABEL_CONFIG}}
    r = client.post("/label-studio/webhook", json=start)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "ok" and r.json()["result"]["stage"] == "fetching"
    error(client.post("/label-studio/webhook", json=start), 409, "training")  # one round per project at a time
    assert client.post("/label-studio/predict", json=predict_body(TEXTS)).status_code == 200  # still serving
    status = wait_for_round(client)
    assert status["stage"] == "accepted", status
    assert status["import_summary"]["documents"] == len(fake_ls.tasks)
    assert status["train_records"] + status["held_out_records"] == status["import_summary"]["records"]
    assert status["score"]["metric"] == "rel_plus" and status["version"] == "v0001"
    assert status["score"]["candidate"] >= status["score"]["serving"]
    # the same types: the round went on from the whole serving model, encoder and heads
    run_config = json.loads((Path(status["job_dir"]) / "run" / "config.json").read_text())
    assert run_config["init_model"] == str(model_dir)
    # the web page's view of it: the serving version and the round, without file paths
    page = client.get("/ui/training").json()
    assert page["serving"] == "spert-v0001" and page["pinned"] is None
    [shown] = page["rounds"]
    assert shown["stage"] == "accepted" and shown["version"] == "v0001" and shown["score"] == status["score"]
    assert "job_dir" not in shown and shown["train_records"] == status["train_records"]
    assert 'id="training"' in client.get("/").text
    assert client.get("/label-studio/health").json()["model_version"] == "spert-v0001"
    r = client.post("/label-studio/predict", json=predict_body(TEXTS))
    assert {p["model_version"] for p in r.json()["results"]} == {"spert-v0001"}
    versions = client.get("/label-studio/versions").json()
    assert versions["serving"] == "v0001" and [v["name"] for v in versions["versions"]] == [BASE, "v0001"]
    assert versions["versions"][1]["metrics"]["rel_plus"] and versions["versions"][1]["parent"] == BASE
    # pinning the base model serves it again, unpinning the latest accepted one
    assert client.post("/label-studio/versions/pin", json={"version": BASE}).json() == {"serving": BASE,
                                                                                          "pinned": BASE}
    assert client.get("/label-studio/health").json()["model_version"] == "spert-base"
    error(client.post("/label-studio/versions/pin", json={"version": "v0042"}), 404, "unknown_version", "version")
    assert client.post("/label-studio/versions/pin", json={"version": None}).json()["serving"] == "v0001"
    assert client.get("/v1/model").json()["entity_types"] == list(CONLL04_TYPES["entities"])
