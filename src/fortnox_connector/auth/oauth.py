"""Fortnox's OAuth 2.0 endpoints: authorize URL, code exchange, refresh, client credentials, revoke.

Requests are built with authlib's protocol helpers (which import no HTTP library) and sent with our own
httpx client, so authlib's httpx integration and its deprecation warning are never imported.
Responses are parsed as JSON whatever their Content-Type: Fortnox serves JSON errors as text/html.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request

from fortnox_connector.contract.state import Token
from fortnox_connector.errors import AuthError, ReconnectRequired
from fortnox_connector.secrets import Secret, redact

log = logging.getLogger(__name__)

DEFAULT_AUTH_BASE_URL: Final = "https://apps.fortnox.se"
DEFAULT_EXPIRES_IN: Final = 3600  # Fortnox access tokens live one hour
RECONNECT_HINT: Final = "the customer must reconnect the Fortnox integration (authorize the app again)."
CLIENT_HINT: Final = (
    "check the integration's client id and client secret (Fortnox developer portal) in the connector config."
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def new_state() -> str:
    """A random ``state`` value for an authorization request (CSRF protection)."""
    return str(generate_token(32))


def parse_scope(value: object) -> frozenset[str]:
    """A scope string (space- or comma-separated) or list as a set of scope names."""
    if isinstance(value, str):
        return frozenset(part for part in value.replace(",", " ").split() if part)
    if isinstance(value, list | tuple | set | frozenset):
        return frozenset(str(v) for v in value if str(v))
    return frozenset()


class FortnoxOAuth:
    """One Fortnox app (client id + secret) talking to ``{auth_base_url}/oauth-v1/...``.

    Methods raise ``ReconnectRequired`` when the grant is dead (``invalid_grant``), ``AuthError`` otherwise;
    no message ever contains a secret. ``token_requests`` counts requests sent to the token endpoint.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: Secret,
        *,
        auth_base_url: str = DEFAULT_AUTH_BASE_URL,
        redirect_uri: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30,
        clock: Clock = utc_now,
    ) -> None:
        if not client_id:
            raise AuthError("the Fortnox client id is empty", hint=CLIENT_HINT)
        if not isinstance(client_secret, Secret):
            raise TypeError("client_secret must be a Secret")
        self.client_id = client_id
        self._secret = client_secret
        self.auth_base_url = auth_base_url.rstrip("/")
        self.redirect_uri = redirect_uri
        self.clock = clock
        self._http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False)
        self._count_lock = threading.Lock()
        self.token_requests = 0

    @property
    def token_url(self) -> str:
        return f"{self.auth_base_url}/oauth-v1/token"

    @property
    def revoke_url(self) -> str:
        return f"{self.auth_base_url}/oauth-v1/revoke"

    # -- browser step ------------------------------------------------------------------------
    def authorization_url(
        self, state: str, scopes: Iterable[str], *, offline: bool = True, service_account: bool = False
    ) -> str:
        """The URL to send the customer's browser to; ``state`` must be checked on the redirect back."""
        if not state:
            raise ValueError("state is required (use new_state())")
        extra: dict[str, str] = {}
        if offline:
            extra["access_type"] = "offline"
        if service_account:
            extra["account_type"] = "service"
        uri: str = prepare_grant_uri(
            f"{self.auth_base_url}/oauth-v1/auth",
            client_id=self.client_id,
            response_type="code",
            redirect_uri=self.redirect_uri,
            scope=" ".join(scopes),
            state=state,
            **extra,
        )
        return uri

    # -- token endpoint ----------------------------------------------------------------------
    def exchange_code(self, code: str | Secret) -> Token:
        """Trade the ``code`` from the redirect (valid 10 minutes) for a token set."""
        raw = code.reveal() if isinstance(code, Secret) else code
        body = prepare_token_request("authorization_code", code=raw, redirect_uri=self.redirect_uri)
        return self._token_request("authorization_code", body, sent=(raw,))

    def refresh(self, refresh_token: Secret) -> Token:
        """Use a (single-use) refresh token; the answer carries its successor."""
        raw = refresh_token.reveal()
        body = prepare_token_request("refresh_token", refresh_token=raw)
        return self._token_request("refresh_token", body, sent=(raw,))

    def client_credentials(self, tenant_id: str, scopes: Iterable[str] | None = None) -> Token:
        """A service-account token for Fortnox tenant ``tenant_id`` (no refresh token)."""
        if not str(tenant_id).strip():
            raise AuthError("the Fortnox TenantId is empty", hint="set the tenant's Fortnox DatabaseNumber.")
        scope = " ".join(scopes) if scopes else None
        extra = {"scope": scope} if scope else {}
        body = prepare_token_request("client_credentials", **extra)
        return self._token_request("client_credentials", body, headers={"TenantId": str(tenant_id).strip()})

    def revoke(self, refresh_token: Secret) -> None:
        """Revoke a refresh token (the customer's consent for this integration ends)."""
        raw = refresh_token.reveal()
        body = urlencode({"token_type_hint": "refresh_token", "token": raw})  # RFC 7009 form
        response = self._post(self.revoke_url, body, {}, "revoke")
        if response.status_code >= 400:
            raise self._error(response, "revoke", sent=(raw,))

    def close(self) -> None:
        self._http.close()

    # -- plumbing ----------------------------------------------------------------------------
    def _basic(self) -> str:
        pair = f"{self.client_id}:{self._secret.reveal()}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def _post(self, url: str, body: str, headers: dict[str, str], what: str) -> httpx.Response:
        all_headers = {
            "Authorization": self._basic(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            **headers,
        }
        if url == self.token_url:
            with self._count_lock:
                self.token_requests += 1
        try:
            response = self._http.post(url, content=body.encode(), headers=all_headers)
        except httpx.TransportError as exc:
            log.warning("Fortnox %s request failed: %s", what, type(exc).__name__)
            raise AuthError(
                f"could not reach Fortnox's OAuth endpoint for {what} ({type(exc).__name__})",
                hint="check network access to apps.fortnox.se and retry later.",
            ) from None
        log.debug("Fortnox %s request answered HTTP %s", what, response.status_code)
        return response

    def _token_request(
        self, grant: str, body: str, *, headers: dict[str, str] | None = None, sent: tuple[str, ...] = ()
    ) -> Token:
        now = self.clock()
        response = self._post(self.token_url, body, headers or {}, grant)
        if response.status_code >= 400:
            raise self._error(response, grant, sent=sent)
        data = _json(response) or {}
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise AuthError(
                f"Fortnox answered the {grant} request with HTTP {response.status_code} but no access token",
                hint="retry later; if it persists, report it with the time of the request.",
            )
        refresh = data.get("refresh_token")
        expires_in = _int(data.get("expires_in"), DEFAULT_EXPIRES_IN)
        token_type = data.get("token_type")
        return Token(
            access_token=Secret(access),
            expires_at=now + timedelta(seconds=expires_in),
            scope=parse_scope(data.get("scope")),
            refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
            token_type=token_type.lower() if isinstance(token_type, str) and token_type else "bearer",
        )

    def _error(self, response: httpx.Response, what: str, *, sent: tuple[str, ...]) -> AuthError:
        data = _json(response) or {}
        code = str(data.get("error") or "")
        described = data.get("error_description")
        secrets: tuple[Secret | str, ...] = (self._secret, self._basic(), *sent)
        detail = redact(str(described), *secrets)[:200] if described else ""
        said = f": {code}" + (f" ({detail})" if detail else "") if code else ""
        log.warning("Fortnox %s request refused: HTTP %s %s", what, response.status_code, code or "-")
        message = f"Fortnox refused the {what} request with HTTP {response.status_code}{said}"
        if code == "invalid_grant":
            return ReconnectRequired(message, hint=RECONNECT_HINT)
        if code == "invalid_client" or (response.status_code == 401 and not code):
            return AuthError(message, hint=CLIENT_HINT)
        if response.status_code >= 500:
            return AuthError(message, hint="Fortnox's OAuth service is failing: retry later.")
        return AuthError(message, hint="see Fortnox's error above; check scopes, licences and the app setup.")


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        value = json.loads(response.content or b"null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default
