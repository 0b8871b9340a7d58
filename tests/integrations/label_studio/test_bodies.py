"""Label Studio's request bodies, checked as the server checks its own: the field named as /v1 names it."""

from __future__ import annotations

import json

import pytest

from spert.integrations.label_studio.bodies import PinBody, PredictBody, SetupBody, read_body
from spert.serve.protocol import ClientError


@pytest.mark.parametrize("model, obj, field, message", [
    (PredictBody, [1, 2], "body", "must be a JSON object, got an array"),
    (PredictBody, {"tasks": [5], "project": "7", "label_config": "x"}, "tasks[0]", "valid dictionary"),
    (PinBody, {"version": None, "x": 1}, "x", "unknown field; the fields are version"),
    (SetupBody, {"project": 1, "schema": 5}, "schema", "valid string"),
])
def test_a_wrong_field_is_named(model, obj, field, message):
    with pytest.raises(ClientError) as e:
        read_body(model, json.dumps(obj).encode())
    assert e.value.status == 422 and e.value.field == field and message in e.value.message


def test_what_label_studio_adds_is_allowed():
    body = read_body(SetupBody, json.dumps({"project": "7.1", "schema": "<View/>", "hostname": "h"}).encode())
    assert body.label_config == "<View/>" and body.project == "7.1"
