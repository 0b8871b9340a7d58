"""Label Studio's ML backend protocol through ASGI: the requests Label Studio sends, and malformed ones."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from label_studio_fixtures import LABEL_CONFIG, TEXTS, make_backend_app, predict_body
from serve_errors import error
from spert.integrations.label_studio.mount import create_app
from spert.serve.settings import LabelStudioSettings, ServeSettings


def test_health_and_setup(client):
    assert client.get("/label-studio/health").json() == {"status": "UP", "model_class": "SpERT",
                                                         "model_version": "spert-base"}
    assert client.get("/label-studio/").json()["status"] == "UP"
    r = client.post("/label-studio/setup", json={"project": "7.1700000000", "schema": LABEL_CONFIG,
                                                 "hostname": "http://localhost:8080", "access_token": "ignored",
                                                 "model_version": None, "extra_params": {}})
    assert r.status_code == 200 and r.json()["model_version"] == "spert-base"
    assert r.json()["missing_types"] == [] and r.json()["left_out_types"] == []
    error(client.post("/label-studio/setup", json={"project": "7.1", "schema": "<oops"}), 422, "invalid", "schema")


def test_predictions_in_label_studio_format(client, extractor):
    r = client.post("/label-studio/predict", json=predict_body(TEXTS))
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == len(TEXTS) and r.json()["model_version"] == "spert-base"
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


def test_more_tasks_than_a_request_takes_are_predicted_in_parts(tiny_model_dir, extractor, tmp_path):
    settings = ServeSettings(model=tiny_model_dir, max_texts=2,
                             label_studio=LabelStudioSettings(versions_dir=tmp_path / "v"))
    with TestClient(create_app(settings, extractor)) as c:
        r = c.post("/label-studio/predict", json=predict_body(TEXTS))
        assert r.status_code == 200 and len(r.json()["results"]) == len(TEXTS)
        bad = predict_body(TEXTS + [TEXTS[0], "ok"])
        bad["tasks"][4]["data"]["text"] = 5
        error(c.post("/label-studio/predict", json=bad), 422, "invalid", "tasks[4].data.text")


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
    r = client.post("/label-studio/webhook", json=body)
    error(r, status, "unknown_project" if status == 404 else "invalid", field)
    assert fake_ls.exports == 0
    assert client.get("/label-studio/training?project=7").json() == {"project": 7, "stage": "never trained"}


def test_other_events_are_acknowledged(client):
    r = client.post("/label-studio/webhook", json={"action": "PROJECT_UPDATED", "project": {"id": 7}})
    assert r.status_code == 200 and r.json() == {"status": "Unknown event"}
    r = client.post("/label-studio/webhook", json={"action": "ANNOTATION_CREATED", "annotation": {"id": 1},
                                                   "task": {"id": 1}, "project": {"id": 7,
                                                                                  "label_config": LABEL_CONFIG}})
    assert r.status_code == 201 and r.json() == {"status": "ok", "result": {"training": False}}


def test_pin_needs_a_known_version(client):
    error(client.post("/label-studio/versions/pin", json={"version": "v0042"}), 404, "unknown_version", "version")
    error(client.post("/label-studio/versions/pin", json={"version": None, "x": 1}), 422, "invalid", "x")
    assert client.post("/label-studio/versions/pin", json={"version": "base"}).json() == {"serving": "base",
                                                                                            "pinned": "base"}
    assert client.get("/label-studio/versions").json()["serving"] == "base"


def test_allowed_projects_and_basic_auth(tiny_model_dir, extractor, tmp_path):
    app = make_backend_app(tiny_model_dir, extractor, tmp_path / "v", projects=[3], basic_auth="ls:secret")
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
