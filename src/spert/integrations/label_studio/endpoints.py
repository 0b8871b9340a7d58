"""Label Studio's ML backend protocol under ``/label-studio``: pre-annotation and training from a project.

The protocol followed is that of HumanSignal/label-studio-ml-backend 2.0.1dev0
(``label_studio_ml/api.py``), which Label Studio 1.x calls when a project connects a model
at ``http://HOST:PORT/label-studio``:

* ``GET /label-studio/`` and ``GET /label-studio/health``: ``{"status": "UP", ...}``;
* ``POST /label-studio/setup`` ``{"project": "ID.TIMESTAMP", "schema": XML, ...}``:
  ``{"model_version": ...}``;
* ``POST /label-studio/predict`` ``{"tasks": [...], "project": "ID.TIMESTAMP",
  "label_config": XML, "params": {...}}``: ``{"results": [one prediction per task]}``
  (:mod:`.predictions`);
* ``POST /label-studio/webhook`` ``{"action": EVENT, "project": {"id", "label_config", ...},
  ...}``: ``START_TRAINING`` (the "Start Training" button) starts a training round, and with
  ``train_every`` so do that many ``ANNOTATION_CREATED``/``ANNOTATION_UPDATED`` events;
  201 ``{"result": ..., "status": "ok"}``; other events 200 ``{"status": "Unknown event"}``;
* ``GET /label-studio/metrics``: the last round of every project.

Ours besides: ``GET /label-studio/training?project=ID`` (the round's stage, epochs done,
change report of the import, scores), ``GET /label-studio/versions`` and ``POST
/label-studio/versions/pin`` ``{"version": NAME or null}``; and for the web page (behind its
bearer token, not Label Studio's basic auth) ``GET /ui/training``, which the page polls to
show each project's round as it runs.

Every error is the server's JSON error body: 400 bad JSON, 401 basic auth missing or
wrong (when ``basic_auth`` is set), 404 a project not allowed (``projects``) or unknown
to Label Studio, 409 a project already training, 422 a field that is wrong (its name in
``field``), 503 not ready or Label Studio not configured (URL and token come from the
settings or the environment, never from a request).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from spert.integrations.label_studio.auth import basic_auth
from spert.integrations.label_studio.backend import LabelStudioBackend
from spert.integrations.label_studio.bodies import PinBody, PredictBody, SetupBody, WebhookBody, read_body
from spert.integrations.label_studio.versions import UnknownVersion
from spert.serve.protocol import ClientError
from spert.serve.routes import bearer, not_ready

PREFIX = "/label-studio"


def ml_backend_router(backend: LabelStudioBackend) -> APIRouter:
    """``/label-studio``: Label Studio's ML backend protocol, training status and versions."""
    router = APIRouter(prefix=PREFIX, tags=["Label Studio"],
                       dependencies=[Depends(basic_auth(backend.settings.basic_auth))])
    state = backend.state

    @router.get("/", summary="Label Studio's health check")
    @router.get("/health", summary="Label Studio's health check")
    async def health() -> dict[str, Any]:
        if not state.ready:
            raise not_ready()
        return {"status": "UP", "model_class": "SpERT", "model_version": backend.model_version}

    @router.post("/setup", summary="Label Studio connects a project")
    async def setup(request: Request) -> dict[str, Any]:
        body = read_body(SetupBody, await request.body())
        project = backend.allowed(body.project, "project")
        answer: dict[str, Any] = {"model_version": backend.model_version}
        if body.label_config is not None:
            mapping = backend.mapping(project, backend.config(body.label_config, "schema"))
            answer.update(missing_types=list(mapping.missing), left_out_types=list(mapping.left_out))
        return answer

    @router.post("/predict", summary="Pre-annotations of Label Studio tasks")
    async def predict(request: Request) -> dict[str, Any]:
        return await backend.predict(read_body(PredictBody, await request.body()))

    @router.post("/webhook", summary="Label Studio's events: START_TRAINING and annotations")
    async def webhook(request: Request) -> JSONResponse:
        status, answer = await backend.webhook(read_body(WebhookBody, await request.body()))
        return JSONResponse(answer, status_code=status)

    @router.get("/metrics", summary="The last training round of every project")
    async def metrics() -> dict[str, Any]:
        return {str(p): backend.trainer.status(p) for p in backend.trainer.rounds}

    @router.get("/training", summary="A project's training round: stage, progress, scores")
    async def training(project: int) -> dict[str, Any]:
        return backend.trainer.status(backend.allowed(project, "project"))

    @router.get("/versions", summary="Model versions: which serves, which is pinned")
    async def versions() -> dict[str, Any]:
        return {"serving": backend.loaded, "versions": backend.store.listing()}

    @router.post("/versions/pin", summary="Serve one version whatever training accepts (null: unpin)")
    async def pin(request: Request) -> dict[str, Any]:
        body = read_body(PinBody, await request.body())
        try:
            backend.store.pin(body.version)
        except UnknownVersion as e:
            raise ClientError(404, "unknown_version", str(e), field="version") from None
        if backend.store.serving() != backend.loaded:
            await backend.switch(backend.store.serving())
        return {"serving": backend.loaded, "pinned": backend.store.pinned()}

    return router


def training_page_router(backend: LabelStudioBackend) -> APIRouter:
    """``GET /ui/training``: the training rounds for the web page, behind the page's bearer token."""
    router = APIRouter(include_in_schema=False)

    @router.get("/ui/training", dependencies=[Depends(bearer(backend.state.settings.api_key))])
    async def training() -> dict[str, Any]:
        return backend.overview()

    return router
