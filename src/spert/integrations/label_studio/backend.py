"""The Label Studio backend's state beside the server's: versions, training rounds, what was reported.

:class:`LabelStudioBackend` holds the :class:`~.versions.VersionStore` (which version serves),
the :class:`~.rounds.Trainer` (a project's rounds), the annotation counts of ``train_every``
and the types already reported missing, and answers what :mod:`.endpoints` asks: a prediction
for Label Studio's tasks (:mod:`.predictions`), a webhook event, a switch of the serving model.

A project is named ``"ID.TIMESTAMP"`` or ``ID``; one not in ``projects`` (when set) or
unknown to Label Studio is a 404, one already training a 409; Label Studio's URL and token
come from the settings or the environment, never from a request (503 when missing).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spert.data.records import Input, Prediction, parse_input
from spert.errors import DataError, SpertError
from spert.infer.extractor import SpERT
from spert.integrations.label_studio.bodies import PredictBody, WebhookBody
from spert.integrations.label_studio.jobs import FinetuneJob
from spert.integrations.label_studio.label_config import (
    LabelConfig,
    LabelConfigError,
    TypeMapping,
    parse_label_config,
    type_mapping,
)
from spert.integrations.label_studio.preannotations import ls_prediction
from spert.integrations.label_studio.rounds import Trainer
from spert.integrations.label_studio.source import ExportSource, SdkSource, UnknownProject
from spert.integrations.label_studio.versions import VersionStore
from spert.serve.protocol import ClientError, invalid
from spert.serve.routes import ServeState, not_ready
from spert.serve.settings import LABEL_STUDIO_API_KEY_ENV, LabelStudioSettings

log = logging.getLogger(__name__)

# label_studio_ml/api.py: the events its /webhook hands to a model; others answer "Unknown event"
TRAIN_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATION_DELETED", "START_TRAINING")
COUNTED_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
_PROJECT = re.compile(r"(\d+)(\.\d+)?")  # "ID.TIMESTAMP", as Label Studio names a project to its backend


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
        extractor = await asyncio.to_thread(SpERT.load, path, self.state.settings.load_options)
        info = self.describe(extractor, path)
        self.state.extractor, self.state.model_info, self.loaded = extractor, info, name
        log.info("serving model version %s (%s)", name, path)

    # -- training ------------------------------------------------------------------------

    def source(self) -> ExportSource:
        if self._source is not None:
            return self._source()
        if not (self.settings.url and self.settings.api_key):
            raise ClientError(503, "not_configured", "training needs Label Studio's URL and access token: "
                                                     f"--label-studio-url and ${LABEL_STUDIO_API_KEY_ENV}")
        try:
            return SdkSource(self.settings.url, self.settings.api_key)
        except SpertError as e:  # the SDK is missing: a set-up that cannot train, said as such (never a 500)
            raise ClientError(503, "not_configured", str(e)) from None

    def _job(self, export: Path, text_key: str, start_model: Path) -> FinetuneJob:
        s = self.settings
        return FinetuneJob(export=str(export), start_model=str(start_model), held_out=s.held_out, seed=s.seed,
                           text_field=s.text_field or text_key,
                           train_config=None if s.train_config is None else str(s.train_config),
                           overrides=s.train_overrides, spacy_model=self.state.settings.load_options.text_pipeline())

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
        chunks = [self._predict(inputs[i:i + step], i) for i in range(0, len(inputs), step)]
        preds = [p for chunk in await asyncio.gather(*chunks) for p in chunk]
        caps = self.settings.max_entities, self.settings.max_relations
        shown = [ls_prediction(p, config, mapping, version, *caps) for p in preds]
        results = [prediction for prediction, _ in shown]
        capped = sum(cut for _, cut in shown)
        if capped:
            log.info("project %d: %d of %d tasks' predictions cut to the best %d entities and %d relations "
                     "(--label-studio-max-entities, --label-studio-max-relations)", project, capped, len(preds), *caps)
        return {"results": results, "model_version": version}

    async def _predict(self, inputs: list[Input], offset: int) -> list[Prediction]:
        """The one prediction call: the model's threshold, overlapping entities kept, no given entities
        (the key of the server's micro-batches; ``tasks[offset]`` names the first input)."""
        return await self.state.predict(inputs, self.state.options(), lambda j: f"tasks[{offset + j}]")

    def _input(self, task: dict[str, Any], i: int, key: str) -> Input:
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
        rounds = [self.trainer.status(p, private=False) for p in sorted(self.trainer.rounds)]
        return {"serving": self.model_version, "pinned": self.store.pinned(), "rounds": rounds}
