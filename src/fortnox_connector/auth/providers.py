"""Token providers, one per OAuth mode; each satisfies ``fortnox.client.TokenProvider``.

- ``AuthorizationCodeTokens``: refresh tokens are single use, so a refresh happens under the tenant's
  store lock (across processes), after re-reading the stored token, and the new token is persisted with a
  compare-and-swap before it is used.
- ``ClientCredentialsTokens``: a service-account token per tenant, asked for again shortly before expiry.
- ``HostManagedTokens``: the host refreshes; an expired token is the host's to replace.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Final, Protocol

from fortnox_connector.auth.oauth import RECONNECT_HINT, Clock, FortnoxOAuth, utc_now
from fortnox_connector.contract.state import Token, TokenStore
from fortnox_connector.errors import ConnectorError, ReconnectRequired, TokenExpired
from fortnox_connector.secrets import Secret

log = logging.getLogger(__name__)

OnRefresh = Callable[[str, Token], None]
"""Observer told ``(tenant, new token)`` after a new token is stored. Never log the token's values."""

HOST_TOKEN_ENV: Final = "PAN_SEC_FORTNOX_OAUTH_ACCESS_TOKEN"  # noqa: S105 - a variable name


class LockingTokenStore(TokenStore, Protocol):
    """A token store with named locks (``StateStore`` is one)."""

    def lock(self, name: str) -> AbstractContextManager[None]: ...


def token_lock_name(tenant: str) -> str:
    """The store lock every refresher of ``tenant`` takes."""
    return f"token:{tenant}"


def _notify(on_refresh: OnRefresh | None, tenant: str, token: Token) -> None:
    if on_refresh is None:
        return
    try:
        on_refresh(tenant, token)
    except Exception as exc:  # an observer never breaks authentication
        log.warning(
            "token-refreshed observer failed for tenant %s: %s",
            tenant,
            type(exc).__name__,
            extra={"tenant": tenant},
        )


class AuthorizationCodeTokens:
    """Tokens from the authorization-code flow, refreshed through ``store`` (rotating refresh tokens)."""

    def __init__(
        self,
        tenant: str,
        oauth: FortnoxOAuth,
        store: LockingTokenStore,
        *,
        clock: Clock | None = None,
        refresh_margin_s: float = 300,
        on_refresh: OnRefresh | None = None,
    ) -> None:
        self.tenant = tenant
        self._oauth = oauth
        self._store = store
        self._clock = clock or oauth.clock  # the clock that stamped expires_at
        self._margin = refresh_margin_s
        self._on_refresh = on_refresh
        self._guard = threading.Lock()
        self._current: Token | None = None
        self._rejected: Secret | None = None  # access token Fortnox answered 401 to
        self._dead_refresh: Secret | None = None  # refresh token Fortnox called invalid_grant

    def access_token(self) -> Secret:
        with self._guard:
            token = self._current
        if token is None:
            token = self._load()
        if self._usable(token):
            with self._guard:
                self._current = token
            return token.access_token
        token = self._refresh_locked()
        with self._guard:
            self._current = token
        return token.access_token

    def invalidate(self, token: Secret) -> None:
        with self._guard:
            self._rejected = token
            if self._current is not None and self._current.access_token == token:
                self._current = None

    def extra_headers(self) -> dict[str, str]:
        return {}

    # -- internals ---------------------------------------------------------------------------
    def _usable(self, token: Token) -> bool:
        with self._guard:
            rejected = self._rejected
        return token.access_token != rejected and not token.expires_within(self._clock(), self._margin)

    def _load(self) -> Token:
        token = self._store.load_token(self.tenant)
        if token is None:
            raise ReconnectRequired(
                "the tenant has not connected Fortnox yet",
                tenant=self.tenant,
                hint=f"run `fortnox-connector connect {self.tenant}` (or the host's connect flow).",
            )
        return token

    def _reconnect(self, why: str) -> ReconnectRequired:
        return ReconnectRequired(why, tenant=self.tenant, hint=RECONNECT_HINT)

    def _refresh_locked(self) -> Token:
        with self._store.lock(token_lock_name(self.tenant)):
            stored = self._load()  # re-read: another worker may have refreshed while we waited
            if self._usable(stored):
                return stored
            old_refresh = stored.refresh_token
            if old_refresh is None:
                raise self._reconnect("the stored Fortnox token has no refresh token")
            if old_refresh == self._dead_refresh:
                raise self._reconnect("Fortnox already rejected this tenant's refresh token")
            try:
                new = self._oauth.refresh(old_refresh)
            except ReconnectRequired as exc:
                self._dead_refresh = old_refresh
                raise exc.with_tenant(self.tenant) from None
            except ConnectorError as exc:
                raise exc.with_tenant(self.tenant) from None
            if new.refresh_token is None:  # a server that does not rotate keeps the old one valid
                new = dataclasses.replace(new, refresh_token=old_refresh)
            if self._store.swap_token(self.tenant, old_refresh, new):
                log.info(
                    "refreshed the Fortnox token of tenant %s", self.tenant, extra={"tenant": self.tenant}
                )
                _notify(self._on_refresh, self.tenant, new)
                return new
            # Someone stored another token without our lock (e.g. a reconnect): theirs wins.
            log.warning(
                "tenant %s: a newer token was stored during refresh; using it",
                self.tenant,
                extra={"tenant": self.tenant},
            )
            return self._load()


def connect_tenant(
    tenant: str,
    oauth: FortnoxOAuth,
    store: LockingTokenStore,
    code: str | Secret,
    *,
    on_refresh: OnRefresh | None = None,
) -> Token:
    """Finish a customer's authorization: trade ``code`` for tokens and store them for ``tenant``.

    Replaces whatever the tenant had (a reconnect), under the same lock refreshers take.
    """
    try:
        token = oauth.exchange_code(code)
    except ConnectorError as exc:
        raise exc.with_tenant(tenant) from None
    with store.lock(token_lock_name(tenant)):
        for _ in range(3):  # a writer outside the lock could slip in between read and swap
            current = store.load_token(tenant)
            if store.swap_token(tenant, current.refresh_token if current else None, token):
                break
        else:
            raise ConnectorError(
                "could not store the new Fortnox token", tenant=tenant, hint="retry the connect step."
            )
    log.info("stored a new Fortnox connection for tenant %s", tenant, extra={"tenant": tenant})
    _notify(on_refresh, tenant, token)
    return token


def adopt_refresh_token(
    tenant: str,
    oauth: FortnoxOAuth,
    store: LockingTokenStore,
    refresh_token: Secret,
    *,
    on_refresh: OnRefresh | None = None,
    dead_refresh: Secret | None = None,
) -> Token:
    """Take over a tenant connected elsewhere from its refresh token (``FORTNOX_OAUTH_REFRESH_TOKEN``).

    A seed is used once: when the store already holds a live token for ``tenant`` that token wins and no
    request is sent, since the seed a host keeps injecting was consumed (rotated) on first use. A stored
    token whose refresh token is ``dead_refresh`` (Fortnox said ``invalid_grant``) is no connection: the
    seed replaces it, so a tenant that lost its token recovers without losing its cursors. Otherwise the
    seed is refreshed at once, under the tenant's lock, and the result stored before it is returned.
    """
    with store.lock(token_lock_name(tenant)):
        current = store.load_token(tenant)
        expected = current.refresh_token if current is not None else None
        if current is not None and (dead_refresh is None or expected != dead_refresh):
            return current  # a live connection, or one stored since the caller found the old one dead
        try:
            token = oauth.refresh(refresh_token)
        except ConnectorError as exc:
            raise exc.with_tenant(tenant) from None
        if token.refresh_token is None:
            token = dataclasses.replace(token, refresh_token=refresh_token)
        if not store.swap_token(tenant, expected, token):  # pragma: no cover - a writer outside the lock
            raise ConnectorError(
                "another token was stored while adopting the seeded refresh token",
                tenant=tenant,
                hint="run again: the stored token will be used.",
            )
    log.info(
        "%s the Fortnox connection of tenant %s from its seeded refresh token",
        "replaced the dead" if current is not None else "adopted",
        tenant,
        extra={"tenant": tenant},
    )
    _notify(on_refresh, tenant, token)
    return token


class ClientCredentialsTokens:
    """Service-account tokens (client-credentials flow with the ``TenantId`` header), cached per tenant."""

    def __init__(
        self,
        tenant: str,
        fortnox_tenant_id: str,
        oauth: FortnoxOAuth,
        *,
        scopes: Iterable[str] | None = None,
        clock: Clock | None = None,
        renew_margin_s: float = 300,
        on_refresh: OnRefresh | None = None,
    ) -> None:
        self.tenant = tenant
        self.fortnox_tenant_id = str(fortnox_tenant_id)
        self._oauth = oauth
        self._scopes = tuple(scopes) if scopes else None
        self._clock = clock or oauth.clock
        self._margin = renew_margin_s
        self._on_refresh = on_refresh
        self._lock = threading.Lock()
        self._token: Token | None = None

    def access_token(self) -> Secret:
        with self._lock:
            token = self._token
            if token is None or token.expires_within(self._clock(), self._margin):
                try:
                    token = self._oauth.client_credentials(self.fortnox_tenant_id, self._scopes)
                except ReconnectRequired as exc:
                    exc.hint = (
                        "the customer's Fortnox administrator must approve the integration's service "
                        "account again (authorize with account_type=service)."
                    )
                    raise exc.with_tenant(self.tenant) from None
                except ConnectorError as exc:
                    raise exc.with_tenant(self.tenant) from None
                self._token = token
                _notify(self._on_refresh, self.tenant, token)
            return token.access_token

    def invalidate(self, token: Secret) -> None:
        with self._lock:
            if self._token is not None and self._token.access_token == token:
                self._token = None

    def extra_headers(self) -> dict[str, str]:
        return {}


class FixedToken:
    """One access token, used as is and never refreshed: a freshly issued token (the end of a connect) or a
    token a script or test already holds. A 401 is final here; ``HostManagedTokens`` adds the expiry check."""

    def __init__(self, token: Secret | str) -> None:
        self._token = token if isinstance(token, Secret) else Secret(token)

    def access_token(self) -> Secret:
        return self._token

    def invalidate(self, token: Secret) -> None:
        return None

    def extra_headers(self) -> dict[str, str]:
        return {}


class HostManagedTokens:
    """A token the host injects (as Pandium does) and refreshes itself; this never refreshes."""

    def __init__(
        self, tenant: str, token: Token, *, clock: Clock = utc_now, source: str = HOST_TOKEN_ENV
    ) -> None:
        self.tenant = tenant
        self._clock = clock
        self._source = source
        self._lock = threading.Lock()
        self._token = token
        self._rejected = False

    def replace(self, token: Token) -> None:
        """The host injected a new token."""
        with self._lock:
            self._token = token
            self._rejected = False

    def access_token(self) -> Secret:
        with self._lock:
            token, rejected = self._token, self._rejected
        if rejected:
            raise self._expired("Fortnox rejected the host-provided access token")
        if token.expires_within(self._clock(), 0):
            raise self._expired("the host-provided Fortnox access token has expired")
        return token.access_token

    def invalidate(self, token: Secret) -> None:
        with self._lock:
            if token == self._token.access_token:
                self._rejected = True

    def extra_headers(self) -> dict[str, str]:
        return {}

    def _expired(self, why: str) -> TokenExpired:
        return TokenExpired(
            why,
            tenant=self.tenant,
            hint=f"the host must refresh the token and inject it as {self._source} (or its equivalent).",
        )
