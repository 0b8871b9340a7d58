"""``spert serve``: extraction over HTTP (FastAPI on uvicorn) with a web page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List, Optional

import typer

from spert.cli.app import BACKEND, BATCH_SIZE, MODEL_DIR, PRECISION, VERBOSE, app, setup_logging
from spert.cli.predict import LANGUAGE

_API_KEY_ENV = "SPERT_API_KEY"  # the same name as spert.serve.settings.API_KEY_ENV (not imported: startup speed)
_LS_URL_ENV = "LABEL_STUDIO_URL"  # spert.serve.settings.LABEL_STUDIO_URL_ENV
_LS_AUTH_ENV = "SPERT_LABEL_STUDIO_AUTH"


# the Label Studio ML backend's flags (spert.serve.settings.LabelStudioSettings); None: the settings' default
LABEL_STUDIO = typer.Option(False, "--label-studio",
                            help="add Label Studio's ML backend under /label-studio (pre-annotation and training "
                                 "from a project; token from $LABEL_STUDIO_API_KEY)")
LS_URL = typer.Option(None, "--label-studio-url", envvar=_LS_URL_ENV, show_envvar=True,
                      help="Label Studio's URL, to fetch annotations for training")
LS_PROJECT = typer.Option(None, "--label-studio-project",
                          help="project id allowed to use the backend (repeatable; default: every project)")
VERSIONS_DIR = typer.Option(None, "--versions-dir",
                            help="where trained versions go (default: MODEL.versions beside the model directory)")
TRAIN_CONFIG = typer.Option(None, "--train-config", exists=True, dir_okay=False,
                            help="spert train YAML for the backend's fine-tuning")
TRAIN_EVERY = typer.Option(None, "--train-every", min=0, help="also train after every N new or updated annotations")
HELD_OUT = typer.Option(None, "--held-out", min=0.01, max=0.99,
                        help="share of annotated tasks scored, not trained on (default 0.2)")
LS_MAX_ENTITIES = typer.Option(None, "--label-studio-max-entities", min=1,
                               help="most entities in one task's prediction, the highest-scoring (default 100)")
LS_MAX_RELATIONS = typer.Option(None, "--label-studio-max-relations", min=1,
                                help="most relations in one task's prediction, the highest-scoring (default 100)")
LS_BASIC_AUTH = typer.Option(None, "--label-studio-basic-auth", envvar=_LS_AUTH_ENV, show_envvar=True,
                             help="USER:PASSWORD Label Studio must send (its ML backend's basic auth)")


@app.command(epilog="Endpoints: POST /v1/extract, POST /v1/relations, GET /v1/model, GET /healthz, GET /readyz; "
                    "the web page at /, the API's documentation at /docs and /openapi.json; with --label-studio, "
                    "Label Studio's ML backend at /label-studio (health, setup, predict, webhook, training, "
                    "versions). "
                    "Stop with Ctrl+C or SIGTERM: requests in flight finish first.")
def serve(model: Path = MODEL_DIR,
          host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (0.0.0.0: every interface)"),
          port: int = typer.Option(8000, "--port", min=0, max=65535, help="port to listen on"),
          workers: int = typer.Option(1, "--workers", min=1,
                                      help="worker processes, each with its own model (PyTorch threads are shared "
                                           "out among them)"),
          threads: Optional[int] = typer.Option(None, "--threads", min=1,
                                                help="PyTorch threads per worker (default: cores / workers)"),
          device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, ..."),
          backend: Optional[str] = BACKEND, precision: str = PRECISION,
          language: Optional[str] = LANGUAGE,
          spacy_model: Optional[str] = typer.Option(None, "--spacy-model",
                                                    help="installed spaCy pipeline for words and sentences "
                                                         "(default: rule-based English, no download)"),
          max_batch_size: int = typer.Option(32, "--max-batch-size", min=1,
                                             help="most documents in one model call, gathered across requests"),
          max_wait_ms: float = typer.Option(20.0, "--max-wait-ms", min=0,
                                            help="longest wait for a batch to fill under concurrent load"),
          batch_size: int = BATCH_SIZE,
          max_queue: int = typer.Option(1024, "--max-queue", min=1,
                                        help="documents waiting for the model before requests get 503"),
          max_body_bytes: int = typer.Option(1_000_000, "--max-body-bytes", min=1,
                                             help="largest request body in bytes (else 413)"),
          max_chars: int = typer.Option(10_000, "--max-chars", min=1, help="most characters in one document"),
          max_texts: int = typer.Option(64, "--max-texts", min=1, help="most documents in one request"),
          max_entities: int = typer.Option(100, "--max-entities", min=1,
                                           help="most given entities in one document (/v1/relations)"),
          timeout: float = typer.Option(30.0, "--timeout", min=0.001, help="seconds a request may take (else 503)"),
          api_key: Optional[str] = typer.Option(None, "--api-key", envvar=_API_KEY_ENV, show_envvar=True,
                                                help="require 'Authorization: Bearer KEY' on /v1 and /ui"),
          cors_origin: Optional[List[str]] = typer.Option(None, "--cors-origin",
                                                          help="allow this origin by CORS (repeatable; "
                                                               "default: CORS off)"),
          access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="log every request"),
          label_studio: bool = LABEL_STUDIO, ls_url: Optional[str] = LS_URL,
          ls_project: Optional[List[int]] = LS_PROJECT, versions_dir: Optional[Path] = VERSIONS_DIR,
          train_config: Optional[Path] = TRAIN_CONFIG, train_every: Optional[int] = TRAIN_EVERY,
          held_out: Optional[float] = HELD_OUT, ls_basic_auth: Optional[str] = LS_BASIC_AUTH,
          ls_max_entities: Optional[int] = LS_MAX_ENTITIES, ls_max_relations: Optional[int] = LS_MAX_RELATIONS,
          verbose: bool = VERBOSE) -> None:
    """Serve extraction over HTTP: a JSON API, micro-batched across requests, and a web page."""
    import uvicorn

    from spert.data.text import text_pipeline
    from spert.model.checkpoint import read_meta
    from spert.serve.settings import SETTINGS_ENV, ServeSettings

    setup_logging(verbose)
    read_meta(model)  # a missing or foreign model directory stops here with one line, not in every worker
    load_options: dict[str, Any] = {"device": device}
    text_pipeline(language, spacy_model)  # both given: one line here, not in every worker
    if language is not None:
        load_options["language"] = language
    if spacy_model is not None:
        load_options["spacy_model"] = spacy_model
    if backend is not None:
        load_options["backend"] = backend
    if precision != "fp32":
        load_options["precision"] = precision
    ls_settings = _label_studio_settings(model, ls_url, ls_project, versions_dir, ls_basic_auth,
                                         {"held_out": held_out, "train_every": train_every,
                                          "train_config": train_config, "max_entities": ls_max_entities,
                                          "max_relations": ls_max_relations}) if label_studio else None
    settings = ServeSettings(model=model.resolve(), load_options=load_options, host=host, port=port,
                             workers=workers, threads=threads, max_batch_size=max_batch_size,
                             max_wait_ms=max_wait_ms, batch_size=batch_size, max_queue=max_queue,
                             max_body_bytes=max_body_bytes, max_chars=max_chars, max_texts=max_texts,
                             max_entities=max_entities, timeout_s=timeout, api_key=api_key or None,
                             cors_origins=cors_origin or [], access_log=access_log, label_studio=ls_settings)
    os.environ[SETTINGS_ENV] = settings.to_environment()  # uvicorn's workers build the app from it
    uvicorn.run(_app_factory(label_studio), factory=True, host=host, port=port, workers=workers,
                access_log=access_log, timeout_graceful_shutdown=int(timeout) + 5, server_header=False,
                log_level="debug" if verbose else "info")


def _app_factory(label_studio: bool) -> str:
    if label_studio:
        from spert.integrations.label_studio.mount import APP_FACTORY
    else:
        from spert.serve.server import APP_FACTORY
    return APP_FACTORY


def _label_studio_settings(model: Path, url: Optional[str], projects: Optional[List[int]],
                           versions_dir: Optional[Path], basic_auth: Optional[str], given: dict[str, Any]):
    from spert.serve.settings import LabelStudioSettings

    model = model.resolve()
    return LabelStudioSettings(url=url, projects=projects or [], basic_auth=basic_auth or None,
                               versions_dir=(versions_dir or model.with_name(model.name + ".versions")).resolve(),
                               **{k: v for k, v in given.items() if v is not None})
