"""The HTTP application of ``spert serve``: :func:`create_app` builds it (FastAPI on uvicorn).

It loads and warms up the model at startup and closes the micro-batcher at shutdown
(:func:`_lifespan`), limits the body size (:class:`BodyLimit`), answers every error as JSON
(:func:`_add_error_handlers`) and includes the endpoints of :mod:`spert.serve.routes`:
``POST /v1/extract``, ``POST /v1/relations``, ``GET /v1/model``, ``GET /healthz``,
``GET /readyz``, the web page at ``/`` with its assets under ``/static/``, and the OpenAPI
documents at ``/docs`` and ``/openapi.json``; and the routers of an :class:`Extension` that the
caller builds around the server's state: Label Studio's ML backend under ``/label-studio``,
which may switch the serving model after a training round, is one
(:func:`spert.integrations.label_studio.mount.create_app` adds it; it sits a layer above this
one, so that the server does not depend on it).

Every error is a JSON :class:`~spert.serve.protocol.ErrorBody`: 400 body not JSON,
401 missing or wrong bearer token, 404/405 no such endpoint or method, 413 body over
``max_body_bytes``, 422 a field that is wrong or over a limit, 503 not ready, queue full
or request over ``timeout_s`` (with ``Retry-After``). A bug answers 500 and is logged;
the worker keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from spert.errors import ConfigError
from spert.infer.extractor import SpERT
from spert.model.checkpoint import FORMAT_VERSION, read_meta
from spert.runtime import package_version
from spert.serve.batcher import MicroBatcher
from spert.serve.protocol import ClientError
from spert.serve.routes import ServeState, api_router, health_router, page_router
from spert.serve.settings import SETTINGS_ENV, ServeSettings

log = logging.getLogger(__name__)

WARMUP_TEXT = "Ada Lovelace was born in London."
APP_FACTORY = "spert.serve.server:app_from_environment"  # what uvicorn's workers call (factory=True)


# what a serving model directory is described as at GET /v1/model: the model and the settings' limits
Describe = Callable[[SpERT, Path], dict[str, Any]]


@dataclass(frozen=True)
class Extension:
    """What a caller adds to the application (Label Studio's ML backend is one): routers included after
    the server's own, the model directory to load at startup, and what to close at shutdown."""

    routers: list[APIRouter]
    model_dir: Callable[[], Path]  # asked at startup: the extension may serve another version than --model
    close: Callable[[], Awaitable[None]]


def create_app(settings: ServeSettings, extractor: SpERT | None = None,
               extend: Callable[[ServeState, Describe], Extension] | None = None) -> FastAPI:
    """The application; it loads the model from ``settings.model`` at startup unless ``extractor`` is given.
    ``extend`` builds an :class:`Extension` around the server's state (and a way to describe a model)."""
    if settings.label_studio is not None and extend is None:
        raise ConfigError("the Label Studio backend is added by spert.integrations.label_studio.mount.create_app "
                          "(spert serve --label-studio), not by spert.serve.server.create_app")
    state = ServeState(settings, extractor)

    def describe(extractor: SpERT, path: Path) -> dict[str, Any]:
        return _model_info(extractor, settings.model_copy(update={"model": path}))

    extension = None if extend is None else extend(state, describe)
    app = FastAPI(title="spert", version=package_version(), lifespan=_lifespan(state, extension),
                  description="Span-based joint entity and relation extraction (SpERT) over HTTP. "
                              "Errors are JSON objects naming the field and the limit.")
    app.state.spert = state
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    for router in (api_router(state), health_router(state), page_router(state),
                   *(extension.routers if extension else ())):
        app.include_router(router)
    return app


def _lifespan(state: ServeState, extension: Extension | None = None
              ) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Startup: threads, the model, the batcher, one warm-up prediction; shutdown: finish what is queued."""
    settings = state.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if "OMP_NUM_THREADS" not in os.environ:
            torch.set_num_threads(settings.torch_threads())
        model = settings.model if extension is None else extension.model_dir()  # e.g. the backend's version
        if state.extractor is None:
            state.extractor = await asyncio.to_thread(SpERT.load, model, settings.load_options)
        state.model_info = _model_info(state.extractor, settings.model_copy(update={"model": model}))
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
            if extension is not None:
                await extension.close()
            await state.batcher.close()

    return lifespan


def app_from_environment() -> FastAPI:
    """The application for uvicorn's workers (:func:`run` puts the settings in the environment)."""
    return create_app(ServeSettings.from_environment())


def run(settings: ServeSettings, app_factory: str = APP_FACTORY, verbose: bool = False) -> None:
    """Serve until stopped (Ctrl+C, SIGTERM: requests in flight finish first), with uvicorn's workers
    building the application from ``app_factory``. A missing, foreign or damaged model directory stops
    here with one line naming the file, not with a traceback in every worker's startup: the model is
    loaded once here, then let go (two ways of splitting text are refused when the LoadOptions are made)."""
    import gc

    import uvicorn

    SpERT.load(settings.model, settings.load_options)  # raises CheckpointError and the like; then freed
    gc.collect()
    os.environ[SETTINGS_ENV] = settings.to_environment()  # uvicorn's workers build the app from it
    uvicorn.run(app_factory, factory=True, host=settings.host, port=settings.port, workers=settings.workers,
                access_log=settings.access_log, timeout_graceful_shutdown=int(settings.timeout_s) + 5,
                server_header=False, log_level="debug" if verbose else "info")


def _model_info(extractor: SpERT, settings: ServeSettings) -> dict[str, Any]:
    meta = read_meta(settings.model)
    return {"entity_types": extractor.entity_types, "relation_types": extractor.relation_types,
            "encoder": meta["model"].get("encoder"), "model_settings": meta["model"],
            "inference": extractor.settings.model_dump(), "format_version": FORMAT_VERSION,
            "spert_version": package_version(), "max_subwords": extractor.max_length,
            "limits": {"max_body_bytes": settings.max_body_bytes, "max_chars": settings.max_chars,
                       "max_texts": settings.max_texts, "max_entities": settings.max_entities,
                       "timeout_s": settings.timeout_s},
            "batching": {"max_batch_size": settings.max_batch_size, "max_wait_ms": settings.max_wait_ms,
                         "batch_size": settings.batch_size}}


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
