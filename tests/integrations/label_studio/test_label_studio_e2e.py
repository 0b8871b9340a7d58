"""The Label Studio ML backend against a real Label Studio server (slow; not in CI).

Set ``SPERT_LABEL_STUDIO_BIN`` to a ``label-studio`` executable (installed in a virtual
environment of its own: ``python -m venv V && V/bin/pip install label-studio
label-studio-sdk``); the test takes ``label-studio-sdk`` from that environment too (after
this one's packages, so nothing here is replaced), and skips when the variable is unset.

It starts Label Studio on loopback with SQLite in a temporary directory (a user and a
legacy token from ``label-studio start``'s flags, which 1.23 must be told to accept;
``ML_BLOCK_LOCAL_IP=false`` and ``SSRF_PROTECTION_ENABLED=false``, since the backend is on
loopback too), creates a project with an entity-and-relation labelling
config through the SDK, imports CoNLL04 sentences as tasks, starts ``spert serve --model
TINY --label-studio`` on another loopback port and connects it as the project's model,
has Label Studio retrieve predictions (its Data Manager action) and checks them on the
tasks (offsets, labels, relations, scores, model version: exactly what the backend
serves), submits the sentences' CoNLL04 gold as annotations, presses "Start Training"
(``POST /api/ml/ID/train``, which Label Studio turns into a ``START_TRAINING`` webhook),
and checks that the new version serves, in the backend and in Label Studio's next
predictions. A second test opens a task in Label Studio's labelling page in Chromium
(Playwright; ``SPERT_CHROMIUM``, default ``/usr/bin/chromium``) and finds the
pre-annotated regions and relations there; its screenshot goes to
``$SPERT_E2E_SCREENSHOT`` when set.
"""

from __future__ import annotations

import json
import os
from collections import Counter
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from label_studio_fixtures import LABEL_CONFIG, annotated_task
from paths import CONLL04

pytestmark = pytest.mark.slow

LS_BIN_ENV = "SPERT_LABEL_STUDIO_BIN"
USER, PASSWORD, TOKEN = "e2e@example.com", "e2e-pass-1234", "5e2e" * 10
N_TASKS = 20
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
# enough for the tiny model to stop predicting every span (whose pairs make prediction crawl)
TRAIN_SETTINGS = "epochs: 4\nlr: 0.001\nbatch_size: 4\neval_batch_size: 8\n"


def _words(text: str) -> str:
    return " ".join(text.split())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _site_packages(ls_bin: Path) -> str:
    """The site-packages of Label Studio's environment (where its SDK is)."""
    python = ls_bin.parent / "python"
    out = subprocess.run([str(python), "-c", "import label_studio_sdk, os; "
                          "print(os.path.dirname(os.path.dirname(label_studio_sdk.__file__)))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: the server ended ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def servers(tmp_path_factory, tiny_model_dir):
    """Label Studio and ``spert serve --label-studio`` on loopback, and an SDK client of Label Studio."""
    ls_bin = os.environ.get(LS_BIN_ENV)
    if not ls_bin:
        pytest.skip(f"no Label Studio: set {LS_BIN_ENV} to a label-studio executable "
                    "(pip install label-studio label-studio-sdk in a virtual environment of its own)")
    ls_bin = Path(ls_bin)
    site = _site_packages(ls_bin)
    sys.path.append(site)  # after this environment's packages: only what is missing comes from there
    from label_studio_sdk import LabelStudio

    root = tmp_path_factory.mktemp("label_studio_e2e")
    ls_port, spert_port = _free_port(), _free_port()
    ls_url, backend_url = f"http://127.0.0.1:{ls_port}", f"http://127.0.0.1:{spert_port}"
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(root / "ls"), "SSRF_PROTECTION_ENABLED": "false",
           "ML_BLOCK_LOCAL_IP": "false", "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true", "DJANGO_DB": "sqlite"}
    t0 = time.monotonic()
    ls = _start([str(ls_bin), "start", "--no-browser", "--internal-host", "127.0.0.1", "-p", str(ls_port),
                 "--data-dir", str(root / "ls"), "--username", USER, "--password", PASSWORD,
                 "--user-token", TOKEN, "--enable-legacy-api-token", "--agree-fix-sqlite"], env,
                root / "label-studio.log")
    procs = [ls]
    try:
        (root / "train.yaml").write_text(TRAIN_SETTINGS)
        spert_env = {**os.environ, "LABEL_STUDIO_URL": ls_url, "LABEL_STUDIO_API_KEY": TOKEN}
        launcher = f"import sys; sys.path.append({site!r}); from spert.cli import main; sys.argv[0] = 'spert'; main()"
        procs.append(_start([sys.executable, "-c", launcher, "serve", "--model", str(tiny_model_dir),
                             "--label-studio", "--versions-dir", str(root / "versions"), "--host", "127.0.0.1",
                             "--port", str(spert_port), "--train-config", str(root / "train.yaml"),
                             "--no-access-log"], spert_env, root / "spert.log"))
        _wait_http(f"{backend_url}/label-studio/health", procs[1], root / "spert.log", 120)
        _wait_http(f"{ls_url}/health", ls, root / "label-studio.log", 600)
        print(f"servers up in {time.monotonic() - t0:.1f} s (Label Studio {ls_url}, spert {backend_url}, "
              f"logs in {root})")
        yield {"client": LabelStudio(base_url=ls_url, api_key=TOKEN), "ls_url": ls_url, "backend": backend_url,
               "root": root}
    finally:
        for p in reversed(procs):
            _stop(p)


@pytest.fixture(scope="module")
def project(servers):
    """A project with the CoNLL04 entity-and-relation config, sentences as tasks, the backend connected,
    and Label Studio's predictions retrieved."""
    client = servers["client"]
    records = json.loads((CONLL04 / "conll04_dev.json").read_text())[:N_TASKS]
    gold = [annotated_task(i + 1, r) for i, r in enumerate(records)]
    p = client.projects.create(title="spert e2e", label_config=LABEL_CONFIG)
    client.projects.import_tasks(p.id, request=[{"data": t["data"]} for t in gold])
    tasks = sorted(client.tasks.list(project=p.id), key=lambda t: t.id)
    assert [t.data["text"] for t in tasks] == [t["data"]["text"] for t in gold]
    ml = client.ml.create(project=p.id, url=servers["backend"] + "/label-studio", title="spert",
                          is_interactive=False, auto_update=True)
    t0 = time.monotonic()
    client.actions.create(id="retrieve_tasks_predictions", project=p.id, selected_items={"all": True,
                                                                                           "excluded": []})
    servers["predict_seconds"] = time.monotonic() - t0
    return {"id": p.id, "ml": ml.id, "tasks": tasks, "gold": gold, "config": LABEL_CONFIG}


def _predictions(client, project_id: int) -> dict[int, list]:
    by_task: dict[int, list] = {}
    for p in client.predictions.list(project=project_id):
        by_task.setdefault(p.task, []).append(p)
    return by_task


def _served(backend: str, project: dict, tasks: list) -> list[dict]:
    body = {"tasks": [{"id": t.id, "data": t.data} for t in tasks], "project": str(project["id"]),
            "label_config": project["config"]}
    r = httpx.post(f"{backend}/label-studio/predict", json=body, timeout=120)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def _check_prediction(text: str, stored, served: dict, types: dict) -> tuple[int, int]:
    """Label Studio stored exactly what the backend serves, with offsets into the task's text."""
    assert stored.model_version == served["model_version"]
    assert stored.result == served["result"] and stored.score == pytest.approx(served["score"])
    regions = {x["id"]: x for x in stored.result if x["type"] == "labels"}
    relations = [x for x in stored.result if x["type"] == "relation"]
    for x in regions.values():
        v = x["value"]
        assert (x["from_name"], x["to_name"]) == ("label", "text")
        assert text[v["start"]:v["end"]] == v["text"] and v["labels"][0] in types["entities"]
    for x in relations:
        assert x["from_id"] in regions and x["to_id"] in regions and x["labels"][0] in types["relations"]
    return len(regions), len(relations)


def test_labelling_page_shows_the_preannotations(servers, project):
    """Chromium opens a task in Label Studio's labelling page: the model's regions and relations are there."""
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("SPERT_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        pytest.skip(f"no Chromium at {chromium} (apt-get install chromium, or set SPERT_CHROMIUM)")
    stored = _predictions(servers["client"], project["id"])
    task = next(t for t in project["tasks"] if t.id in stored and
                sum(x["type"] == "relation" for x in stored[t.id][0].result))
    result = stored[task.id][0].result
    regions = [x["value"] for x in result if x["type"] == "labels"]
    n_relations = sum(x["type"] == "relation" for x in result)
    shot = os.environ.get("SPERT_E2E_SCREENSHOT") or str(servers["root"] / "labelling.png")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{servers['ls_url']}/user/login/")
            page.fill("input[name=email]", USER)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            page.wait_for_timeout(2000)
            assert "/user/login" not in page.url, "Label Studio refused the login"
            page.goto(f"{servers['ls_url']}/projects/{project['id']}/data?task={task.id}")
            page.wait_for_selector(".htx-highlight", timeout=90_000)
            page.wait_for_timeout(2000)
            page.screenshot(path=shot)
            regions_panel = _words(page.inner_text("body"))
            page.locator('text="Relations" >> visible=true').first.click()  # the side panel's other tab
            page.wait_for_timeout(1000)
            page.screenshot(path=shot.replace(".png", "-relations.png"))
            relations_panel = page.inner_text("body")
        finally:
            browser.close()
    for v in regions:  # every region in the Regions list (overlapping highlights split the text itself)
        assert _words(v["text"]) in regions_panel, (v, regions_panel[-2000:])
    assert f"Relations ({n_relations})" in _words(relations_panel), relations_panel[-2000:]  # the tab's count
    for label, n in Counter(x["labels"][0] for x in result if x["type"] == "relation").items():
        assert relations_panel.count(label) >= n, (label, relations_panel[-2000:])  # listed and drawn
    assert stored[task.id][0].model_version in relations_panel  # the prediction's tab, named by the model version
    print(f"labelling page of task {task.id}: {len(regions)} regions, {n_relations} relations; screenshot {shot}")


def test_predict_annotate_train_serve(servers, project):
    client, backend = servers["client"], servers["backend"]
    types = json.loads((CONLL04 / "conll04_types.json").read_text())
    stored = _predictions(client, project["id"])
    assert sorted(stored) == [t.id for t in project["tasks"]]  # one prediction per task
    served = _served(backend, project, project["tasks"])
    counts = [_check_prediction(t.data["text"], stored[t.id][0], s, types)
              for t, s in zip(project["tasks"], served)]
    assert sum(c[0] for c in counts) and sum(c[1] for c in counts)  # entities and relations, not nothing
    assert {s["model_version"] for s in served} == {"spert-base"}
    print(f"{len(stored)} tasks predicted in {servers['predict_seconds']:.2f} s through Label Studio; "
          f"{sum(c[0] for c in counts)} entities, {sum(c[1] for c in counts)} relations")

    for task, gold in zip(project["tasks"], project["gold"]):  # the simulated annotator submits the gold
        client.annotations.create(id=task.id, result=gold["annotations"][0]["result"], was_cancelled=False)
    assert sum(1 for _ in client.tasks.list(project=project["id"], only_annotated=True)) == N_TASKS

    t0 = time.monotonic()
    client.ml.train(id=project["ml"])  # the model's "Start Training": a START_TRAINING webhook to the backend
    status = _wait_for_round(backend, project["id"], 600)
    seconds = time.monotonic() - t0
    assert status["stage"] == "accepted", status
    assert status["reason"] == "START_TRAINING" and status["import_summary"]["documents"] == N_TASKS
    assert status["train_records"] + status["held_out_records"] == status["import_summary"]["records"]
    assert status["version"] == "v0001"
    print(f"training round: {seconds:.1f} s ({status['train_records']} records trained, "
          f"{status['held_out_records']} held out, score {status['score']})")
    assert httpx.get(f"{backend}/label-studio/health").json()["model_version"] == "spert-v0001"

    # Label Studio asks again: the tasks get the new version's predictions beside the old ones
    client.actions.create(id="retrieve_tasks_predictions", project=project["id"],
                          selected_items={"all": True, "excluded": []})
    stored = _predictions(client, project["id"])
    served = _served(backend, project, project["tasks"])
    for t, s in zip(project["tasks"], served):
        assert sorted(p.model_version for p in stored[t.id]) == ["spert-base", "spert-v0001"]
        _check_prediction(t.data["text"], next(p for p in stored[t.id] if p.model_version == "spert-v0001"), s,
                          types)
    ml = client.ml.get(id=project["ml"])
    assert ml.model_version == "spert-v0001"  # Label Studio's /setup call found the new version


def _wait_for_round(backend: str, project_id: int, timeout: float) -> dict:
    deadline, status = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        status = httpx.get(f"{backend}/label-studio/training", params={"project": project_id}).json()
        if status.get("finished"):
            return status
        time.sleep(1)
    raise AssertionError(f"no training round finished within {timeout} s: {status}")
