"""The basic auth Label Studio sends to its ML backend (its connection's user and password).

Only ``/label-studio`` checks it; the server's own endpoints keep their bearer token.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable

from fastapi import Request

from spert.serve.protocol import ClientError


def basic_auth(expected: str | None) -> Callable[[Request], None]:
    """A dependency that answers 401 unless the request sends ``expected`` (``USER:PASSWORD``);
    ``None``: no check."""
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
