"""Errors of the Fortnox REST API, mapped from Fortnox's status and error code.

Every message names the HTTP method and path (never query values, never headers), Fortnox's code and
text, and the fix (``hint``); ``str()`` adds the tenant (see ``ConnectorError``).
"""

from __future__ import annotations

from fortnox_connector.errors import AuthError, ConnectorError

# Fortnox error codes the client acts on (docs: Fortnox "Errors" page; others' issue trackers).
CODE_INVALID_CONTENT_TYPE = 1000031
CODE_NO_ACTIVE_LICENCE = 2001101
CODE_NO_API_LICENCE = 2001103
CODE_NOT_AUTHORISED_FOR_SCOPE = 2000663
CODE_NO_PERMISSION_TO_LIST_PAYMENTS = 2003330
CODE_INVOICE_NOT_FOUND = 2000434
CODE_INVALID_LOGIN = frozenset({2000310, 2000311})

SCOPE_CODES = frozenset({CODE_NOT_AUTHORISED_FOR_SCOPE, CODE_NO_PERMISSION_TO_LIST_PAYMENTS})
LICENCE_CODES = frozenset({CODE_NO_ACTIVE_LICENCE, CODE_NO_API_LICENCE})


class FortnoxError(ConnectorError):
    """Fortnox refused or failed a request.

    ``status`` is the HTTP status (None when no answer came), ``code`` Fortnox's error code (None when it
    gave none), ``fortnox_message`` Fortnox's own text (often Swedish), ``method``/``path`` the request.
    """

    default_hint: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        fortnox_message: str | None = None,
        method: str | None = None,
        path: str | None = None,
        tenant: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, tenant=tenant, hint=hint if hint is not None else self.default_hint)
        self.status = status
        self.code = code
        self.fortnox_message = fortnox_message
        self.method = method
        self.path = path


class FortnoxUnauthorized(FortnoxError, AuthError):
    """401: Fortnox rejected the access token, also after a fresh one was fetched."""

    default_hint = (
        "the access token was rejected twice; check that the tenant's connection is still authorised "
        "in Fortnox and reconnect it if it was revoked"
    )


class FortnoxForbidden(FortnoxError):
    """403: authenticated but not allowed."""

    default_hint = "check the Fortnox user's permissions and the integration's scopes; reconnect if needed"


class MissingLicence(FortnoxForbidden):
    """The company lacks a Fortnox licence (2001101 for the scope, 2001103 for the API)."""

    default_hint = "the company lacks the licence for this scope: the customer must add it in Fortnox"


class MissingScope(FortnoxForbidden):
    """The token was not granted the scope this call needs (2000663, 2003330)."""

    default_hint = "reconnect the tenant granting the missing scope"


class NotFound(FortnoxError):
    """404 or 2000434: the record does not exist (or was deleted)."""

    default_hint = "check the number; the record may have been deleted in Fortnox"


class FortnoxValidationError(FortnoxError):
    """Another 4xx: Fortnox refused the request's content (its message says which field)."""

    default_hint = "correct the request as Fortnox's message says; retrying it unchanged will fail again"


class RateLimited(FortnoxError):
    """429 still after the bounded retries (or a ``Retry-After`` too long to wait). ``retry_after`` in s."""

    default_hint = (
        "Fortnox allows 25 requests per 5 s per client id and tenant; run again later and make sure one "
        "process at a time calls Fortnox for this tenant"
    )

    retry_after: float | None = None


class FortnoxUnavailable(FortnoxError):
    """5xx, timeouts or connection errors still after the bounded retries."""

    default_hint = "Fortnox or the network is failing; run again later (check status.fortnox.se)"


class MalformedResponse(FortnoxError):
    """A 2xx answer that is not JSON, lacks the expected key, or holds a record that cannot be read."""

    default_hint = "Fortnox answered something the connector cannot read; report it with the path and time"


class AmbiguousWrite(FortnoxError):
    """A POST whose outcome is unknown (timeout, dropped connection, 5xx): it may or may not have been done.

    Never retried blindly: the caller must look (e.g. list the invoice's payments) before writing again.
    """

    default_hint = (
        "look in Fortnox whether the record was created (e.g. the invoice's payments) before trying again"
    )


def oauth_hint(oauth_error: str | None) -> str | None:
    """A fix for an OAuth-style error body seen on the API."""
    if oauth_error in ("invalid_grant", "invalid_token"):
        return "the tenant's consent is gone: the customer must reconnect the integration"
    if oauth_error == "invalid_client":
        return "the client id or secret is wrong: check the connector's credentials"
    return None
