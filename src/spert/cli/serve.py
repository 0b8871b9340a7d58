"""``spert serve``: extraction over HTTP (FastAPI on uvicorn) with a web page.

The flags are the fields of :class:`spert.serve.settings.ServeSettings` and, with
``--label-studio``, of :class:`~spert.serve.settings.LabelStudioSettings`: their defaults, bounds
and most help texts come from there (:func:`_option`), and so do the environment variables' names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer
from annotated_types import Ge, Le
from pydantic import BaseModel

from spert.cli.app import BACKEND, BATCH_SIZE, MODEL_DIR, PRECISION, VERBOSE, app, setup_logging
from spert.cli.predict import LANGUAGE
from spert.infer.options import LoadOptions, default
from spert.serve.settings import (
    API_KEY_ENV,
    LABEL_STUDIO_API_KEY_ENV,
    LABEL_STUDIO_AUTH_ENV,
    LABEL_STUDIO_URL_ENV,
    LabelStudioSettings,
    ServeSettings,
)


def _option(settings: type[BaseModel], name: str, *flags: str, **typer_options: Any) -> Any:
    """A Typer option for the settings' field ``name``: its default, its bounds (``ge``, ``le``) as
    ``min`` and ``max`` and its description as help, unless ``typer_options`` say otherwise."""
    field = settings.model_fields[name]
    bounds = {"min": m.ge for m in field.metadata if isinstance(m, Ge)} | \
        {"max": m.le for m in field.metadata if isinstance(m, Le)}
    default = None if field.default_factory is not None else field.default
    return typer.Option(default, *flags, **{"help": field.description, **bounds, **typer_options})


def _ls(name: str, *flags: str, **typer_options: Any) -> Any:
    return _option(LabelStudioSettings, name, *flags, **typer_options)


def _serve(name: str, *flags: str, **typer_options: Any) -> Any:
    return _option(ServeSettings, name, *flags, **typer_options)


# the Label Studio ML backend's flags (spert.serve.settings.LabelStudioSettings)
LABEL_STUDIO = typer.Option(False, "--label-studio",
                            help="add Label Studio's ML backend under /label-studio (pre-annotation and training "
                                 f"from a project; token from ${LABEL_STUDIO_API_KEY_ENV})")
LS_URL = _ls("url", "--label-studio-url", envvar=LABEL_STUDIO_URL_ENV, show_envvar=True,
             help="Label Studio's URL, to fetch annotations for training")
LS_PROJECT = _ls("projects", "--label-studio-project",
                 help="project id allowed to use the backend (repeatable; default: every project)")
VERSIONS_DIR = typer.Option(None, "--versions-dir",
                            help="where trained versions go (default: MODEL.versions beside the model directory)")
TRAIN_CONFIG = _ls("train_config", "--train-config", exists=True, dir_okay=False)
TRAIN_EVERY = _ls("train_every", "--train-every")
HELD_OUT = _ls("held_out", "--held-out", min=0.01, max=0.99)
LS_MAX_ENTITIES = _ls("max_entities", "--label-studio-max-entities")
LS_MAX_RELATIONS = _ls("max_relations", "--label-studio-max-relations")
LS_BASIC_AUTH = _ls("basic_auth", "--label-studio-basic-auth", envvar=LABEL_STUDIO_AUTH_ENV, show_envvar=True,
                    help="USER:PASSWORD Label Studio must send (its ML backend's basic auth)")


@app.command(epilog="Endpoints: POST /v1/extract, POST /v1/relations, GET /v1/model, GET /healthz, GET /readyz; "
                    "the web page at /, the API's documentation at /docs and /openapi.json; with --label-studio, "
                    "Label Studio's ML backend at /label-studio (health, setup, predict, webhook, training, "
                    "versions). "
                    "Stop with Ctrl+C or SIGTERM: requests in flight finish first.")
def serve(model: Path = MODEL_DIR, host: str = _serve("host", "--host"), port: int = _serve("port", "--port"),
          workers: int = _serve("workers", "--workers"), threads: Optional[int] = _serve("threads", "--threads"),
          device: str = typer.Option(default(LoadOptions, "device"), "--device", help="cpu, cuda, cuda:1, ..."),
          backend: Optional[str] = BACKEND, precision: str = PRECISION,
          language: Optional[str] = LANGUAGE,
          spacy_model: Optional[str] = typer.Option(None, "--spacy-model",
                                                    help="installed spaCy pipeline for words and sentences "
                                                         "(default: rule-based English, no download)"),
          max_batch_size: int = _serve("max_batch_size", "--max-batch-size"),
          max_wait_ms: float = _serve("max_wait_ms", "--max-wait-ms"),
          batch_size: int = BATCH_SIZE, max_queue: int = _serve("max_queue", "--max-queue"),
          max_body_bytes: int = _serve("max_body_bytes", "--max-body-bytes"),
          max_chars: int = _serve("max_chars", "--max-chars"), max_texts: int = _serve("max_texts", "--max-texts"),
          max_entities: int = _serve("max_entities", "--max-entities"),
          timeout: float = _serve("timeout_s", "--timeout", min=0.001),
          api_key: Optional[str] = _serve("api_key", "--api-key", envvar=API_KEY_ENV, show_envvar=True),
          cors_origin: Optional[List[str]] = _serve("cors_origins", "--cors-origin",
                                                    help="allow this origin by CORS (repeatable; default: CORS off)"),
          access_log: bool = _serve("access_log", "--access-log/--no-access-log"),
          label_studio: bool = LABEL_STUDIO, ls_url: Optional[str] = LS_URL,
          ls_project: Optional[List[int]] = LS_PROJECT, versions_dir: Optional[Path] = VERSIONS_DIR,
          train_config: Optional[Path] = TRAIN_CONFIG, train_every: int = TRAIN_EVERY,
          held_out: float = HELD_OUT, ls_basic_auth: Optional[str] = LS_BASIC_AUTH,
          ls_max_entities: int = LS_MAX_ENTITIES, ls_max_relations: int = LS_MAX_RELATIONS,
          verbose: bool = VERBOSE) -> None:
    """Serve extraction over HTTP: a JSON API, micro-batched across requests, and a web page."""
    from spert.serve.server import run

    setup_logging(verbose)
    ls_settings = LabelStudioSettings.for_model(
        model, versions_dir, url=ls_url, projects=ls_project, basic_auth=ls_basic_auth or None, held_out=held_out,
        train_every=train_every, train_config=train_config, max_entities=ls_max_entities,
        max_relations=ls_max_relations) if label_studio else None
    settings = ServeSettings(model=model.resolve(), load_options=LoadOptions.make(
        device=device, backend=backend, precision=precision, language=language, spacy_model=spacy_model),
        host=host, port=port, workers=workers, threads=threads, max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms, batch_size=batch_size, max_queue=max_queue, max_body_bytes=max_body_bytes,
        max_chars=max_chars, max_texts=max_texts, max_entities=max_entities, timeout_s=timeout,
        api_key=api_key or None, cors_origins=cors_origin or [], access_log=access_log, label_studio=ls_settings)
    if label_studio:
        from spert.integrations.label_studio.mount import APP_FACTORY as factory, check_ready

        check_ready(settings)
    else:
        from spert.serve.server import APP_FACTORY as factory
    run(settings, factory, verbose)
