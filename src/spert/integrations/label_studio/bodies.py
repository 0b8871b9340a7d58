"""The request bodies Label Studio sends to its ML backend, and reading one from a request.

Shapes follow HumanSignal/label-studio-ml-backend 2.0 (``label_studio_ml/api.py``). Label
Studio sends more fields than the backend reads; they are allowed and ignored, except in
our own ``/versions/pin``. A body that is not JSON is a 400, a wrong field a 422 naming it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spert.serve.protocol import Body, read_json, validate_body


class _LabelStudioBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # Label Studio sends more than we read


class PredictBody(_LabelStudioBody):
    tasks: list[dict[str, Any]]
    project: str | int
    label_config: str
    params: dict[str, Any] | None = None


class SetupBody(_LabelStudioBody):
    project: str | int
    label_config: str | None = Field(None, alias="schema")  # the project's labelling config


class WebhookProject(_LabelStudioBody):
    id: int
    label_config: str | None = None


class WebhookBody(_LabelStudioBody):
    action: str
    project: WebhookProject | None = None


class PinBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str | None


def read_body(model: type[Body], raw: bytes) -> Body:
    """A request body checked against ``model`` as the server checks its own
    (:func:`spert.serve.protocol.validate_body`): a wrong field is a 422 naming it."""
    return validate_body(model, read_json(raw))
