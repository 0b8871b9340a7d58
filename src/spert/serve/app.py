"""The HTTP application of ``spert serve``: :func:`create_app` builds it (FastAPI on uvicorn).

Endpoints: ``POST /v1/extract`` and ``POST /v1/relations`` (predictions, each document
exactly the record ``spert predict`` writes), ``GET /v1/model``, ``GET /healthz``
(the process answers), ``GET /readyz`` (model loaded and warmed up), the web page at
``/`` with its assets under ``/static/``, and the OpenAPI documents at ``/docs`` and
``/openapi.json``.

Every error is a JSON :class:`~spert.serve.protocol.ErrorBody`: 400 body not JSON,
401 missing or wrong bearer token, 404/405 no such endpoint or method, 413 body over
``max_body_bytes``, 422 a field that is wrong or over a limit, 503 not ready, queue full
or request over ``timeout_s`` (with ``Retry-After``). A bug answers 500 and is logged;
the worker keeps serving.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from typing import Any

import torch
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from spert.errors import DataError
from spert.eval.render import render_documents, stylesheet, type_colors
from spert.infer.extractor import SpERT
from spert.data.records import Input, Prediction
from spert.model.checkpoint import FORMAT_VERSION, read_meta
from spert.serve.batcher import BatcherClosed, MicroBatcher, QueueFull
from spert.serve.protocol import (
    ClientError,
    ErrorBody,
    ExtractRequest,
    ExtractResponse,
    RelationsRequest,
    data_error,
    extract_inputs,
    read_json,
    relation_inputs,
)
from spert.serve.settings import ServeSettings

log = logging.getLogger(__name__)

WARMUP_TEXT = "Ada Lovelace was born in London."
_ASSETS = {"page.js": "text/javascript; charset=utf-8", "page.css": "text/css; charset=utf-8"}
_PAGE_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
_ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 413, 422, 503)}


def _package_version() -> str:
    try:
        return version("spert")
    except PackageNotFoundError:
        return "unknown"


class _State:
    """What the endpoints share: the model, the batcher and whether they are ready."""

    def __init__(self, settings: ServeSettings, extractor: SpERT | None) -> None:
        self.settings, self.extractor = settings, extractor
        self.batcher: MicroBatcher | None = None
        self.ready = False
        self.model_info: dict[str, Any] = {}

    def run_batch(self, inputs: list[Input], key: Hashable) -> list[Prediction | DataError]:
        """On the worker thread: predict one batch; an input whose given entities do not fit gets its error."""
        threshold, no_overlap, given = key  # type: ignore[misc]
        errors: list[DataError] = []
        results = self.extractor.predict_inputs(inputs, batch_size=self.settings.batch_size,  # type: ignore[union-attr]
                                                rel_filter_threshold=threshold, no_overlap=no_overlap,
                                                given_entities=given, on_error=errors.append)
        failed = iter(errors)
        return [r if r is not None else next(failed) for r in results]


def create_app(settings: ServeSettings, extractor: SpERT | None = None) -> FastAPI:
    """The application; it loads the model from ``settings.model`` at startup unless ``extractor`` is given."""
    state = _State(settings, extractor)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if "OMP_NUM_THREADS" not in os.environ:
            torch.set_num_threads(settings.torch_threads())
        if state.extractor is None:
            state.extractor = await asyncio.to_thread(SpERT.load, settings.model, **settings.load_options)
        state.model_info = _model_info(state.extractor, settings)
        state.batcher = MicroBatcher(state.run_batch, max_batch_size=settings.max_batch_size,
                                     max_wait_s=settings.max_wait_ms / 1000, max_queue=settings.max_queue)
        state.batcher.start()
        await state.batcher.call(lambda: state.extractor.predict([WARMUP_TEXT]))  # type: ignore[union-attr]
        state.ready = True
        log.info("ready: %s (%d worker threads for PyTorch)", settings.model, torch.get_num_threads())
        try:
            yield
        finally:  # uvicorn has let in-flight requests finish; finish what is queued, then stop
            state.ready = False
            await state.batcher.close()

    app = FastAPI(title="spert", version=_package_version(), lifespan=lifespan,
                  description="Span-based joint entity and relation extraction (SpERT) over HTTP. "
                              "Errors are JSON objects naming the field and the limit.")
    app.state.spert = state
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    auth = [Depends(_bearer(settings.api_key))]

    async def predict(inputs: list[Input], key: Hashable, field: Callable[[int], str]) -> list[Prediction]:
        if not state.ready or state.batcher is None:
            raise _not_ready()
        try:
            return await asyncio.wait_for(state.batcher.submit(inputs, key), settings.timeout_s)
        except TimeoutError:
            raise ClientError(503, "timeout", f"not finished within {settings.timeout_s:g} s (--timeout); the "
                                              "server is busy, retry later", limit=settings.timeout_s,
                              headers={"Retry-After": "1"}) from None
        except QueueFull:
            raise ClientError(503, "busy", f"{state.batcher.queued} documents are waiting and this request adds "
                                           f"{len(inputs)}; at most {settings.max_queue} may wait (--max-queue); "
                                           "retry later",
                              limit=settings.max_queue, headers={"Retry-After": "1"}) from None
        except BatcherClosed:
            raise _not_ready() from None
        except DataError as e:
            raise data_error(e, field) from None

    async def extract_predictions(request: Request) -> list[Prediction]:
        inputs, req = extract_inputs(read_json(await request.body()), settings)
        key = (req.rel_filter_threshold, req.no_overlap, False)
        return await predict(inputs, key, lambda i: "documents")

    @app.post("/v1/extract", dependencies=auth, response_model=ExtractResponse, responses=_ERRORS,
              openapi_extra=_body_schema(ExtractRequest), summary="Extract entities and relations")
    async def extract(request: Request) -> JSONResponse:
        """Entities and relations of every document: `{"documents": [...]}`, each exactly the record
        `spert predict` writes (text, tokens, sentences, entities with word and character spans and
        scores, relations indexing the entities)."""
        return JSONResponse({"documents": [p.to_json() for p in await extract_predictions(request)]})

    @app.post("/v1/relations", dependencies=auth, response_model=ExtractResponse, responses=_ERRORS,
              openapi_extra=_body_schema(RelationsRequest), summary="Relations between given entities")
    async def relations(request: Request) -> JSONResponse:
        """Relations between the entities each record gives; the entities come back unchanged and in
        order (score null), so relation heads and tails index the record's own list."""
        inputs, req = relation_inputs(read_json(await request.body()), settings)
        preds = await predict(inputs, (req.rel_filter_threshold, False, True), lambda i: f"documents[{i}]")
        return JSONResponse({"documents": [p.to_json() for p in preds]})

    @app.get("/v1/model", dependencies=auth, summary="The model: types, encoder, settings, versions, limits")
    async def model() -> dict[str, Any]:
        if not state.model_info:
            raise _not_ready()
        return state.model_info

    @app.get("/healthz", summary="The process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="The model is loaded and warmed up", responses={503: {"model": ErrorBody}})
    async def readyz() -> dict[str, str]:
        if not (state.ready and state.batcher is not None and state.batcher.running):
            raise _not_ready()
        return {"status": "ready"}

    @app.post("/ui/extract", dependencies=auth, include_in_schema=False)
    async def ui_extract(request: Request) -> JSONResponse:
        """For the web page: the records and their HTML, drawn as ``spert render`` draws them."""
        preds = await extract_predictions(request)
        colors = type_colors(state.extractor.entity_types)  # type: ignore[union-attr]
        return JSONResponse({"documents": [p.to_json() for p in preds], "html": render_documents(preds, colors)})

    page_env = Environment(loader=PackageLoader("spert.serve", "templates"), autoescape=select_autoescape(["j2"]))

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        if not state.model_info:
            raise _not_ready()
        html = page_env.get_template("index.html.j2").render(
            model=state.model_info, colors=type_colors(state.model_info["entity_types"]),
            auth=settings.api_key is not None)
        return HTMLResponse(html, headers={"Content-Security-Policy": _PAGE_POLICY,
                                           "X-Content-Type-Options": "nosniff"})

    assets = {name: (files("spert.serve") / "static" / name).read_bytes() for name in _ASSETS}
    assets["render.css"] = stylesheet().encode("utf-8")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in assets:  # a fixed set held in memory: the name is never used as a path
            raise StarletteHTTPException(404)
        media = _ASSETS.get(name, "text/css; charset=utf-8")
        return Response(assets[name], media_type=media, headers={"Cache-Control": "public, max-age=3600",
                                                                 "X-Content-Type-Options": "nosniff"})

    return app


def app_from_environment() -> FastAPI:
    """The application for uvicorn's workers (``spert serve`` puts the settings in the environment)."""
    return create_app(ServeSettings.from_environment())


def _model_info(extractor: SpERT, settings: ServeSettings) -> dict[str, Any]:
    meta = read_meta(settings.model)
    return {"entity_types": extractor.entity_types, "relation_types": extractor.relation_types,
            "encoder": meta["model"].get("encoder"), "model_settings": meta["model"],
            "inference": extractor.settings.model_dump(), "format_version": FORMAT_VERSION,
            "spert_version": _package_version(), "max_subwords": extractor.max_length,
            "limits": {"max_body_bytes": settings.max_body_bytes, "max_chars": settings.max_chars,
                       "max_texts": settings.max_texts, "max_entities": settings.max_entities,
                       "timeout_s": settings.timeout_s},
            "batching": {"max_batch_size": settings.max_batch_size, "max_wait_ms": settings.max_wait_ms,
                         "batch_size": settings.batch_size}}


def _body_schema(model: type) -> dict[str, Any]:
    """OpenAPI request body for endpoints that read and check the JSON themselves."""
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _not_ready() -> ClientError:
    return ClientError(503, "not_ready", "the model is loading or the server is shutting down; retry later",
                       headers={"Retry-After": "1"})


def _bearer(api_key: str | None) -> Callable[[Request], None]:
    expected = None if api_key is None else f"Bearer {api_key}".encode()

    def check(request: Request) -> None:
        if expected is None:
            return
        given = request.headers.get("authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            raise ClientError(401, "unauthorized", "missing or wrong bearer token (Authorization: Bearer KEY)",
                              field="Authorization", headers={"WWW-Authenticate": "Bearer"})

    return check


def _error_response(e: ClientError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status, headers=e.headers)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ClientError)
    async def client_error(request: Request, e: ClientError) -> JSONResponse:
        return _error_response(e)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        message = {404: f"no such endpoint: {request.url.path[:200]}",
                   405: f"{request.method} is not allowed here"}.get(e.status_code, str(e.detail))
        return _error_response(ClientError(e.status_code, code, message, headers=dict(e.headers or {})))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError) -> JSONResponse:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"][1:]) or None
        return _error_response(ClientError(422, "invalid", err["msg"], field=field))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _error_response(ClientError(500, "internal", "internal server error (logged); please report it"))


class BodyLimit:
    """Answer 413 to a body over ``limit`` bytes, declared or streamed, before the application reads it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send, declared.decode("ascii"))
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._reject(scope, receive, send, f"over {self.limit}")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, size: str) -> None:
        e = ClientError(413, "too_large", f"{size} bytes; at most {self.limit} (--max-body-bytes)", field="body",
                        limit=self.limit)
        await _error_response(e)(scope, receive, send)
