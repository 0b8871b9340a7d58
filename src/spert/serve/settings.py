"""Typed settings of ``spert serve``: the model, the micro-batcher and every limit.

Each default is written here and nowhere else; the command's flags map onto these fields
one to one (``--max-chars`` is ``max_chars``) and take their defaults, bounds and most help
texts from them, as they take the environment variables' names from here. Settings reach
uvicorn's worker processes as JSON in the environment variable :data:`SETTINGS_ENV`, since
uvicorn starts several workers from an import string, not from an object.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spert.errors import ConfigError
from spert.infer.options import LoadOptions, PredictOptions, default

SETTINGS_ENV = "SPERT_SERVE_SETTINGS"
API_KEY_ENV = "SPERT_API_KEY"
LABEL_STUDIO_URL_ENV = "LABEL_STUDIO_URL"  # the names Label Studio's own ML backend examples read
LABEL_STUDIO_API_KEY_ENV = "LABEL_STUDIO_API_KEY"
LABEL_STUDIO_AUTH_ENV = "SPERT_LABEL_STUDIO_AUTH"  # the backend's basic auth, USER:PASSWORD


class LabelStudioSettings(BaseModel):
    """The Label Studio ML backend (``spert serve --label-studio``): where Label Studio is, which
    projects may use it, where model versions go and how a training round runs."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="Label Studio's URL, for fetching annotations "
                                              f"(default: ${LABEL_STUDIO_URL_ENV})")
    api_key: str | None = Field(None, repr=False, description="Label Studio access token "
                                                              f"(default: ${LABEL_STUDIO_API_KEY_ENV})")
    projects: list[int] = Field(default_factory=list, description="project ids allowed to predict and train "
                                                                  "(none given: every project of the token)")
    versions_dir: Path = Field(..., description="where trained model versions go")
    basic_auth: str | None = Field(None, repr=False, description="USER:PASSWORD that Label Studio must send "
                                                                 "(its ML backend 'basic auth'); None: no check")
    held_out: float = Field(0.2, gt=0, lt=1, description="share of annotated tasks scored, not trained on")
    train_every: int = Field(0, ge=0, description="train after every N new or updated annotations (0: only "
                                                  "when Label Studio asks)")
    train_config: Path | None = Field(None, description="spert train YAML for the backend's fine-tuning "
                                                        "(default: the model's settings and spert train's "
                                                        "defaults)")
    train_overrides: dict[str, Any] = Field(default_factory=dict, description="training settings over the file's")
    text_field: str | None = Field(None, description="task data key of the text (default: the labelling "
                                                     "config's Text tag)")
    seed: int = Field(42, description="seed of the held-out split")
    max_entities: int = Field(100, ge=1, description="most entities in one task's prediction: the highest-scoring "
                                                     "(a model that finds too many would bury the annotator)")
    max_relations: int = Field(100, ge=1, description="most relations in one task's prediction: the "
                                                      "highest-scoring between the entities kept")

    @classmethod
    def for_model(cls, model: Path, versions_dir: Path | None = None, **values: Any) -> LabelStudioSettings:
        """The settings of a backend serving ``model``: its versions in ``versions_dir`` (default
        MODEL.versions beside the model directory), the settings' defaults where ``values`` are None."""
        model = model.resolve()
        return cls(versions_dir=(versions_dir or model.with_name(model.name + ".versions")).resolve(),
                   **{k: v for k, v in values.items() if v is not None})

    def resolved(self) -> LabelStudioSettings:
        """With the URL and token from the environment where the settings give none."""
        return self.model_copy(update={"url": self.url or os.environ.get(LABEL_STUDIO_URL_ENV),
                                       "api_key": self.api_key or os.environ.get(LABEL_STUDIO_API_KEY_ENV)})


class ServeSettings(BaseModel):
    """How ``spert serve`` runs: what it loads, how it batches, what it accepts."""

    model_config = ConfigDict(extra="forbid")

    model: Path = Field(..., description="model directory (spert train or spert convert)")
    load_options: LoadOptions = Field(default_factory=LoadOptions,
                                      description="how the model is loaded and raw text split (SpERT.load's options)")
    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0: every interface)")
    port: int = Field(8000, ge=0, le=65535, description="port to listen on")
    workers: int = Field(1, ge=1, description="worker processes, each with its own model (PyTorch threads are "
                                              "shared out among them)")
    threads: int | None = Field(None, ge=1, description="PyTorch threads per worker (default: cores / workers)")

    # micro-batching
    max_batch_size: int = Field(32, ge=1, description="most documents in one model call, gathered across requests")
    max_wait_ms: float = Field(20.0, ge=0, description="longest wait for a batch to fill under concurrent load "
                                                      "(never waits for a lone client)")
    batch_size: int = Field(default(PredictOptions, "batch_size"), ge=1,
                            description="sentences per forward pass within a model call")
    max_queue: int = Field(1024, ge=1, description="documents waiting for the model before requests get 503")

    # limits (client errors name the field and the limit)
    max_body_bytes: int = Field(1_000_000, ge=1, description="largest request body in bytes (else 413)")
    max_chars: int = Field(10_000, ge=1, description="most characters in one document")
    max_texts: int = Field(64, ge=1, description="most documents in one request")
    max_entities: int = Field(100, ge=1, description="most given entities in one document (/v1/relations)")
    timeout_s: float = Field(30.0, gt=0, description="seconds a request may take (else 503)")

    # access
    api_key: str | None = Field(None, repr=False, description="require 'Authorization: Bearer KEY' on /v1 and /ui")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS (none: CORS off)")
    access_log: bool = Field(True, description="log every request")

    # the Label Studio ML backend under /label-studio (spert.integrations.label_studio); None: off
    label_studio: LabelStudioSettings | None = Field(None, description="the Label Studio ML backend (None: off)")

    def torch_threads(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // self.workers)

    def to_environment(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_environment(cls) -> ServeSettings:
        raw = os.environ.get(SETTINGS_ENV)
        if raw is None:
            raise ConfigError(f"{SETTINGS_ENV} is not set; start the server with 'spert serve'")
        try:
            return cls.model_validate_json(raw)
        except ValidationError as e:
            raise ConfigError(f"{SETTINGS_ENV}: {e.errors()[0]['msg']}") from None
