"""What an answer means: a success, worth another try, or a typed error (singer-sdk's split: deciding what
an answer is apart from deciding whether and when to try again, which ``sending`` does).

| answer | verdict |
|---|---|
| 2xx | success (``None``) |
| 429 | retriable for every method: Fortnox did not process the request |
| 5xx | retriable for safe requests (``retry.is_safe``); ``AmbiguousWrite`` for a POST (it may be done) |
| anything else | the typed error of its status and Fortnox code (``errors.py``) |

Error bodies are read in all three of Fortnox's shapes (``wire.parse_error_body``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import httpx

from fortnox_connector.fortnox.errors import (
    CODE_INVALID_LOGIN,
    CODE_INVOICE_NOT_FOUND,
    CODE_NO_API_LICENCE,
    LICENCE_CODES,
    SCOPE_CODES,
    AmbiguousWrite,
    FortnoxError,
    FortnoxForbidden,
    FortnoxUnauthorized,
    FortnoxUnavailable,
    FortnoxValidationError,
    MissingLicence,
    MissingScope,
    NotFound,
    RateLimited,
    oauth_hint,
)
from fortnox_connector.fortnox.retry import is_safe
from fortnox_connector.fortnox.wire import ErrorBody, parse_error_body

E = TypeVar("E", bound=FortnoxError)

# The scope each resource needs (Fortnox "Scopes" page), named in MissingScope hints.
_SCOPES = {
    "invoicepayments": "payment",
    "invoices": "invoice",
    "companyinformation": "companyinformation",
    "modesofpayments": "settings",
    "currencies": "currency",
    "customers": "customer",
}


@dataclass(frozen=True, slots=True)
class Retriable:
    """An answer worth another try. ``error`` is what to raise when the tries run out."""

    error: FortnoxError
    throttled: bool  # a 429: every request of the pair pauses
    retry_after: str | None = None  # the 429's ``Retry-After`` header, as sent


def classify(response: httpx.Response, *, method: str, path: str, tenant: str) -> Retriable | None:
    """``None`` for a 2xx, ``Retriable`` for a 429 or a safe request's 5xx; raises the typed error else.

    ``method`` and ``path`` are the request's as the caller wrote them (they name it in the error).
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    body = parse_error_body(response.content)
    if status == 429:
        error = fortnox_error(RateLimited, status, body, method, path, tenant)
        return Retriable(error, throttled=True, retry_after=response.headers.get("Retry-After"))
    if status >= 500 and is_safe(method, path):
        return Retriable(fortnox_error(FortnoxUnavailable, status, body, method, path, tenant), False)
    if status >= 500:
        raise fortnox_error(AmbiguousWrite, status, body, method, path, tenant)
    raise fortnox_error(error_class(status, body), status, body, method, path, tenant)


def error_class(status: int, error: ErrorBody) -> type[FortnoxError]:
    """The class of a final error answer: Fortnox's code first, then the status."""
    code = error.code
    if code in LICENCE_CODES:
        return MissingLicence
    if code in SCOPE_CODES:
        return MissingScope
    if status == 404 or code == CODE_INVOICE_NOT_FOUND:
        return NotFound
    if status == 401 or code in CODE_INVALID_LOGIN:
        return FortnoxUnauthorized
    return _BY_STATUS.get(status, FortnoxUnavailable if status >= 500 else FortnoxValidationError)


_BY_STATUS: dict[int, type[FortnoxError]] = {403: FortnoxForbidden, 429: RateLimited}


def fortnox_error(cls: type[E], status: int, error: ErrorBody, method: str, path: str, tenant: str) -> E:
    """``cls`` with a message naming method, path, status, code and Fortnox's text, and the fix."""
    what = f"Fortnox answered {status} to {method} {path}"
    if error.code is not None:
        what += f" with code {error.code}"
    if error.oauth_error:
        what += f" ({error.oauth_error})"
    if error.message:
        what += f": {error.message}"
    if cls is AmbiguousWrite:
        what += "; it may or may not have been done"
    return cls(
        what,
        status=status,
        code=error.code,
        fortnox_message=error.message,
        method=method,
        path=path,
        tenant=tenant,
        hint=_hint(cls, error, path),
    )


def _hint(cls: type[FortnoxError], error: ErrorBody, path: str) -> str | None:
    """A fix more precise than the class's own, when the answer tells one (``None``: the class's)."""
    if cls is MissingLicence and error.code == CODE_NO_API_LICENCE:
        return "the company has no Fortnox API (integration) licence: the customer must add it in Fortnox"
    scope = _scope_of(path)
    if cls is MissingScope and scope:
        return f"reconnect the tenant granting the Fortnox scope '{scope}'"
    return oauth_hint(error.oauth_error)


def _scope_of(path: str) -> str | None:
    parts = [p for p in path.split("/") if p]
    return _SCOPES.get(parts[1]) if len(parts) > 1 and parts[0] == "3" else None
