"""The operator's credential: HTTP Basic (user ``operator``) or a bearer token, compared in constant time.

No credential configured means the operator pages are closed (403 saying which variable to set), never
open: a tenants page lists customers and their errors, and its buttons run and pause them.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from fortnox_connector.runtime.web.settings import WEB_TOKEN_ENV, WebSettings

OPERATOR = "operator"


def _presented(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password if user == OPERATOR else None
    return None


def operator_denial(request: Request, settings: WebSettings) -> Response | None:
    """None when the request carries the operator's credential, else the answer that refuses it."""
    if settings.operator_token is None:
        return PlainTextResponse(
            f"The operator pages are closed: set {WEB_TOKEN_ENV} to open them.", status_code=403
        )
    presented = _presented(request)
    if presented is not None and hmac.compare_digest(
        presented.encode(), settings.operator_token.reveal().encode()
    ):
        return None
    return PlainTextResponse(
        "Operator credentials required.",
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="fortnox-connector operators", charset="UTF-8"'},
    )
