"""The access token on every request, and the one re-authentication after a 401: an ``httpx.Auth``.

httpx runs ``auth_flow`` around each request (``response = yield request``), under the client's transports,
so the request it sends again after a 401 is paced and counted like any other. Whether there is a second try
depends on the token provider: after ``invalidate`` a provider that can get a new token (authorization code,
client credentials) gives one and the request goes once more with it; one that cannot (a host-managed token,
a fixed token) raises its own error (``TokenExpired``: the host must inject a new token) or gives the same
token back, and the 401 stands. The log says which happened.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Generator
from typing import Protocol

import httpx

from fortnox_connector.errors import ConnectorError
from fortnox_connector.secrets import Secret

log = logging.getLogger("fortnox_connector.fortnox")


class TokenProvider(Protocol):
    """Gives the client a current access token for its tenant (see ``fortnox_connector.auth``)."""

    def access_token(self) -> Secret:
        """A token believed valid now; refreshes first when the mode allows and it is about to expire."""
        ...

    def invalidate(self, token: Secret) -> None:
        """Fortnox answered 401 with ``token``: forget it so the next ``access_token()`` gets a new one."""
        ...

    def extra_headers(self) -> dict[str, str]:
        """Headers the mode needs on API calls besides Authorization (none today)."""
        ...


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer …`` from ``tokens``; after a 401, at most one more try with a new token."""

    def __init__(self, tokens: TokenProvider, tenant: str) -> None:
        self.tokens = tokens
        self.tenant = tenant
        self._lock = threading.Lock()
        self.resent = 0  # requests sent once more after a 401, with a new token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._token()
        self._sign(request, token)
        response = yield request
        if response.status_code != 401:
            return
        self.tokens.invalidate(token)
        fresh = self._fresh_token()
        if fresh == token:
            self._say(request, "Fortnox rejected the access token and there is no other to try; not retrying")
            return
        self._say(request, "Fortnox rejected the access token; sending the request once more with a new one")
        self._sign(request, fresh)
        with self._lock:
            self.resent += 1
        yield request

    def _fresh_token(self) -> Secret:
        try:
            return self._token()
        except ConnectorError:
            log.warning(
                "Fortnox rejected the access token and no new one can be had; not retrying",
                extra={"tenant": self.tenant},
            )
            raise

    def _token(self) -> Secret:
        try:
            return self.tokens.access_token()
        except ConnectorError as exc:
            exc.with_tenant(self.tenant)
            raise

    def _sign(self, request: httpx.Request, token: Secret) -> None:
        request.headers.update(self.tokens.extra_headers())
        request.headers["Authorization"] = f"Bearer {token.reveal()}"

    def _say(self, request: httpx.Request, message: str) -> None:
        log.info(
            message,
            extra={"tenant": self.tenant, "http_method": request.method, "http_path": request.url.path},
        )
