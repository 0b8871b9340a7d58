"""Label Studio's ML backend protocol under ``/label-studio``: pre-annotation and training from a project.

The protocol followed is that of HumanSignal/label-studio-ml-backend 2.0.1dev0
(``label_studio_ml/api.py``), which Label Studio 1.x calls when a project connects a model
at ``http://HOST:PORT/label-studio``:

* ``GET /label-studio/`` and ``GET /label-studio/health``: ``{"status": "UP", ...}``;
* ``POST /label-studio/setup`` ``{"project": "ID.TIMESTAMP", "schema": XML, ...}``:
  ``{"model_version": ...}``;
* ``POST /label-studio/predict`` ``{"tasks": [...], "project": "ID.TIMESTAMP",
  "label_config": XML, "params": {...}}``: ``{"results": [one prediction per task]}``;
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

A prediction holds the ``labels`` regions and ``relation`` results of
:func:`spert.data.formats.labelstudio.labelstudio_task` for the project's ``Labels`` and
``Text`` tag names, only of types the project has (the others are reported once per
project in the log and in ``/setup``'s answer), the ``model_version`` (``spert-base``,
``spert-v0003``) and a task score, the lowest score of its results (1.0 when nothing was
found), by which Label Studio's Data Manager sorts the least certain tasks first.

Every error is the server's JSON error body: 400 bad JSON, 401 basic auth missing or
wrong (when ``basic_auth`` is set), 404 a project not allowed (``projects``) or unknown
to Label Studio, 409 a project already training, 422 a field that is wrong (its name in
``field``), 503 not ready or Label Studio not configured (URL and token come from the
settings or the environment, never from a request).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from spert.data.formats.labelstudio import labelstudio_task
from spert.data.records import Prediction, parse_input
from spert.errors import DataError
from spert.infer.extractor import SpERT
from spert.serve.ls_config import LabelConfig, LabelConfigError, TypeMapping, parse_label_config, type_mapping
from spert.serve.ls_training import ExportSource, SdkSource, Trainer, UnknownProject
from spert.serve.model_versions import UnknownVersion, VersionStore
from spert.serve.protocol import ClientError, invalid, read_json
from spert.serve.routes import ServeState, bearer, not_ready
from spert.serve.settings import LabelStudioSettings
from spert.train.ls_finetune import FinetuneJob

log = logging.getLogger(__name__)

PREFIX = "/label-studio"
# label_studio_ml/api.py: the events its /webhook hands to a model; others answer "Unknown event"
TRAIN_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATION_DELETED", "START_TRAINING")
COUNTED_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
NOTHING_FOUND_SCORE = 1.0  # a task without results has nothing to correct
_PROJECT = re.compile(r"(\d+)(\.\d+)?")  # "ID.TIMESTAMP", as Label Studio names a project to its backend


class _Body(BaseModel):
    model_config = ConfigDict(extra="allow")  # Label Studio sends more than we read


class PredictBody(_Body):
    tasks: list[dict[str, Any]]
    project: str | int
    label_config: str
    params: dict[str, Any] | None = None


class SetupBody(_Body):
    project: str | int
    schema_: str | None = None  # "schema" on the wire (a BaseModel attribute name)


class WebhookProject(_Body):
    id: int
    label_config: str | None = None


class WebhookBody(_Body):
    action: str
    project: WebhookProject | None = None


class PinBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str | None


class LabelStudioBackend:
    """The backend's state beside the server's: the versions, the trainer, what was reported."""

    def __init__(self, state: ServeState, settings: LabelStudioSettings,
                 describe: Callable[[SpERT, Path], dict[str, Any]],
                 source: Callable[[], ExportSource] | None = None) -> None:
        self.state, self.settings, self.describe = state, settings.resolved(), describe
        self.store = VersionStore(self.settings.versions_dir, state.settings.model)
        self.loaded = self.store.serving()  # the version the server loads at startup
        self._source = source
        self.trainer = Trainer(self.store, self._job, self.source, self.switch)
        self.reported: set[tuple[int, tuple[str, ...]]] = set()
        self.annotations: dict[int, int] = {}  # annotation events per project since its last round

    # -- models --------------------------------------------------------------------------

    def model_dir(self) -> Path:
        return self.store.path(self.loaded)

    @property
    def model_version(self) -> str:
        return f"spert-{self.loaded}"

    async def switch(self, name: str) -> None:
        """Serve version ``name``: load it beside the serving model, then swap both references at once
        (a batch already running finishes with the model it started with)."""
        path = self.store.path(name)
        extractor = await asyncio.to_thread(SpERT.load, path, **self.state.settings.load_options)
        info = self.describe(extractor, path)
        self.state.extractor, self.state.model_info, self.loaded = extractor, info, name
        log.info("serving model version %s (%s)", name, path)

    # -- training ------------------------------------------------------------------------

    def source(self) -> ExportSource:
        if self._source is not None:
            return self._source()
        if not (self.settings.url and self.settings.api_key):
            raise ClientError(503, "not_configured", "training needs Label Studio's URL and access token: "
                                                     "--label-studio-url and $LABEL_STUDIO_API_KEY")
        return SdkSource(self.settings.url, self.settings.api_key)

    def _job(self, export: Path, text_key: str) -> FinetuneJob:
        s = self.settings
        return FinetuneJob(export=str(export), start_model="", held_out=s.held_out, seed=s.seed,
                           text_field=s.text_field or text_key,
                           train_config=None if s.train_config is None else str(s.train_config),
                           overrides=s.train_overrides, spacy_model=self.state.settings.load_options.get("spacy_model"))

    async def webhook(self, body: WebhookBody) -> tuple[int, dict[str, Any]]:
        if body.action not in TRAIN_EVENTS:
            return 200, {"status": "Unknown event"}
        if body.project is None:
            raise invalid("project", "a training event names its project: {\"id\": ..., \"label_config\": ...}")
        project = self.allowed(body.project.id, "project.id")
        config = self.config(body.project.label_config, "project.label_config")
        if body.action in COUNTED_EVENTS or body.action == "ANNOTATION_DELETED":
            return 201, {"status": "ok", "result": self._count(project, body.action, config)}
        await self._check_project(project)
        return 201, {"status": "ok", "result": self.trainer.start(project, body.action, config.text_key)}

    def _count(self, project: int, action: str, config: LabelConfig) -> dict[str, Any]:
        if action not in COUNTED_EVENTS or not self.settings.train_every:
            return {"training": False}
        self.annotations[project] = self.annotations.get(project, 0) + 1
        if self.annotations[project] < self.settings.train_every or self.trainer.running(project):
            return {"training": False, "annotations_since_training": self.annotations[project]}
        self.annotations[project] = 0
        return {"training": True, **self.trainer.start(project, f"{self.settings.train_every} annotations",
                                                       config.text_key)}

    async def _check_project(self, project: int) -> None:
        source = self.source()
        try:
            await asyncio.to_thread(source.check_project, project)
        except UnknownProject as e:
            raise ClientError(404, "unknown_project", str(e), field="project.id") from None
        except Exception as e:  # noqa: BLE001  Label Studio down or refusing the token: say so, start nothing
            raise ClientError(503, "label_studio_unreachable", f"cannot ask Label Studio ({self.settings.url}) about "
                                                               f"project {project}: {str(e)[:200]}") from None

    # -- prediction ----------------------------------------------------------------------

    def allowed(self, project: Any, field: str) -> int:
        """The project's id, if it may use this backend."""
        m = _PROJECT.fullmatch(str(project))
        if m is None:
            raise invalid(field, f"a Label Studio project id (ID or ID.TIMESTAMP), got {str(project)[:40]!r}")
        pid = int(m.group(1))
        if self.settings.projects and pid not in self.settings.projects:
            raise ClientError(404, "unknown_project", f"project {pid} may not use this backend (allowed: "
                                                      f"{', '.join(map(str, self.settings.projects))})", field=field)
        return pid

    def config(self, xml: Any, field: str) -> LabelConfig:
        try:
            return parse_label_config(xml)
        except LabelConfigError as e:
            raise invalid(field, str(e)) from None

    def mapping(self, project: int, config: LabelConfig) -> TypeMapping:
        """The types the project and the model share; the ones the model lacks are reported once."""
        extractor = self.state.extractor
        if extractor is None:
            raise not_ready()
        mapping = type_mapping(config, extractor.entity_types, extractor.relation_types)
        if mapping.missing and (project, mapping.missing) not in self.reported:
            self.reported.add((project, mapping.missing))
            log.warning("project %d has types the model (%s) cannot predict: %s; train from the project "
                        "to learn them", project, self.model_version, ", ".join(mapping.missing))
        return mapping

    async def predict(self, body: PredictBody) -> dict[str, Any]:
        project = self.allowed(body.project, "project")
        config = self.config(body.label_config, "label_config")
        mapping = self.mapping(project, config)
        key = self.settings.text_field or config.text_key
        inputs = [self._input(task, i, key) for i, task in enumerate(body.tasks)]
        version, step = self.model_version, self.state.settings.max_texts
        chunks = [self.state.predict(inputs[i:i + step], self.state.options(), lambda j, i=i: f"tasks[{i + j}]")
                  for i in range(0, len(inputs), step)]
        preds = [p for chunk in await asyncio.gather(*chunks) for p in chunk]
        caps = self.settings.max_entities, self.settings.max_relations
        shown = [ls_prediction(p, config, mapping, version, *caps) for p in preds]
        results = [prediction for prediction, _ in shown]
        capped = sum(cut for _, cut in shown)
        if capped:
            log.info("project %d: %d of %d tasks' predictions cut to the best %d entities and %d relations "
                     "(--label-studio-max-entities, --label-studio-max-relations)", project, capped, len(preds), *caps)
        return {"results": results, "model_version": version}

    def _input(self, task: dict[str, Any], i: int, key: str):
        data = task.get("data")
        text = data.get(key) if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise invalid(f"tasks[{i}].data.{key}", "missing or not a string (the labelling config's Text tag "
                                                    "shows this task field)")
        limit = self.state.settings.max_chars
        if len(text) > limit:
            raise invalid(f"tasks[{i}].data.{key}", f"{len(text)} characters; at most {limit} (--max-chars)",
                          limit=limit)
        try:
            return parse_input({"text": text}, doc=i)
        except DataError as e:
            raise invalid(f"tasks[{i}].data.{key}", e.problem) from None

    async def close(self) -> None:
        await self.trainer.close()

    def overview(self) -> dict[str, Any]:
        """For the web page: the serving version and every project's last round, without the file paths."""
        rounds = [{k: v for k, v in self.trainer.status(p).items() if k not in _PRIVATE}
                  for p in sorted(self.trainer.rounds)]
        return {"serving": self.model_version, "pinned": self.store.pinned(), "rounds": rounds}


_PRIVATE = ("job_dir", "text_key", "candidate", "current")  # paths, and metrics beyond the score the page shows


def ls_prediction(p: Prediction, config: LabelConfig, mapping: TypeMapping, version: str,
                  max_entities: int = 100, max_relations: int = 100) -> tuple[dict[str, Any], bool]:
    """One task's prediction in Label Studio's format, of the types the project has: at most
    ``max_entities`` entities and ``max_relations`` relations between them, the highest-scoring
    (in the text's order); and whether the caps cut anything of those types."""
    eligible = [i for i, e in enumerate(p.entities) if e.type in mapping.entity_types]
    kept = _best(eligible, [e.score for e in p.entities], max_entities)
    index = {old: new for new, old in enumerate(kept)}
    candidates = [j for j, r in enumerate(p.relations)
                  if r.type in mapping.relation_types and r.head in index and r.tail in index]
    relations = [replace(p.relations[j], head=index[p.relations[j].head], tail=index[p.relations[j].tail])
                 for j in _best(candidates, [r.score for r in p.relations], max_relations)]
    shown = replace(p, entities=[p.entities[i] for i in kept], relations=relations)
    prediction = labelstudio_task(shown, version, config.from_name, config.to_name)["predictions"][0]
    prediction.setdefault("score", NOTHING_FOUND_SCORE)
    return prediction, len(kept) < len(eligible) or len(relations) < len(candidates)


def _best(indices: list[int], scores: list[float | None], n: int) -> list[int]:
    """The ``n`` of ``indices`` with the highest scores (ties: the earlier), in their order."""
    if len(indices) <= n:
        return indices
    ranked = sorted(indices, key=lambda i: (-(scores[i] if scores[i] is not None else 1.0), i))
    return sorted(ranked[:n])


def _body(model: type[BaseModel], obj: Any, aliases: dict[str, str] | None = None) -> Any:
    """A request body checked against ``model``; a wrong field is a 422 naming it."""
    if not isinstance(obj, dict):
        raise invalid("body", f"expected a JSON object, got {type(obj).__name__}")
    for wire, attr in (aliases or {}).items():
        if wire in obj:
            obj = {**{k: v for k, v in obj.items() if k != wire}, attr: obj[wire]}
    try:
        return model.model_validate(obj)
    except ValidationError as e:
        err = e.errors()[0]
        names = {attr: wire for wire, attr in (aliases or {}).items()}
        field = ".".join(names.get(str(p), str(p)) for p in err["loc"]) or "body"
        raise invalid(field, err["msg"]) from None


def _basic_auth(expected: str | None) -> Callable[[Request], None]:
    want = None if expected is None else b"Basic " + base64.b64encode(expected.encode("utf-8"))

    def check(request: Request) -> None:
        if want is None:
            return
        given = request.headers.get("authorization", "").encode("utf-8", "surrogateescape")
        try:  # compare the decoded pair, so that base64 padding variants do not matter
            ok = given.startswith(b"Basic ") and hmac.compare_digest(base64.b64decode(given[6:], validate=True),
                                                                     base64.b64decode(want[6:]))
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            raise ClientError(401, "unauthorized", "missing or wrong basic auth (the ML backend's user and "
                                                   "password in Label Studio)", field="Authorization",
                              headers={"WWW-Authenticate": 'Basic realm="spert"'})

    return check


def ml_backend_router(backend: LabelStudioBackend) -> APIRouter:
    """``/label-studio``: Label Studio's ML backend protocol, training status and versions."""
    router = APIRouter(prefix=PREFIX, tags=["Label Studio"],
                       dependencies=[Depends(_basic_auth(backend.settings.basic_auth))])
    state = backend.state

    @router.get("/", summary="Label Studio's health check")
    @router.get("/health", summary="Label Studio's health check")
    async def health() -> dict[str, Any]:
        if not state.ready:
            raise not_ready()
        return {"status": "UP", "model_class": "SpERT", "model_version": backend.model_version}

    @router.post("/setup", summary="Label Studio connects a project")
    async def setup(request: Request) -> dict[str, Any]:
        body = _body(SetupBody, read_json(await request.body()), {"schema": "schema_"})
        project = backend.allowed(body.project, "project")
        answer: dict[str, Any] = {"model_version": backend.model_version}
        if body.schema_ is not None:
            mapping = backend.mapping(project, backend.config(body.schema_, "schema"))
            answer.update(missing_types=list(mapping.missing), left_out_types=list(mapping.left_out))
        return answer

    @router.post("/predict", summary="Pre-annotations of Label Studio tasks")
    async def predict(request: Request) -> dict[str, Any]:
        return await backend.predict(_body(PredictBody, read_json(await request.body())))

    @router.post("/webhook", summary="Label Studio's events: START_TRAINING and annotations")
    async def webhook(request: Request) -> JSONResponse:
        status, answer = await backend.webhook(_body(WebhookBody, read_json(await request.body())))
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
        body = _body(PinBody, read_json(await request.body()))
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
