"""The endpoints of ``spert serve``, one router per group, and the state they share.

:func:`api_router`: ``POST /v1/extract`` and ``POST /v1/relations`` (predictions, each
document exactly the record ``spert predict`` writes) and ``GET /v1/model``, behind the bearer
token when one is set. :func:`health_router`: ``GET /healthz`` (the process answers) and
``GET /readyz`` (model loaded and warmed up). :func:`page_router`: the web page at ``/``, its
``POST /ui/extract`` and its assets under ``/static/``. :func:`~spert.serve.server.create_app`
includes them in this order, which is the order of the OpenAPI document. A new endpoint goes
into the router of its group, or a new router here that ``create_app`` includes.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from spert.data.records import Input, Prediction
from spert.errors import DataError
from spert.eval.render import render_documents, stylesheet, type_colors
from spert.infer.extractor import SpERT
from spert.infer.options import PredictOptions
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

_ASSETS = {"page.js": "text/javascript; charset=utf-8", "page.css": "text/css; charset=utf-8"}
_PAGE_POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
_ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 413, 422, 503)}


class ServeState:
    """What the endpoints share: the model, the batcher and whether they are ready (the server's
    lifespan fills them in at startup)."""

    def __init__(self, settings: ServeSettings, extractor: SpERT | None) -> None:
        self.settings, self.extractor = settings, extractor
        self.batcher: MicroBatcher | None = None
        self.ready = False
        self.model_info: dict[str, Any] = {}

    def options(self, rel_filter_threshold: float | None = None, no_overlap: bool = False,
                given_entities: bool = False) -> PredictOptions:
        """A request's prediction options, with the server's batch size (the batcher's key: requests with
        equal options share model calls)."""
        return PredictOptions.make(rel_filter_threshold=rel_filter_threshold, no_overlap=no_overlap,
                                   given_entities=given_entities, batch_size=self.settings.batch_size)

    def run_batch(self, inputs: list[Input], options: PredictOptions) -> list[Prediction | DataError]:
        """On the worker thread: predict one batch; an input whose given entities do not fit gets its error."""
        assert self.extractor is not None  # the batcher starts after the model is loaded
        errors: list[DataError] = []
        results = self.extractor.predict_inputs(inputs, options, on_error=errors.append)
        failed = iter(errors)
        return [r if r is not None else next(failed) for r in results]

    async def predict(self, inputs: list[Input], options: PredictOptions,
                      field: Callable[[int], str]) -> list[Prediction]:
        """The records of ``inputs``, predicted in the micro-batches of every request with the same ``options``."""
        settings, batcher = self.settings, self.batcher
        if not self.ready or batcher is None:
            raise not_ready()
        try:
            return await asyncio.wait_for(batcher.submit(inputs, options), settings.timeout_s)
        except TimeoutError:
            raise ClientError(503, "timeout", f"not finished within {settings.timeout_s:g} s (--timeout); the "
                                              "server is busy, retry later", limit=settings.timeout_s,
                              headers={"Retry-After": "1"}) from None
        except QueueFull:
            raise ClientError(503, "busy", f"{batcher.queued} documents are waiting and this request adds "
                                           f"{len(inputs)}; at most {settings.max_queue} may wait (--max-queue); "
                                           "retry later",
                              limit=settings.max_queue, headers={"Retry-After": "1"}) from None
        except BatcherClosed:
            raise not_ready() from None
        except DataError as e:
            raise data_error(e, field) from None

    async def extract(self, request: Request) -> list[Prediction]:
        """The records of a ``/v1/extract`` (or ``/ui/extract``) request."""
        inputs, req = extract_inputs(read_json(await request.body()), self.settings)
        return await self.predict(inputs, self.options(req.rel_filter_threshold, req.no_overlap), lambda i: "documents")


def not_ready() -> ClientError:
    return ClientError(503, "not_ready", "the model is loading or the server is shutting down; retry later",
                       headers={"Retry-After": "1"})


def api_router(state: ServeState) -> APIRouter:
    """``/v1``: extraction, relations between given entities, and what the model is."""
    router = APIRouter(dependencies=[Depends(bearer(state.settings.api_key))])

    @router.post("/v1/extract", response_model=ExtractResponse, responses=_ERRORS,
                 openapi_extra=_body_schema(ExtractRequest), summary="Extract entities and relations")
    async def extract(request: Request) -> JSONResponse:
        """Entities and relations of every document: `{"documents": [...]}`, each exactly the record
        `spert predict` writes (text, tokens, sentences, entities with word and character spans and
        scores, relations indexing the entities)."""
        return JSONResponse({"documents": [p.to_json() for p in await state.extract(request)]})

    @router.post("/v1/relations", response_model=ExtractResponse, responses=_ERRORS,
                 openapi_extra=_body_schema(RelationsRequest), summary="Relations between given entities")
    async def relations(request: Request) -> JSONResponse:
        """Relations between the entities each record gives; the entities come back unchanged and in
        order (score null), so relation heads and tails index the record's own list."""
        inputs, req = relation_inputs(read_json(await request.body()), state.settings)
        preds = await state.predict(inputs, state.options(req.rel_filter_threshold, given_entities=True),
                                    lambda i: f"documents[{i}]")
        return JSONResponse({"documents": [p.to_json() for p in preds]})

    @router.get("/v1/model", summary="The model: types, encoder, settings, versions, limits")
    async def model() -> dict[str, Any]:
        if not state.model_info:
            raise not_ready()
        return state.model_info

    return router


def health_router(state: ServeState) -> APIRouter:
    """``/healthz`` and ``/readyz``, for process managers and load balancers (never behind the token)."""
    router = APIRouter()

    @router.get("/healthz", summary="The process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="The model is loaded and warmed up", responses={503: {"model": ErrorBody}})
    async def readyz() -> dict[str, str]:
        if not (state.ready and state.batcher is not None and state.batcher.running):
            raise not_ready()
        return {"status": "ready"}

    return router


def page_router(state: ServeState) -> APIRouter:
    """The web page, its extraction call (records and their HTML) and its assets; not in the OpenAPI document."""
    router = APIRouter(include_in_schema=False)
    page_env = Environment(loader=PackageLoader("spert.serve", "templates"), autoescape=select_autoescape(["j2"]))
    assets = {name: (files("spert.serve") / "static" / name).read_bytes() for name in _ASSETS}
    assets["render.css"] = stylesheet().encode("utf-8")

    @router.post("/ui/extract", dependencies=[Depends(bearer(state.settings.api_key))])
    async def ui_extract(request: Request) -> JSONResponse:
        """For the web page: the records and their HTML, drawn as ``spert render`` draws them."""
        preds = await state.extract(request)
        colors = type_colors(state.extractor.entity_types)  # type: ignore[union-attr]
        return JSONResponse({"documents": [p.to_json() for p in preds], "html": render_documents(preds, colors)})

    @router.get("/")
    async def page() -> HTMLResponse:
        if not state.model_info:
            raise not_ready()
        html = page_env.get_template("index.html.j2").render(
            model=state.model_info, colors=type_colors(state.model_info["entity_types"]),
            auth=state.settings.api_key is not None, training=state.settings.label_studio is not None)
        return HTMLResponse(html, headers={"Content-Security-Policy": _PAGE_POLICY,
                                           "X-Content-Type-Options": "nosniff"})

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in assets:  # a fixed set held in memory: the name is never used as a path
            raise StarletteHTTPException(404)
        media = _ASSETS.get(name, "text/css; charset=utf-8")
        return Response(assets[name], media_type=media, headers={"Cache-Control": "public, max-age=3600",
                                                                 "X-Content-Type-Options": "nosniff"})

    return router


def _body_schema(model: type) -> dict[str, Any]:
    """OpenAPI request body for endpoints that read and check the JSON themselves."""
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": model.model_json_schema()}}}}


def bearer(api_key: str | None) -> Callable[[Request], None]:
    """The check of ``Authorization: Bearer KEY`` on /v1 and /ui (none without a key)."""
    expected = None if api_key is None else f"Bearer {api_key}".encode()

    def check(request: Request) -> None:
        if expected is None:
            return
        given = request.headers.get("authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, expected):
            raise ClientError(401, "unauthorized", "missing or wrong bearer token (Authorization: Bearer KEY)",
                              field="Authorization", headers={"WWW-Authenticate": "Bearer"})

    return check
