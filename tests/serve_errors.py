"""The check of a JSON error body that every server test shares (``spert serve`` and its Label Studio backend)."""

from __future__ import annotations

_UNCHECKED = object()


def error(response, status: int, code: str = "invalid", field: str | None | object = _UNCHECKED) -> dict:
    """``response`` is the error ``status`` with code ``code``; when ``field`` is given, the body names it
    (``None``: names none), and so does its message. Returns the body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["error"] == code, body
    if field is not _UNCHECKED:
        assert body["field"] == field, body
        if field is not None:
            assert f"'{field}'" in body["message"], body
    return body
