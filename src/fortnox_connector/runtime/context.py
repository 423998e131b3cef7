"""Opening a stored tenant through the contract: ``Runtime.session(tenant)`` → the connector's session.

``Runtime`` holds what every tenant shares in one process (settings, the store, the catalog, one HTTP
connection pool). For a run it gives the connector only what a host has — a ``TenantSpec`` with the
tenant's id, stored config, the app's client credentials, the store, the clock, a logger — and the
connector opens its own client (``catalog.connector.open``). The OAuth helpers below serve the connect
flow and ``check``, which are the Fortnox connector's tools.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from fortnox_connector.auth.oauth import DEFAULT_AUTH_BASE_URL, FortnoxOAuth, utc_now
from fortnox_connector.auth.providers import AuthorizationCodeTokens, ClientCredentialsTokens
from fortnox_connector.contract.connector import Session
from fortnox_connector.contract.rate import RateWindow
from fortnox_connector.contract.records import TenantSpec
from fortnox_connector.contract.state import Token
from fortnox_connector.errors import ConfigError
from fortnox_connector.fortnox.client import TokenProvider
from fortnox_connector.runtime.catalog import Catalog, load_catalog
from fortnox_connector.runtime.logs import tenant_logger, tenant_scope
from fortnox_connector.runtime.refreshes import refreshed
from fortnox_connector.runtime.settings import RuntimeSettings
from fortnox_connector.runtime.store import RuntimeStore, load_or_create_key, previous_keys, store_from_url
from fortnox_connector.runtime.store.base import TenantRecord

Clock = Callable[[], datetime]
DEFAULT_SCHEDULE = ("0 23 * * *", "UTC")  # for a connector that declares none


def open_store(settings: RuntimeSettings, env: Mapping[str, str] | None = None) -> RuntimeStore:
    """The state store ``settings.store_url`` names (SQLite under ``settings.home`` when unset); its key
    from ``env`` (default: the process's) or the 0600 key file in the home directory (created on first use).
    """
    key = load_or_create_key(settings.key_path, env=env)
    return store_from_url(settings.store_url, settings.db_path, key, previous_keys=previous_keys(env))


class SharedTransport(httpx.HTTPTransport):
    """One connection pool (and one TLS context) for every client of a runtime; clients cannot close it.

    Building a TLS context loads the CA bundle (tens of milliseconds); a client per tenant run would pay
    that every time, and keep-alive connections to Fortnox would not be reused across tenants.
    """

    def close(self) -> None:
        return None  # closed by ``Runtime.close`` through ``really_close``

    def really_close(self) -> None:
        super().close()


@dataclass
class Runtime:
    """One process's runtime: settings, store and catalog, and an OAuth client shared by every tenant."""

    settings: RuntimeSettings
    store: RuntimeStore
    catalog: Catalog = field(default_factory=load_catalog)
    now: Clock = utc_now
    transport: httpx.BaseTransport | None = None  # tests and embedding only
    # the connector's ``pacers`` extra (tests: a fresh registry, so tests do not share rate windows)
    pacers: object | None = None
    rate_window: RateWindow | None = None  # shared by the host's processes (Temporal workers: PostgreSQL)
    _oauth: FortnoxOAuth | None = field(default=None, init=False, repr=False)
    _guard: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    _shared: SharedTransport | None = field(default=None, init=False, repr=False)
    _service_tokens: dict[tuple[str, str], TokenProvider] = field(
        default_factory=dict, init=False, repr=False
    )

    @classmethod
    def open(cls, settings: RuntimeSettings, *, catalog: Catalog | None = None) -> Runtime:
        store = open_store(settings)
        return cls(settings=settings, store=store, catalog=catalog or load_catalog())

    def close(self) -> None:
        with self._guard:
            oauth, self._oauth = self._oauth, None
            shared, self._shared = self._shared, None
        if oauth is not None:
            oauth.close()
        if shared is not None:
            shared.really_close()
        self.store.close()

    def http_transport(self) -> httpx.BaseTransport:
        """The transport every HTTP client of this runtime uses (the given one, else a shared pool)."""
        if self.transport is not None:
            return self.transport
        with self._guard:
            if self._shared is None:
                self._shared = SharedTransport()
            return self._shared

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def new_oauth(self, *, tenant: str | None = None, redirect_uri: str | None = None) -> FortnoxOAuth:
        """A new OAuth client for this runtime's Fortnox app (the connect flow needs its own redirect URI)."""
        client_id, secret = self.settings.require_client(tenant)
        return FortnoxOAuth(
            client_id,
            secret,
            auth_base_url=self.settings.auth_url or DEFAULT_AUTH_BASE_URL,
            redirect_uri=redirect_uri,
            transport=self.http_transport(),
            clock=self.now,
        )

    def oauth(self, tenant: str | None = None) -> FortnoxOAuth:
        """The shared OAuth client (refreshes and client-credentials tokens)."""
        with self._guard:
            if self._oauth is None:
                self._oauth = self.new_oauth(tenant=tenant)
            return self._oauth

    def config(self, tenant: str) -> dict[str, Any]:
        """The tenant's stored config, checked and completed with its defaults (``read_config``)."""
        return self.read_config(self.store.load_config(tenant) or {}, tenant)

    def read_config(self, data: Mapping[str, Any], tenant: str) -> dict[str, Any]:
        """``data`` as the connector reads it (``Connector.read_config``), else checked against its config
        schema; a bad value is a ``ConfigError`` naming the field, found when a config is set."""
        connector = self.catalog.connector
        if connector.read_config is not None:
            return dict(connector.read_config(data, tenant))
        error = next(iter(Draft202012Validator(dict(connector.config_schema)).iter_errors(data)), None)
        if error is not None:
            where = ".".join(str(p) for p in error.absolute_path) or "config"
            raise ConfigError(
                f"the tenant's config: {where}: {error.message}",
                field=where,
                tenant=tenant,
                hint="correct it in the tenant's config",
            )
        return dict(data)

    def schedule(self, tenant: str) -> tuple[str, str]:
        """The tenant's cron expression and time zone: its config's, else the connector's declared ones."""
        config = self.config(tenant)
        declared = getattr(self.catalog.connector.declaration, "schedule", None)
        cron = config.get("schedule") or getattr(declared, "cron", None) or DEFAULT_SCHEDULE[0]
        zone = config.get("timezone") or getattr(declared, "timezone", None) or DEFAULT_SCHEDULE[1]
        return str(cron), str(zone)

    def token_provider(self, record: TenantRecord) -> TokenProvider:
        """The token provider for the tenant's auth mode."""
        if record.auth_mode == "authorization_code":
            return AuthorizationCodeTokens(
                record.id,
                self.oauth(record.id),
                self.store,
                clock=self.now,
                on_refresh=self._token_refreshed,
            )
        if record.auth_mode == "client_credentials":
            if not record.fortnox_tenant_id:
                raise ConfigError(
                    "a service-account tenant needs its Fortnox tenant id (DatabaseNumber)",
                    field="fortnox_tenant_id",
                    tenant=record.id,
                    hint=f"run `fortnox-connector connect {record.id} --service-account`",
                )
            return ClientCredentialsTokens(
                record.id,
                record.fortnox_tenant_id,
                self.oauth(record.id),
                clock=self.now,
                on_refresh=self._token_refreshed,
            )
        raise _host_managed(record.id)

    def service_tokens(self, record: TenantRecord) -> TokenProvider | None:
        """A service-account tenant's token provider, one per process (None for other modes).

        Its token serves every run of the process until shortly before it expires (one token request per
        token lifetime, not one per run: an idle night of many service accounts asked for a token per
        trigger run). Authorization-code tokens need no such cache: they live in the store.
        """
        if record.auth_mode != "client_credentials" or not record.fortnox_tenant_id:
            return None
        key = (record.id, record.fortnox_tenant_id)
        with self._guard:
            provider = self._service_tokens.get(key)
            if provider is None:
                provider = self._service_tokens[key] = self.token_provider(record)
            return provider

    def tenant_spec(self, tenant: str | TenantRecord, **extras: object) -> TenantSpec:
        """What the runtime gives a connector for ``tenant``: only what any host has (``extras`` are the
        connector's own, e.g. the Fortnox connector's ``tokens``: a token provider to share). ``tenant``:
        its id, or its row when the caller has just read it (a run reads it under its lock)."""
        record = self._record(tenant)
        tid = record.id
        if record.auth_mode == "host_managed":
            raise _host_managed(tid)
        secrets: dict[str, object] = {}
        if self.settings.client_id:
            secrets["client_id"] = self.settings.client_id
        if self.settings.client_secret is not None:
            secrets["client_secret"] = self.settings.client_secret
        if record.fortnox_tenant_id:
            secrets["tenant_id"] = record.fortnox_tenant_id
        return TenantSpec(
            id=tid,
            config=self.store.load_config(tid) or {},
            secrets=secrets,
            state=self.store,
            clock=self.now,
            log=tenant_logger(tid),
            auth_mode=record.auth_mode,
            endpoints=self.endpoints(),
            transport=self.http_transport(),
            on_token_refreshed=self._notify_token_refreshed,
            rate_window=self.rate_window,
            extras={**({"pacers": self.pacers} if self.pacers is not None else {}), **extras},
        )

    def endpoints(self) -> dict[str, str]:
        """The base URLs the settings override (a sandbox, a proxy); the others are the connector's own."""
        given = {"api": self.settings.api_url, "auth": self.settings.auth_url}
        return {name: url for name, url in given.items() if url}

    def _token_refreshed(self, tenant: str, token: Token) -> None:
        """A provider of the runtime's refreshed a token (credited to the run that caused it)."""
        refreshed()
        self.catalog.token_refreshed(tenant, token)

    def _notify_token_refreshed(self, tenant: str, expires_at: datetime, scope: frozenset[str]) -> None:
        """A connector refreshed a token (its expiry and scope only; credited to the run that caused it)."""
        refreshed()
        self.catalog.notify_token_refreshed(tenant, expires_at, scope)

    def _record(self, tenant: str | TenantRecord) -> TenantRecord:
        return self.store.require_tenant(tenant) if isinstance(tenant, str) else tenant

    @contextmanager
    def session(self, tenant: str | TenantRecord, **extras: object) -> Iterator[Session[Any]]:
        """The tenant's session for the ``with`` block, opened by the connector (closed afterwards).

        The block runs in the tenant's ``tenant_scope``: every log line in it names the tenant. ``tenant``:
        its id, or its row if the caller has it (a run reads the row once, not three times)."""
        record = self._record(tenant)
        if "tokens" not in extras:
            shared = self.service_tokens(record)
            extras = {**extras, "tokens": shared} if shared is not None else extras
        spec = self.tenant_spec(record, **extras)
        with tenant_scope(record.id), self.catalog.connector.open(spec) as session:
            yield session

    @contextmanager
    def context(self, tenant: str, **extras: object) -> Iterator[Any]:
        """The connector's own context for ``tenant`` (for connector-specific tools: demo, check)."""
        with self.session(tenant, **extras) as session:
            yield session.context


def _host_managed(tenant: str) -> ConfigError:
    return ConfigError(
        "the tenant's tokens are managed by its host (auth mode host_managed)",
        field="auth_mode",
        tenant=tenant,
        hint="run it through its host (`fortnox-connector pandium`), or add it again in another mode",
    )
