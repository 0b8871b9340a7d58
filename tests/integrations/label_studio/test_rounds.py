"""A training round against the fake Label Studio, on the tiny model for one epoch: it fetches, trains
in a child process, compares, and the new version serves."""

from __future__ import annotations

import json
import time
from pathlib import Path

from label_studio_fixtures import CONLL04_TYPES, LABEL_CONFIG, TEXTS, predict_body
from serve_errors import error
from spert.integrations.label_studio.jobs import Progress
from spert.integrations.label_studio.rounds import Round, Trainer
from spert.integrations.label_studio.versions import BASE, VersionStore


def wait_for_round(client, project: int = 7, timeout: float = 300) -> dict:  # a loaded machine is slow
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/label-studio/training?project={project}").json()
        if status.get("finished"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"training did not finish within {timeout} s: {status}")


def test_training_round_switches_to_a_new_version(client, fake_ls, tiny_model_dir):
    start = {"action": "START_TRAINING", "project": {"id": 7, "title": "CoNLL04", "label_config": LABEL_CONFIG}}
    r = client.post("/label-studio/webhook", json=start)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "ok" and r.json()["result"]["stage"] == "fetching"
    assert list(r.json()["result"]) == ["project", "round", "reason", "text_key", "stage", "started", "finished"]
    error(client.post("/label-studio/webhook", json=start), 409, "training")  # one round per project at a time
    assert client.post("/label-studio/predict", json=predict_body(TEXTS)).status_code == 200  # still serving
    status = wait_for_round(client)
    assert status["stage"] == "accepted", status
    assert list(status) == ["project", "round", "reason", "text_key", "stage", "started", "finished", "job_dir",
                            "started_from", "import_summary", "import_report", "train_records", "held_out_records",
                            "seconds", "candidate", "current", "score", "version", "accepted"]
    assert status["import_summary"]["documents"] == len(fake_ls.tasks) and status["started_from"] == BASE
    assert status["train_records"] + status["held_out_records"] == status["import_summary"]["records"]
    assert status["score"]["metric"] == "rel_plus" and status["version"] == "v0001"
    assert status["score"]["candidate"] >= status["score"]["serving"]
    assert client.get("/label-studio/metrics").json() == {"7": status}
    # the same types: the round went on from the whole serving model, encoder and heads
    run_config = json.loads((Path(status["job_dir"]) / "run" / "config.json").read_text())
    assert run_config["init_model"] == str(tiny_model_dir)
    # the web page's view of it: the serving version and the round, without file paths
    page = client.get("/ui/training").json()
    assert page["serving"] == "spert-v0001" and page["pinned"] is None
    [shown] = page["rounds"]
    assert shown == {k: v for k, v in status.items() if k not in ("job_dir", "text_key", "candidate", "current")}
    assert 'id="training"' in client.get("/").text
    assert client.get("/label-studio/health").json()["model_version"] == "spert-v0001"
    r = client.post("/label-studio/predict", json=predict_body(TEXTS))
    assert {p["model_version"] for p in r.json()["results"]} == {"spert-v0001"}
    versions = client.get("/label-studio/versions").json()
    assert versions["serving"] == "v0001" and [v["name"] for v in versions["versions"]] == [BASE, "v0001"]
    assert versions["versions"][1]["metrics"]["rel_plus"] and versions["versions"][1]["parent"] == BASE
    assert versions["versions"][1]["score"] == status["score"]
    # pinning the base model serves it again, unpinning the latest accepted one
    assert client.post("/label-studio/versions/pin", json={"version": BASE}).json() == {"serving": BASE,
                                                                                          "pinned": BASE}
    assert client.get("/label-studio/health").json()["model_version"] == "spert-base"
    error(client.post("/label-studio/versions/pin", json={"version": "v0042"}), 404, "unknown_version", "version")
    assert client.post("/label-studio/versions/pin", json={"version": None}).json()["serving"] == "v0001"
    assert client.get("/v1/model").json()["entity_types"] == list(CONLL04_TYPES["entities"])


def test_a_round_that_cannot_train_fails_and_says_why(client, fake_ls):
    fake_ls.tasks = fake_ls.tasks[:1]  # one annotated sentence: nothing to score on
    r = client.post("/label-studio/webhook", json={"action": "START_TRAINING",
                                                   "project": {"id": 7, "label_config": LABEL_CONFIG}})
    assert r.status_code == 201, r.text
    status = wait_for_round(client)
    assert status["stage"] == "failed" and "training needs at least 2" in status["error"], status
    assert list(status)[-3:] == ["job_dir", "started_from", "error"]
    assert client.get("/label-studio/health").json()["model_version"] == "spert-base"


def test_a_running_round_shows_its_progress(tmp_path):
    trainer = Trainer(VersionStore(tmp_path / "versions", tmp_path), make_job=None, source=None, on_switch=None)
    trainer.rounds[7] = Round(project=7, name="p7-1", reason="START_TRAINING", text_key="text", started=1.0,
                              stage="training", job_dir=str(tmp_path), started_from=BASE)
    assert "progress" not in trainer.status(7)
    Progress("training", 1, 3).write(tmp_path)
    status = trainer.status(7)
    assert list(status)[-1] == "progress" and status["progress"]["epoch"] == 1
    page = trainer.status(7, private=False)
    assert "progress" in page and "job_dir" not in page and "text_key" not in page
    trainer.rounds[7].finished = 2.0
    assert "progress" not in trainer.status(7)
    assert trainer.status(8) == {"project": 8, "stage": "never trained"}


def test_a_killed_training_process_fails_its_round_and_the_next_round_trains(client, fake_ls):
    """Fault injection (issue 26): the round's training process killed with SIGKILL mid-training."""
    import signal

    start = {"action": "START_TRAINING", "project": {"id": 7, "label_config": LABEL_CONFIG}}
    assert client.post("/label-studio/webhook", json=start).status_code == 201
    trainer = client.app.state.label_studio.trainer
    deadline = time.monotonic() + 120
    while 7 not in trainer.processes and time.monotonic() < deadline:
        time.sleep(0.05)
    trainer.processes[7].send_signal(signal.SIGKILL)
    status = wait_for_round(client)
    assert status["stage"] == "failed" and f"status {-signal.SIGKILL}" in status["error"], status
    assert client.get("/label-studio/health").json()["model_version"] == "spert-base"  # serving as before
    assert client.post("/label-studio/predict", json=predict_body(TEXTS)).status_code == 200
    assert client.post("/label-studio/webhook", json=start).status_code == 201  # the next round starts afresh
    assert wait_for_round(client)["stage"] == "accepted"


def test_a_labelling_config_that_changes_between_rounds(client, fake_ls):
    """The project's labelling config loses a type between rounds: the next round trains on the model's
    own types (a round goes on from the serving model, encoder and heads), so the new version serves
    the same types; predictions leave out the type the project lacks (test_endpoints)."""
    first = {"action": "START_TRAINING", "project": {"id": 7, "label_config": LABEL_CONFIG}}
    assert client.post("/label-studio/webhook", json=first).status_code == 201
    assert wait_for_round(client)["stage"] == "accepted"
    fewer = LABEL_CONFIG.replace('<Label value="Org"/>', "")
    r = client.post("/label-studio/webhook", json={"action": "START_TRAINING",
                                                   "project": {"id": 7, "label_config": fewer}})
    assert r.status_code == 201, r.text
    status = wait_for_round(client)
    assert status["stage"] == "accepted" and status["version"] == "v0002", status
    assert client.get("/label-studio/health").json()["model_version"] == "spert-v0002"
    assert client.get("/v1/model").json()["entity_types"] == list(CONLL04_TYPES["entities"])


def test_a_full_disk_in_a_round_fails_it_with_the_path_and_the_serving_model_stays(client, fake_ls, monkeypatch):
    """Fault injection (issue 26): the round's training process finds the disk full while it writes the
    candidate model (ENOSPC injected there by tests/faults/kill_at.py)."""
    import asyncio

    from fault_fixtures import ENV, KILL_AT
    import spert.integrations.label_studio.rounds as rounds

    real = asyncio.create_subprocess_exec

    def failing(python, flag, module, *args, **kw):  # the same process, its model write failing
        return real(python, str(KILL_AT), "spert.model.checkpoint:save_file", "1", "--enospc", "--module", module,
                    "--", *args, env=ENV, **kw)

    monkeypatch.setattr(rounds.asyncio, "create_subprocess_exec", failing)
    start = {"action": "START_TRAINING", "project": {"id": 7, "label_config": LABEL_CONFIG}}
    assert client.post("/label-studio/webhook", json=start).status_code == 201
    status = wait_for_round(client)
    assert status["stage"] == "failed" and "cannot write it: No space left on device" in status["error"], status
    assert client.get("/label-studio/versions").json()["serving"] == BASE
    assert client.post("/label-studio/predict", json=predict_body(TEXTS)).status_code == 200
