"""A real server: ``spert serve`` in its own process on a loopback port, Debian's Chromium driven by
Playwright against the web page, and a graceful shutdown with a request in flight."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from server_process import post, start_server, stop

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
SENTENCE = "John Smith works for Acme Corp. in New York. He was born in London in 1970!"
MAX_CHARS = 5000


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    s = start_server(model_dir, tmp_path_factory.mktemp("serve") / "server.log", "--max-chars", str(MAX_CHARS))
    yield s
    stop(s)


def test_page_in_chromium(server, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright

    _, expected = post(server.url + "v1/extract", {"text": SENTENCE})
    [doc] = expected["documents"]
    assert doc["entities"] and doc["relations"], "the tiny model finds entities and relations in the sentence"
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=str(CHROMIUM),
                                                       args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(server.url)
            page.locator("#text").press_sequentially(SENTENCE)  # typed, key by key
            page.keyboard.press("Control+Enter")  # submits from the keyboard
            page.wait_for_selector("#result mark.entity")

            marks = page.locator("#result mark.entity")
            crossing = page.locator("#result .crossing .chip")  # overlapping entities are listed, not nested
            assert marks.count() + crossing.count() == len(doc["entities"])
            titles = marks.evaluate_all("ms => ms.map(m => m.title)")
            assert all(t.split()[0] in {e["type"] for e in doc["entities"]} for t in titles)
            assert all(len(t.split()) == 2 and 0 <= float(t.split()[1]) <= 1 for t in titles), "score on hover"
            relations = page.locator("#result .relation")
            assert relations.count() == len(doc["relations"])
            assert doc["relations"][0]["type"] in relations.first.inner_text()
            assert page.locator("#status").inner_text().startswith(f"{len(doc['entities'])} entit")

            # the threshold control re-runs the extraction: at 1.00 no relation is left
            page.locator("#threshold").fill("1")
            page.wait_for_selector("#result .no-relations")
            assert page.locator("#threshold-value").inner_text() == "1.00"

            # an oversize text: the server's message, shown on the page
            page.locator("#text").fill("x" * (MAX_CHARS + 1))
            assert "over" in page.locator("#text-help").get_attribute("class")
            page.locator("#submit").click()
            error = page.locator("#error")
            error.wait_for(state="visible")
            assert f"{MAX_CHARS + 1} characters; at most {MAX_CHARS}" in error.inner_text()
            assert page.locator("#result").inner_html() == ""

            # keyboard: Tab reaches the button from the text box
            page.locator("#text").focus()
            for _ in range(6):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement.id") == "submit":
                    break
            assert page.evaluate("document.activeElement.id") == "submit"

            assert all(u.startswith(server.url) for u in requests), "the page loads nothing from elsewhere"
        finally:
            browser.close()


def training_overview(stage: str, finished: float | None, **more) -> dict:
    """``GET /ui/training`` as the backend answers it (keys of ``LabelStudioBackend.overview``)."""
    return {"serving": "spert-base", "pinned": None,
            "rounds": [{"project": 7, "round": "p7-1", "reason": "START_TRAINING", "stage": stage,
                        "started": 1.0, "finished": finished, "started_from": "base", **more}]}


def test_training_rounds_on_the_page_in_chromium(model_dir, tmp_path):
    """With --label-studio the page shows each project's round while it runs and what it gave; the round's
    JSON is the backend's (its ASGI test checks that), served here through the browser's request routing."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright

    server = start_server(model_dir, tmp_path / "server.log", "--label-studio", "--versions-dir",
                          str(tmp_path / "versions"))
    answers = [training_overview("training", None, progress={"stage": "training", "epoch": 1, "epochs": 2}),
               training_overview("accepted", 9.0, version="v0001", accepted=True, seconds=61.4, train_records=82,
                                 held_out_records=20, score={"candidate": 23.75, "serving": 3.9, "metric": "rel_plus"})]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=str(CHROMIUM),
                                                           args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page()
                page.goto(server.url)
                rounds = page.locator("#training-rounds li")
                page.locator("#training-serving", has_text="Serving").wait_for()  # no eval: the page's CSP forbids it
                assert page.locator("#training-serving").inner_text() == "Serving spert-base"  # the real endpoint
                assert rounds.inner_text() == "No training round yet."
                served: list[int] = []

                def fulfil(route):
                    served.append(1)
                    route.fulfill(json=answers[min(len(served) - 1, 1)])

                page.route("**/ui/training", fulfil)
                page.reload()
                page.wait_for_selector("#training-rounds li.running")
                assert rounds.inner_text() == "Project 7: training \u00b7 epoch 1 of 2"
                page.wait_for_selector("#training-rounds li.accepted", timeout=10_000)  # polled again within 2 s
                assert rounds.inner_text() == ("Project 7: accepted \u00b7 v0001 \u00b7 REL+ F1 23.8 (serving model "
                                               "3.9) on 20 held-out sentences, 82 trained on \u00b7 61 s")
            finally:
                browser.close()
    finally:
        stop(server)


def test_bad_model_directory_is_one_line_and_status_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "spert", "serve", "--model", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and "not a model directory" in out.stderr


def test_shutdown_lets_the_request_in_flight_finish(model_dir, tmp_path):
    # a server of its own: stopping the module's would leave the tests after it without one
    server = start_server(model_dir, tmp_path / "server.log", "--max-chars", str(MAX_CHARS))
    texts = [" ".join([SENTENCE] * 30)] * 64  # a few seconds of work for the tiny model
    answer: dict = {}

    def client():
        answer["status"], answer["body"] = post(server.url + "v1/extract", {"texts": texts})
        answer["at"] = time.monotonic()

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(1.0)  # the request is being worked on
    signalled = time.monotonic()
    clean = stop(server)
    thread.join(timeout=60)
    assert clean
    assert answer["at"] > signalled, "the request ended before the shutdown began; make it larger"
    assert answer["status"] == 200 and len(answer["body"]["documents"]) == 64
    log = server.log.read_text()
    assert log.index("Shutting down") < log.rindex('"POST /v1/extract HTTP/1.1" 200') < log.index("shutdown complete")
