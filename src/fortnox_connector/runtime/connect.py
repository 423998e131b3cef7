"""``connect``: the customer's consent through the browser, received on a loopback HTTP listener.

The authorize URL carries a fresh random ``state``; Fortnox redirects the browser to
``http://127.0.0.1:<port>/callback?code=…&state=…``; the listener answers the browser, the state is
compared in constant time, and the code (valid ten minutes, single use) is exchanged at once. The company's
DatabaseNumber is read from ``/3/companyinformation`` with the new token *before* it is stored: a tenant
already bound to one company refuses a consent given for another (its cursors belong to the first), and its
old connection stays. Otherwise the token is stored under the tenant's token lock, the DatabaseNumber kept,
and a paused tenant resumed.

Service accounts (``--service-account``): the customer's administrator consents once with
``account_type=service``; afterwards the runtime asks for client-credentials tokens with the tenant's
DatabaseNumber and keeps no refresh token at all.
"""

from __future__ import annotations

import contextlib
import hmac
import html
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fortnox_connector.auth.oauth import new_state
from fortnox_connector.auth.providers import (
    ClientCredentialsTokens,
    FixedToken,
    adopt_refresh_token,
    token_lock_name,
)
from fortnox_connector.contract.state import Token
from fortnox_connector.errors import AuthError, ConfigError, ConnectorError, ReconnectRequired
from fortnox_connector.fortnox.client import DEFAULT_BASE_URL, FortnoxClient
from fortnox_connector.fortnox.shared_pacing import pacers_for
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.logs import tenant_scope
from fortnox_connector.runtime.store.base import AuthMode
from fortnox_connector.runtime.tenant_ids import check_database_number, check_same_database_number
from fortnox_connector.secrets import Secret

log = logging.getLogger(__name__)

CALLBACK_PATH = "/callback"
OpenUrl = Callable[[str], object]

_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>fortnox-connector</title></head>"
    "<body><h1>{title}</h1><p>{text}</p></body></html>"
)


@dataclass(frozen=True, slots=True)
class Callback:
    """What the redirect brought: a code (secret), or an OAuth error."""

    state: str | None
    code: Secret | None
    error: str | None
    error_description: str | None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # never log the query: it holds the code
        return

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH:
            self._answer(404, "Not found", "This listener only receives the Fortnox redirect.")
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items() if v}
        code = query.get("code")
        callback = Callback(
            state=query.get("state"),
            code=Secret(code) if code else None,
            error=query.get("error"),
            error_description=query.get("error_description"),
        )
        if callback.error or not callback.code:
            self._answer(400, "Not connected", "Fortnox did not grant access. Go back to the terminal.")
        else:
            self._answer(200, "Connected", "You can close this window and go back to the terminal.")
        self.server.deliver(callback)

    def _answer(self, status: int, title: str, text: str) -> None:
        body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class _Server(HTTPServer):
    def __init__(self, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.callback: Callback | None = None
        self.received = threading.Event()

    def deliver(self, callback: Callback) -> None:
        if self.callback is None:
            self.callback = callback
            self.received.set()


class LoopbackReceiver:
    """A one-shot listener on 127.0.0.1 for the OAuth redirect (RFC 8252 §7.3: loopback, any port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server(host, port)
        bound_host, bound_port = self._server.server_address[:2]
        self.redirect_uri = f"http://{bound_host!s}:{bound_port}{CALLBACK_PATH}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float | None) -> Callback | None:
        """The redirect's parameters, or None if none came within ``timeout`` seconds."""
        if not self._server.received.wait(timeout):
            return None
        return self._server.callback

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class Connected:
    """The result of a connect: the tenant, its Fortnox DatabaseNumber and company, the granted scopes."""

    tenant: str
    auth_mode: AuthMode
    fortnox_tenant_id: str
    company: str
    scope: frozenset[str]


def _check_callback(tenant: str, state: str, callback: Callback | None, timeout: float | None) -> Secret:
    if callback is None:
        raise AuthError(
            f"no answer from the browser within {timeout:g} s" if timeout else "no answer from the browser",
            tenant=tenant,
            hint="open the printed URL in a browser on this machine and approve the integration, then retry",
        )
    if callback.state is None or not hmac.compare_digest(callback.state, state):
        raise AuthError(
            "the redirect's state does not match the request (a forged or stale redirect)",
            tenant=tenant,
            hint="start the connect again and use only the newest URL",
        )
    if callback.error:
        hint = "approve the integration in Fortnox to connect it"
        if callback.error == "error_missing_license":
            hint = "the company lacks a Fortnox licence the integration needs; add it in Fortnox, then retry"
        raise AuthError(
            f"Fortnox refused the authorization: {callback.error}"
            + (f" ({callback.error_description})" if callback.error_description else ""),
            tenant=tenant,
            hint=hint,
        )
    assert callback.code is not None  # checked by the handler
    return callback.code


def _ensure_tenant(runtime: Runtime, tenant: str, mode: AuthMode, name: str | None) -> bool:
    """Add ``tenant`` if it is new (True) or check its auth mode (False)."""
    record = runtime.store.get_tenant(tenant)
    if record is None:
        runtime.store.add_tenant(tenant, display_name=name or tenant, auth_mode=mode)
        return True
    if record.auth_mode != mode:
        flag = "with" if mode == "client_credentials" else "without"
        raise ConfigError(
            f"the tenant uses {record.auth_mode}, not {mode}",
            field="auth_mode",
            tenant=tenant,
            hint=f"connect it {flag} --service-account, or remove it and add it again with the mode you want",
        )
    return False


@contextlib.contextmanager
def _all_or_nothing(runtime: Runtime, tenant: str, mode: AuthMode, name: str | None) -> Iterator[None]:
    """A connect is all or nothing: a tenant added for it is removed again when the connect fails.

    A half-made tenant (added, never connected) would be run by ``serve`` and paused on every run.
    """
    created = _ensure_tenant(runtime, tenant, mode, name)
    try:
        yield
    except BaseException:
        if created:
            runtime.store.remove_tenant(tenant)
            log.info("tenant %s was not connected: it was not kept", tenant, extra={"tenant": tenant})
        raise


def _company(runtime: Runtime, tenant: str, tokens: Any) -> tuple[str, str]:
    client_id, _ = runtime.settings.require_client(tenant)
    with FortnoxClient(
        tenant=tenant,
        tokens=tokens,
        client_id=client_id,
        base_url=runtime.settings.api_url or DEFAULT_BASE_URL,
        transport=runtime.http_transport(),
        pacers=pacers_for(runtime.pacers, runtime.rate_window),
    ) as client:
        info = client.company_information()
    return str(info.database_number or ""), info.company_name or ""


def _check_same_company(runtime: Runtime, tenant: str, database_number: str) -> None:
    """Refuse a connection to another Fortnox company than the one the tenant is bound to."""
    bound = runtime.store.require_tenant(tenant).fortnox_tenant_id
    if bound and database_number != bound:
        raise ConfigError(
            f"the consent was for another Fortnox company (DatabaseNumber {database_number}) than the "
            f"tenant's ({bound}); nothing was changed",
            field="fortnox_tenant_id",
            tenant=tenant,
            hint=f"run `fortnox-connector connect {tenant}` again and pick company {bound} in Fortnox; "
            "add the other company as a tenant of its own; or, if the tenant was never meant to be "
            f"{bound}, `fortnox-connector tenants remove {tenant}` (its cursors go too) and connect again",
        )


def _store_connection(runtime: Runtime, tenant: str, token: Token) -> None:
    """Replace the tenant's token under the lock every refresher takes (a reconnect wins over them)."""
    with runtime.store.lock(token_lock_name(tenant)):
        current = runtime.store.load_token(tenant)
        if not runtime.store.swap_token(tenant, current.refresh_token if current else None, token):
            raise ConnectorError(  # pragma: no cover - every writer of tokens takes this lock
                "could not store the new Fortnox token", tenant=tenant, hint="retry the connect step."
            )
    log.info("stored a new Fortnox connection for tenant %s", tenant)
    runtime.catalog.token_refreshed(tenant, token)  # observers get its expiry and scope only


def parse_redirect(url: str) -> Callback:
    """The parameters of the address the browser landed on (pasted by the user)."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(url.strip()).query).items() if v}
    code = query.get("code")
    return Callback(
        state=query.get("state"),
        code=Secret(code) if code else None,
        error=query.get("error"),
        error_description=query.get("error_description"),
    )


def connect(
    runtime: Runtime,
    tenant: str,
    *,
    open_url: OpenUrl,
    service_account: bool = False,
    timeout: float | None = 600,
    port: int = 0,
    display_name: str | None = None,
    redirect_uri: str | None = None,
    read_redirect: Callable[[], str] | None = None,
) -> Connected:
    """Run the browser consent for ``tenant`` (added if new) and store what it grants.

    By default the redirect comes back to a loopback listener on ``port`` (0: any free one). With
    ``redirect_uri`` (the app's registered one, served elsewhere) the user pastes the address the browser
    landed on and ``read_redirect`` returns it.
    """
    with tenant_scope(tenant):  # the auth library's lines name the tenant too
        mode: AuthMode = "client_credentials" if service_account else "authorization_code"
        runtime.settings.require_client(tenant)
        with _all_or_nothing(runtime, tenant, mode, display_name):
            state = new_state()
            with contextlib.ExitStack() as stack:
                receiver = None if redirect_uri else stack.enter_context(LoopbackReceiver(port=port))
                target = receiver.redirect_uri if receiver is not None else str(redirect_uri)
                url = consent_url(
                    runtime, tenant, state, redirect_uri=target, service_account=service_account
                )
                open_url(url)
                if receiver is not None:
                    callback = receiver.wait(timeout)
                else:
                    callback = parse_redirect(read_redirect()) if read_redirect is not None else None
                code = _check_callback(tenant, state, callback, timeout)
            return complete_consent(
                runtime, tenant, code, redirect_uri=target, service_account=service_account
            )


def consent_url(
    runtime: Runtime, tenant: str, state: str, *, redirect_uri: str, service_account: bool = False
) -> str:
    """The Fortnox authorize URL for ``tenant``'s consent, carrying ``state`` and coming back to
    ``redirect_uri`` (the loopback listener here, the web app's callback in ``runtime.web``)."""
    oauth = runtime.new_oauth(tenant=tenant, redirect_uri=redirect_uri)
    try:
        return oauth.authorization_url(state, runtime.settings.scopes, service_account=service_account)
    finally:
        oauth.close()


def complete_consent(
    runtime: Runtime,
    tenant: str,
    code: Secret,
    *,
    redirect_uri: str,
    service_account: bool = False,
    display_name: str | None = None,
) -> Connected:
    """Exchange a consent's ``code`` (its ``state`` already checked by the caller) and store what it grants.

    The company is checked before the token is stored: a consent given for another company must not
    replace the tenant's connection (its cursors and events belong to the company it was bound to).
    """
    mode: AuthMode = "client_credentials" if service_account else "authorization_code"
    with tenant_scope(tenant), _all_or_nothing(runtime, tenant, mode, display_name):
        oauth = runtime.new_oauth(tenant=tenant, redirect_uri=redirect_uri)
        try:
            token = oauth.exchange_code(code)
        except ConnectorError as exc:
            raise exc.with_tenant(tenant) from None
        finally:
            oauth.close()
        database_number, company = _company(runtime, tenant, FixedToken(token.access_token))
        _check_same_company(runtime, tenant, database_number)
        if service_account:  # the code only proved the consent; only its DatabaseNumber is kept
            return _connect_service_account(runtime, tenant, database_number)
        _store_connection(runtime, tenant, token)
        runtime.store.update_tenant(tenant, fortnox_tenant_id=database_number)
        runtime.store.resume_tenant(tenant)
        log.info("tenant %s connected to Fortnox company %s", tenant, database_number)
        return Connected(tenant, mode, database_number, company, token.scope)


def connect_service_account(runtime: Runtime, tenant: str, fortnox_tenant_id: str) -> Connected:
    """Use an administrator's service-account consent: check a client-credentials token works, keep the id."""
    with _all_or_nothing(runtime, tenant, "client_credentials", None):
        return _connect_service_account(runtime, tenant, fortnox_tenant_id)


def _connect_service_account(runtime: Runtime, tenant: str, fortnox_tenant_id: str) -> Connected:
    fortnox_tenant_id = check_database_number(fortnox_tenant_id, tenant=tenant)
    oauth = runtime.new_oauth(tenant=tenant)
    with tenant_scope(tenant):
        try:
            tokens = ClientCredentialsTokens(tenant, fortnox_tenant_id, oauth, clock=runtime.now)
            tokens.access_token()
            database_number, company = _company(runtime, tenant, tokens)
        finally:
            oauth.close()
        check_same_database_number(fortnox_tenant_id, database_number, tenant=tenant)
        _check_same_company(runtime, tenant, database_number)
    runtime.store.update_tenant(tenant, fortnox_tenant_id=database_number)
    runtime.store.resume_tenant(tenant)
    return Connected(
        tenant, "client_credentials", database_number, company, frozenset(runtime.settings.scopes)
    )


REFRESH_TOKEN_ENV = "FORTNOX_OAUTH_REFRESH_TOKEN"  # noqa: S105 - a variable name, declared in connector.yaml


@dataclass(frozen=True, slots=True)
class Adoption:
    """What an adopt did: ``seed_used`` (the seed was refreshed and stored); ``replaced_dead`` (it replaced
    a stored connection Fortnox no longer accepts)."""

    seed_used: bool
    replaced_dead: bool


def adopt_connection(
    runtime: Runtime, tenant: str, refresh_token: Secret, *, display_name: str | None = None
) -> tuple[Connected, Adoption]:
    """Take over a tenant connected elsewhere (another integration, a migration) from its refresh token.

    The seed is used once (``auth.adopt_refresh_token``): when the store already holds a live connection
    for ``tenant`` that one is kept and no request is sent. A stored connection that is dead (the tenant is
    paused for a reconnect, or its refresh token gets ``invalid_grant`` now) is replaced by the seed, and
    the tenant keeps its cursors and outbox. A new tenant is all or nothing: not kept if the adopt fails.
    """
    if not refresh_token:
        raise ConfigError(
            f"{REFRESH_TOKEN_ENV} is empty",
            field=REFRESH_TOKEN_ENV,
            tenant=tenant,
            hint=f"export {REFRESH_TOKEN_ENV} with the tenant's refresh token, or connect in the browser.",
        )
    with tenant_scope(tenant):
        runtime.settings.require_client(tenant)
        with _all_or_nothing(runtime, tenant, "authorization_code", display_name):
            return _adopt(runtime, tenant, refresh_token)


def _dead_refresh_token(runtime: Runtime, tenant: str) -> Secret | None:
    """The stored refresh token if the stored connection is dead (paused, or ``invalid_grant`` now)."""
    record = runtime.store.require_tenant(tenant)
    stored = runtime.store.load_token(tenant)
    if stored is None or stored.refresh_token is None:
        return None
    if record.paused:
        return stored.refresh_token
    try:
        runtime.token_provider(record).access_token()  # refreshes (and stores) only if it must
    except ReconnectRequired:
        return stored.refresh_token
    return None


def _adopt(runtime: Runtime, tenant: str, refresh_token: Secret) -> tuple[Connected, Adoption]:
    had_token = runtime.store.load_token(tenant) is not None
    dead = _dead_refresh_token(runtime, tenant)
    oauth = runtime.new_oauth(tenant=tenant)
    try:
        token = adopt_refresh_token(
            tenant,
            oauth,
            runtime.store,
            refresh_token,
            on_refresh=runtime.catalog.token_refreshed,
            dead_refresh=dead,
        )
    finally:
        oauth.close()
    used = not had_token or (dead is not None and token.refresh_token != dead)
    database_number, company = _company(runtime, tenant, FixedToken(token.access_token))
    try:
        _check_same_company(runtime, tenant, database_number)
    except ConfigError:
        if used:  # the seed's token was stored just now: it must not be polled with
            runtime.store.delete_token(tenant)
        raise
    runtime.store.update_tenant(tenant, fortnox_tenant_id=database_number)
    runtime.store.resume_tenant(tenant)
    if used and had_token:
        log.warning(
            "tenant %s: its stored Fortnox connection was dead; replaced it with the adopted refresh token "
            "(cursors kept)",
            tenant,
            extra={"tenant": tenant},
        )
    connected = Connected(tenant, "authorization_code", database_number, company, token.scope)
    return connected, Adoption(seed_used=used, replaced_dead=used and had_token)
