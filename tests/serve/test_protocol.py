"""Property-based fuzzing of request bodies (Hypothesis): whatever a client sends, never a 5xx.

Arbitrary JSON, wrong types, empty and oversize values, control characters, lone
surrogates, malformed bytes, records with given entities of every shape. Every answer
must be a 200 with well-formed records or a 4xx whose JSON body names the problem, and
the server must stay ready. ``SPERT_FUZZ_EXAMPLES`` sets the examples per test (CI:
the default below); ``SPERT_FUZZ_REPORT=FILE`` writes how many requests were sent and
which distinct error paths (status, code, field) they reached. Each test counts its own
requests and asserts on them, so any one runs alone or in any order.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spert.serve.protocol import ErrorBody

EXAMPLES = int(os.environ.get("SPERT_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not os.environ.get(
    "SPERT_FUZZ_RANDOM"), suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                 HealthCheck.filter_too_much])
MAX_CHARS, MAX_TEXTS, MAX_BODY, MAX_ENTITIES = 200, 6, 6000, 4
CODES = set(ErrorBody.model_fields["error"].description.split(": ")[1].split(", "))


@pytest.fixture(scope="module")
def client(make_app):
    app = make_app(max_chars=MAX_CHARS, max_texts=MAX_TEXTS, max_body_bytes=MAX_BODY, max_entities=MAX_ENTITIES)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


# -- strategies ----------------------------------------------------------------------------

# every code point: control characters, lone surrogates (category Cs), right-to-left marks, ...
any_char = st.characters(codec=None, exclude_categories=())
words = st.sampled_from(["John", "Smith", "lives", "in", "New", "York", ".", ",", "Acme", "Corp.", "", " ", "\t",
                         "\x00", "\u200b", "\u202e", "\ud800", "é", "日本", "😀", "a" * 40])
texts = st.one_of(
    st.lists(words, max_size=12).map(" ".join),
    st.text(any_char, max_size=40),
    st.sampled_from(["", " ", "\n\n", "x" * (MAX_CHARS + 1), "Ada went. " * 25, "a\ud800b", "\udfff"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                    st.floats(allow_nan=False), texts)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.one_of(texts, st.sampled_from(["text", "tokens", "type"])), inner,
                                             max_size=4), max_leaves=12)
small_ints = st.integers(min_value=-2, max_value=45)
entity = st.one_of(
    st.fixed_dictionaries({}, optional={"type": st.one_of(st.sampled_from(["Peop", "Loc", ""]), json_values),
                                        "start": st.one_of(small_ints, json_values), "end": small_ints,
                                        "char_start": small_ints, "char_end": st.one_of(small_ints, json_values)}),
    json_values)
record = st.fixed_dictionaries({}, optional={
    "text": st.one_of(texts, json_values), "tokens": st.one_of(st.lists(words, max_size=10), json_values),
    "sentences": st.one_of(st.lists(st.lists(small_ints, min_size=2, max_size=2), max_size=3), json_values),
    "entities": st.one_of(st.lists(entity, max_size=MAX_ENTITIES + 1), json_values), "id": json_values})
document = st.one_of(texts, st.lists(words, max_size=10), record, json_values)
options = {"rel_filter_threshold": st.one_of(st.floats(min_value=-0.5, max_value=1.5), json_values),
           "no_overlap": st.one_of(st.booleans(), json_values), "extra": json_values}
extract_bodies = st.one_of(
    st.fixed_dictionaries({}, optional={"text": st.one_of(texts, json_values),
                                        "texts": st.one_of(st.lists(st.one_of(texts, json_values),
                                                                    max_size=MAX_TEXTS + 1), json_values),
                                        "tokens": st.one_of(st.lists(words, max_size=12), json_values),
                                        "documents": st.lists(document, max_size=MAX_TEXTS + 1),
                                        **options}),
    st.fixed_dictionaries({"texts": st.lists(texts, max_size=MAX_TEXTS)},  # mostly valid: reach the model
                          optional={"rel_filter_threshold": st.floats(0, 1), "no_overlap": st.booleans()}),
    st.fixed_dictionaries({"documents": st.lists(document, max_size=3)}),
    json_values)
relation_bodies = st.one_of(
    st.fixed_dictionaries({"documents": st.lists(record, max_size=3)}, optional=options),
    st.fixed_dictionaries({"documents": st.lists(st.fixed_dictionaries(
        {"tokens": st.lists(words, min_size=1, max_size=10), "entities": st.lists(st.fixed_dictionaries(
            {"type": st.sampled_from(["Peop", "Loc"]), "start": st.integers(0, 3), "end": st.integers(1, 5)}),
            max_size=3)}), max_size=3)}),
    json_values)
raw_bodies = st.one_of(st.binary(max_size=300),
                       extract_bodies.map(lambda b: json.dumps(b).encode()).flatmap(
                           lambda raw: st.integers(0, len(raw)).map(lambda n: raw[:n])),  # cut anywhere
                       st.just(b"[" * 3000), st.just(b'{"text": "' + b"a" * MAX_BODY + b'"}'),
                       st.just(b'{"text": "\xed\xa0\x80"}'), st.just(b'{"text": NaN}'))


# -- checking an answer -----------------------------------------------------------------------


class Seen:
    """The requests one test sent, per endpoint, and the answers they reached: (endpoint, status,
    error code, field with indices as [i])."""

    def __init__(self) -> None:
        self.sent: Counter = Counter()
        self.paths: Counter = Counter()

    def post(self, client, endpoint: str, content: bytes) -> None:
        self.check(endpoint, client.post(endpoint, content=content, headers={"Content-Type": "application/json"}))

    def check(self, endpoint: str, response) -> None:
        self.sent[endpoint] += 1
        assert response.status_code < 500, response.text
        body = response.json()
        if response.status_code == 200:
            self.paths[(endpoint, 200, "ok", None)] += 1
            for doc in body["documents"]:
                for e in doc["entities"]:
                    assert doc["text"][e["char_start"]:e["char_end"]] == e["text"]
                for r in doc["relations"]:
                    assert 0 <= r["head"] < len(doc["entities"]) and 0 <= r["tail"] < len(doc["entities"])
            return
        assert 400 <= response.status_code < 500 and body["status"] == response.status_code
        assert body["error"] in CODES and body["message"]
        if body["field"] is not None:
            assert f"'{body['field']}'" in body["message"]
        field = None if body["field"] is None else re.sub(r"\[\d+\]", "[i]", body["field"])
        self.paths[(endpoint, response.status_code, body["error"], field)] += 1

    def error_paths(self) -> set:
        return {p for p in self.paths if p[1] != 200}

    def ok_on(self, endpoint: str) -> bool:
        return (endpoint, 200, "ok", None) in self.paths


@pytest.fixture(scope="module")
def report(client):
    """What all fuzz tests of this module reached, written to ``SPERT_FUZZ_REPORT`` at its end (never asserted)."""
    total = Seen()
    yield total
    if os.environ.get("SPERT_FUZZ_REPORT"):
        errors = total.error_paths()
        out = {"requests": sum(total.sent.values()), "per_endpoint": dict(total.sent), "server_errors": 0,
               "distinct_error_paths": len(errors), "ok_paths": sum(1 for p in total.paths if p[1] == 200),
               "ready_after": client.get("/readyz").json() == {"status": "ready"},
               "paths": sorted([list(map(str, p)) + [n] for p, n in total.paths.items()])}
        with open(os.environ["SPERT_FUZZ_REPORT"], "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)


@pytest.fixture
def seen(report):
    """This test's own counts (added to the module's report when it ends)."""
    mine = Seen()
    yield mine
    report.sent.update(mine.sent)
    report.paths.update(mine.paths)


def assert_still_serving(client, extractor) -> None:
    """After whatever was sent: ready, and a plain request gets exactly what spert predict writes."""
    assert client.get("/readyz").json() == {"status": "ready"}
    r = client.post("/v1/extract", json={"text": "Ada lives in London."})
    assert r.json()["documents"] == json.loads(json.dumps([extractor.predict("Ada lives in London.")[0].to_json()]))


# -- the properties -----------------------------------------------------------------------------


def test_extract_answers_every_body_without_a_server_error(client, extractor, seen):
    @FUZZ
    @given(body=extract_bodies, endpoint=st.sampled_from(["/v1/extract", "/ui/extract"]))
    def fuzz(body, endpoint):
        seen.post(client, endpoint, json.dumps(body).encode())

    fuzz()
    assert sum(seen.sent.values()) >= EXAMPLES and seen.ok_on("/v1/extract") and seen.ok_on("/ui/extract")
    assert len(seen.error_paths()) >= 5, "the fuzzing reached few error paths"
    assert_still_serving(client, extractor)


def test_relations_answer_every_body_without_a_server_error(client, extractor, seen):
    @FUZZ
    @given(body=relation_bodies)
    def fuzz(body):
        seen.post(client, "/v1/relations", json.dumps(body).encode())

    fuzz()
    assert seen.sent["/v1/relations"] >= EXAMPLES and seen.ok_on("/v1/relations")
    assert len(seen.error_paths()) >= 4, "the fuzzing reached few error paths"
    assert_still_serving(client, extractor)


def test_any_bytes_get_a_client_error_or_results(client, extractor, seen):
    @FUZZ
    @given(raw=raw_bodies, endpoint=st.sampled_from(["/v1/extract", "/v1/relations"]))
    def fuzz(raw, endpoint):
        seen.post(client, endpoint, raw)

    fuzz()
    assert sum(seen.sent.values()) >= EXAMPLES
    assert len(seen.error_paths()) >= 3, "the fuzzing reached few error paths"
    assert_still_serving(client, extractor)
