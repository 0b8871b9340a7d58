"""``spert serve``: extraction over HTTP (FastAPI on uvicorn) with a web page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, List, Optional

import typer

from spert.cli.app import BACKEND, BATCH_SIZE, MODEL_DIR, VERBOSE, app, setup_logging

_API_KEY_ENV = "SPERT_API_KEY"  # the same name as spert.serve.settings.API_KEY_ENV (not imported: startup speed)


@app.command(epilog="Endpoints: POST /v1/extract, POST /v1/relations, GET /v1/model, GET /healthz, GET /readyz; "
                    "the web page at /, the API's documentation at /docs and /openapi.json. "
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
          backend: Optional[str] = BACKEND,
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
          verbose: bool = VERBOSE) -> None:
    """Serve extraction over HTTP: a JSON API, micro-batched across requests, and a web page."""
    import uvicorn

    from spert.model.checkpoint import read_meta
    from spert.serve.settings import SETTINGS_ENV, ServeSettings

    setup_logging(verbose)
    read_meta(model)  # a missing or foreign model directory stops here with one line, not in every worker
    load_options: dict[str, Any] = {"device": device}
    if spacy_model is not None:
        load_options["spacy_model"] = spacy_model
    if backend is not None:
        load_options["backend"] = backend
    settings = ServeSettings(model=model.resolve(), load_options=load_options, host=host, port=port,
                             workers=workers, threads=threads, max_batch_size=max_batch_size,
                             max_wait_ms=max_wait_ms, batch_size=batch_size, max_queue=max_queue,
                             max_body_bytes=max_body_bytes, max_chars=max_chars, max_texts=max_texts,
                             max_entities=max_entities, timeout_s=timeout, api_key=api_key or None,
                             cors_origins=cors_origin or [], access_log=access_log)
    os.environ[SETTINGS_ENV] = settings.to_environment()  # uvicorn's workers build the app from it
    uvicorn.run("spert.serve.server:app_from_environment", factory=True, host=host, port=port, workers=workers,
                access_log=access_log, timeout_graceful_shutdown=int(timeout) + 5, server_header=False,
                log_level="debug" if verbose else "info")
