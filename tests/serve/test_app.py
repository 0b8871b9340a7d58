"""The HTTP application through ASGI: every endpoint, every documented error, concurrency."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from serve_errors import error
from spert.serve.server import create_app
from spert.serve.settings import ServeSettings

TEXT = "John Smith works for Acme Corp. in New York. He was born in London in 1970!"
SENTENCES = ["Ada Lovelace was born in London.", "Acme Corp. is based in New York, where Jane Doe lives.",
             "Charles Babbage met her there.", "", "Paris is the capital of France and home to Marie Curie.",
             "  spaces   everywhere  ", "He said: \"Berlin\" twice, then left for Rome on 3 May."]


@pytest.fixture(scope="module")
def client(make_app):
    with TestClient(make_app(max_texts=8, max_chars=400, max_body_bytes=20_000, max_entities=5)) as c:
        yield c


def records(extractor, inputs, **kwargs):
    """What spert predict writes for these inputs (Prediction.to_json, through JSON)."""
    return json.loads(json.dumps([p.to_json() for p in extractor.predict(inputs, **kwargs)]))


def split_scores(obj, scores):
    """``obj`` without its scores (collected into ``scores``), to compare the rest exactly."""
    if isinstance(obj, dict):
        return {k: (scores.append(v), None)[1] if k == "score" else split_scores(v, scores) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [split_scores(v, scores) for v in obj]
    return obj


def assert_same_results(got, expected):
    """Equal, but for scores, which may differ by float rounding: a document's padding depends on its batch."""
    got_scores, expected_scores = [], []
    assert split_scores(got, got_scores) == split_scores(expected, expected_scores)
    assert got_scores == pytest.approx(expected_scores, abs=1e-5)


# -- endpoints ---------------------------------------------------------------------------


def test_health_and_readiness(client, make_app):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    # an app whose startup has not run (model not loaded and warmed) is alive but not ready
    cold = TestClient(make_app())
    assert cold.get("/healthz").status_code == 200
    r = cold.get("/readyz")
    assert r.status_code == 503 and r.json()["error"] == "not_ready" and r.headers["retry-after"] == "1"
    assert cold.post("/v1/extract", json={"text": "x"}).status_code == 503


def test_model_description(client, extractor):
    info = client.get("/v1/model").json()
    assert info["entity_types"] == extractor.entity_types and info["relation_types"] == extractor.relation_types
    assert info["format_version"] == 1 and info["spert_version"]
    assert info["inference"] == {"rel_filter_threshold": extractor.rel_filter_threshold}
    assert info["model_settings"]["max_span_size"] == 10 and info["encoder"]
    assert info["limits"]["max_chars"] == 400 and info["limits"]["max_texts"] == 8


def test_extract_forms_give_exactly_the_predict_records(client, extractor):
    assert client.post("/v1/extract", json={"text": TEXT}).json() == {"documents": records(extractor, [TEXT])}
    assert client.post("/v1/extract", json={"texts": SENTENCES[:5]}).json()["documents"] == \
        records(extractor, SENTENCES[:5])
    words = ["Ada", "lives", "in", "London", "."]
    assert client.post("/v1/extract", json={"tokens": words}).json()["documents"] == records(extractor, [words])
    mixed = [TEXT, words, {"tokens": words, "id": "w1"}, {"text": SENTENCES[1], "id": 7, "meta": {"a": [1]}},
             {"text": "Ada  lives in London .", "tokens": words}, []]
    got = client.post("/v1/extract", json={"documents": mixed}).json()["documents"]
    assert got == records(extractor, mixed)
    assert got[2]["id"] == "w1" and got[3]["meta"] == {"a": [1]}
    assert got[0]["entities"], "the tiny model finds entities in this text"
    for doc in got:
        for e in doc["entities"]:
            assert doc["text"][e["char_start"]:e["char_end"]] == e["text"]
    assert client.post("/v1/extract", json={"texts": []}).json() == {"documents": []}


def test_extract_options(client, extractor):
    every = client.post("/v1/extract", json={"text": TEXT, "rel_filter_threshold": 0}).json()["documents"]
    none = client.post("/v1/extract", json={"text": TEXT, "rel_filter_threshold": 1}).json()["documents"]
    assert every == records(extractor, [TEXT], rel_filter_threshold=0.0)
    assert len(every[0]["relations"]) > len(none[0]["relations"])
    lean = client.post("/v1/extract", json={"text": TEXT, "no_overlap": True}).json()["documents"]
    assert lean == records(extractor, [TEXT], no_overlap=True)


def test_relations_between_given_entities(client, extractor):
    docs = [{"text": "Ada lives in London.", "entities": [{"type": "Peop", "char_start": 0, "char_end": 3},
                                                       {"type": "Loc", "char_start": 13, "char_end": 19}]},
            {"tokens": ["Jane", "works", "for", "Acme", "."], "id": 3,
             "entities": [{"type": "Peop", "start": 0, "end": 1}, {"type": "Org", "start": 3, "end": 4}]}]
    got = client.post("/v1/relations", json={"documents": docs, "rel_filter_threshold": 0}).json()["documents"]
    assert got == json.loads(json.dumps([p.to_json() for p in extractor.predict_relations(docs,
                                                                                         rel_filter_threshold=0)]))
    assert [e["text"] for e in got[0]["entities"]] == ["Ada", "London"] and got[1]["id"] == 3
    assert got[0]["relations"], "threshold 0 relates every pair by every type"


def test_openapi_describes_every_endpoint(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/v1/extract", "/v1/relations", "/v1/model", "/healthz", "/readyz"} <= set(paths)
    body = paths["/v1/extract"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"text", "texts", "tokens", "documents", "rel_filter_threshold", "no_overlap"} <= set(body["properties"])
    assert "422" in paths["/v1/extract"]["post"]["responses"]
    assert "/ui/extract" not in paths
    assert "swagger" in client.get("/docs").text.lower()


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("body, field, words", [
    ({"texts": ["a", "b", "c", 3]}, "texts[3]", "valid string"),
    ({"text": 5}, "text", "valid string"),
    ({"tokens": ["a", None]}, "tokens[1]", "valid string"),
    ({"documents": ["ok", 5]}, "documents[1]", "a string, a list of words or a JSON object"),
    ({"documents": [{"tokens": ["a", 1]}]}, "documents[0].tokens[1]", "must be a string"),
    ({"documents": ["ok", ["a", 1]]}, "documents[1][1]", "must be a string"),
    ({"text": "a", "x" * 50: 1}, '["' + "x" * 40 + '"]', "unknown field"),
    ({"documents": [{"id": 1}]}, "documents[0].text", "needs 'text'"),
    ({"documents": [{"tokens": ["a", "b"], "sentences": [[0, 1]]}]}, "documents[0].sentences", "cover 1 words of 2"),
    ({"documents": [{"text": "ab", "tokens": ["b", "a"]}]}, "documents[0].tokens", "do not occur in order"),
    ({"documents": "abc"}, "documents", "valid list"),
    ({"text": "a", "texts": ["b"]}, "body", "exactly one of"),
    ({}, "body", "exactly one of"),
    ({"text": "a", "threshold": 0.5}, "threshold", "unknown field"),
    ({"text": "a", "rel_filter_threshold": 1.5}, "rel_filter_threshold", "less than or equal to 1"),
    ({"text": "a", "rel_filter_threshold": "0.5"}, "rel_filter_threshold", "valid number"),
    ({"text": "a", "rel_filter_threshold": True}, "rel_filter_threshold", "valid number"),
    ({"text": "a", "no_overlap": "yes"}, "no_overlap", "valid boolean"),
    ([{"text": "a"}], "body", "must be a JSON object, got an array"),
    ("a", "body", "must be a JSON object, got a string"),
    ({"text": "a\ud800b"}, "text", "lone surrogate (U+D800)"),
    ({"documents": [{"tokens": ["x"], "meta": ["\udfff"]}]}, "documents[0].meta[0]", "lone surrogate"),
    ({"documents": [{"tokens": ["x"], "id": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}]},
     "documents[0].id" + "[0]" * 30, "nested deeper than 32"),
])
def test_invalid_extract_requests_name_the_field(client, body, field, words):
    r = client.post("/v1/extract", content=json.dumps(body))
    assert words in error(r, 422, "invalid", field)["message"]


@pytest.mark.parametrize("docs, field, words", [
    ([{"text": "Ada lives."}], "documents[0].entities", "need each record's 'entities'"),
    ([{"text": "Ada lives.", "entities": [{"type": "P", "char_start": 0, "char_end": 30}]}],
     "documents[0].entities[0]", "outside the document's 10 characters"),
    ([{"text": "Ada lives.", "entities": [{"type": "P", "char_start": 3, "char_end": 4}]}],
     "documents[0].entities[0]", "hold no word"),  # found only after tokenization, on the worker thread
    ([{"tokens": ["a"], "entities": [{"type": 1, "start": 0, "end": 1}]}], "documents[0].entities[0].type",
     "must be a string"),
    ([{"tokens": ["a"], "entities": [{"type": "P", "start": 0}]}], "documents[0].entities[0].end", "missing"),
    ([{"tokens": ["a"] * 7, "entities": [{"type": "P", "start": i, "end": i + 1} for i in range(6)]}],
     "documents[0].entities", "6 entities; at most 5"),
])
def test_invalid_relation_requests_name_the_field(client, docs, field, words):
    r = client.post("/v1/relations", json={"documents": docs})
    assert words in error(r, 422, "too_large" if "at most" in words else "invalid", field)["message"]


def test_limits_name_the_limit(client):
    body = error(client.post("/v1/extract", json={"texts": ["a"] * 9}), 422, "too_large", "texts")
    assert body["limit"] == 8 and "9 documents; at most 8" in body["message"] and "--max-texts" in body["message"]
    body = error(client.post("/v1/extract", json={"texts": ["a", "b" * 401]}), 422, "too_large", "texts[1]")
    assert body["limit"] == 400 and "401 characters; at most 400" in body["message"]
    error(client.post("/v1/extract", json={"tokens": ["ab"] * 150}), 422, "too_large", "tokens")
    error(client.post("/v1/extract", json={"documents": [{"tokens": ["ab"] * 150}]}), 422, "too_large",
          "documents[0]")
    assert client.post("/v1/extract", json={"texts": ["a"] * 8, "text": None}).status_code == 200


def test_body_limit_declared_or_streamed(client):
    big = json.dumps({"text": "a" * 30_000}).encode()
    body = error(client.post("/v1/extract", content=big), 413, "too_large", "body")
    assert body["limit"] == 20_000 and "--max-body-bytes" in body["message"]

    def chunks():  # no Content-Length: the limit is counted while the body arrives
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]

    error(client.post("/v1/extract", content=chunks()), 413, "too_large", "body")


@pytest.mark.parametrize("raw, words", [(b"{", "not valid JSON"), (b"", "not valid JSON"),
                                        (b"\xff\xfe\x00", "not valid JSON"),
                                        (b'{"text": "a", "rel_filter_threshold": NaN}', "NaN is not a JSON number"),
                                        (b'{"text": "a", "rel_filter_threshold": 1e999}', "too large"),
                                        (b"[" * 5000 + b"]" * 5000, "nested deeper"),
                                        (b"1" * 5000, "not valid JSON")])
def test_bad_json_is_400(client, raw, words):
    assert words in error(client.post("/v1/extract", content=raw), 400, "bad_json", "body")["message"]


def test_unknown_endpoints_and_methods(client):
    error(client.get("/v2/extract"), 404, "not_found", None)
    error(client.get("/v1/extract"), 405, "method_not_allowed", None)
    error(client.get("/static/../settings.py"), 404, "not_found", None)
    error(client.get("/static/server.py"), 404, "not_found", None)


def test_bearer_token(make_app):
    with TestClient(make_app(api_key="s3cret")) as c:
        error(c.post("/v1/extract", json={"text": "a"}), 401, "unauthorized", "Authorization")
        r = c.post("/v1/extract", json={"text": "a"}, headers={"Authorization": "Bearer wrong"})
        assert error(r, 401, "unauthorized", "Authorization") and r.headers["www-authenticate"] == "Bearer"
        error(c.get("/v1/model", headers={"Authorization": "Bearer s3cret\u00e9".encode("latin-1")}), 401,
              "unauthorized", "Authorization")
        assert c.post("/v1/extract", json={"text": "a"}, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/v1/model", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        # probes and the page itself stay open; the page asks for the key
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
        assert 'id="api-key"' in c.get("/").text


def test_cors_off_unless_configured(client, make_app):
    origin = {"Origin": "https://example.org"}
    assert "access-control-allow-origin" not in client.post("/v1/extract", json={"text": "a"}, headers=origin).headers
    with TestClient(make_app(cors_origins=["https://example.org"])) as c:
        r = c.options("/v1/extract", headers={**origin, "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "content-type"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://example.org"
        r = c.post("/v1/extract", json={"text": "a"}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_busy_and_timeout_are_503(make_app, extractor, monkeypatch):
    with TestClient(make_app(max_queue=3)) as c:
        body = error(c.post("/v1/extract", json={"texts": ["a"] * 4}), 503, "busy", None)
        assert body["limit"] == 3 and "--max-queue" in body["message"] and "adds 4" in body["message"]
        assert c.post("/v1/extract", json={"texts": ["a"] * 3}).status_code == 200
    with TestClient(make_app(timeout_s=0.2)) as c:
        predict = extractor.predict_inputs
        monkeypatch.setattr(extractor, "predict_inputs", lambda *a, **kw: (time.sleep(0.5), predict(*a, **kw))[1])
        body = error(c.post("/v1/extract", json={"text": "slow"}), 503, "timeout", None)
        assert body["limit"] == 0.2 and "retry" in body["message"]
        monkeypatch.undo()
        time.sleep(0.4)  # the slow call ends; the server has dropped its result
        assert c.post("/v1/extract", json={"text": "fast again"}).status_code == 200


def test_a_failing_model_call_is_500_and_the_server_keeps_serving(make_app, extractor, monkeypatch, caplog):
    with TestClient(make_app(), raise_server_exceptions=False) as c:
        def broken(*args, **kwargs):
            raise RuntimeError("out of memory, say")

        monkeypatch.setattr(extractor, "predict_inputs", broken)
        error(c.post("/v1/extract", json={"text": "a"}), 500, "internal", None)
        assert "prediction failed" in caplog.text
        monkeypatch.undo()
        assert c.get("/readyz").status_code == 200
        assert c.post("/v1/extract", json={"text": "a"}).status_code == 200


def test_page_and_assets(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'self': no outside script
    html = page.text
    assert 'href="static/render.css"' in html and 'src="static/page.js"' in html
    assert "http://" not in html and "https://" not in html  # no CDN, nothing outside the package
    for name in ("render.css", "page.css", "page.js"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and r.content and "http://" not in r.text and "https://" not in r.text
    assert "mark.entity" in client.get("/static/render.css").text
    r = client.post("/ui/extract", json={"text": TEXT})
    assert r.status_code == 200 and '<mark class="entity"' in r.json()["html"]
    assert r.json()["documents"] == client.post("/v1/extract", json={"text": TEXT}).json()["documents"]
    assert 'id="training"' not in html and client.get("/ui/training").status_code == 404  # without --label-studio


# -- concurrency -------------------------------------------------------------------------


def run_async(app, scenario):
    """Run ``scenario(client)`` against the app on one event loop, with the app's startup and shutdown."""

    async def main():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as c:
                return await scenario(c)

    return asyncio.run(main())


def test_concurrent_requests_get_exactly_their_own_results(make_app):
    bodies = [{"text": s} for s in SENTENCES] + [{"texts": SENTENCES[i:i + 3]} for i in range(5)] + \
        [{"text": TEXT, "rel_filter_threshold": t} for t in (0.0, 0.3, 1.0)] + \
        [{"text": TEXT, "no_overlap": True}, {"tokens": ["Ada", "lives", "in", "London"]},
         {"texts": ["a", 5]}, {"documents": [{"text": "Ada lives.", "entities": []}]}]
    app = make_app(max_batch_size=4, max_wait_ms=20)

    async def alone(c):
        return [(await c.post("/v1/extract", json=b)) for b in bodies]

    async def together(c):
        return await asyncio.gather(*[c.post("/v1/extract", json=b) for b in bodies * 3])

    single = [(r.status_code, r.json()) for r in run_async(app, alone)]
    app = make_app(max_batch_size=4, max_wait_ms=20)
    many = [(r.status_code, r.json()) for r in run_async(app, together)]
    assert_same_results(many, single * 3)
    stats = app.state.spert.batcher.stats
    assert stats.largest == 4 and stats.batches < stats.items, "documents of different requests shared batches"


def test_a_large_request_does_not_starve_small_ones(make_app):
    app = make_app(max_batch_size=4, max_texts=64)
    finished: list[str] = []

    async def scenario(c):
        async def post(name, body):
            r = await c.post("/v1/extract", json=body)
            assert r.status_code == 200
            finished.append(name)

        big = asyncio.create_task(post("big", {"texts": [SENTENCES[1]] * 60}))
        await asyncio.sleep(0.05)  # the big one is being worked through, 4 documents a batch
        await asyncio.gather(*[post(f"small{i}", {"text": SENTENCES[0]}) for i in range(3)])
        await big

    run_async(app, scenario)
    assert finished[-1] == "big", finished



def test_onnx_backend_serves_the_same_records(tiny_onnx_dirs, extractor):
    """--backend onnx goes straight to SpERT.load; the fp32 ONNX encoder gives the torch records."""
    texts = ["John Smith works for Acme Corp. in New York.", "He was born in London."]
    onnx_dir = tiny_onnx_dirs["onnx"]
    with TestClient(create_app(ServeSettings(model=onnx_dir, load_options={"backend": "onnx"}))) as c:
        res = c.post("/v1/extract", json={"texts": texts})
        assert res.status_code == 200, res.text
        assert_same_results(res.json()["documents"], records(extractor, texts))
