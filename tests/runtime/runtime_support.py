"""Helpers for the runtime's tests: a runtime on the sandbox, a quick connect, a page-per-poll trigger."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from fortnox_connector.context import TenantContext
from fortnox_connector.contract import ActionSpec, Connector
from fortnox_connector.contract.records import Event, PollResult, RunSummary, TriggerSpec
from fortnox_connector.contract.state import Token
from fortnox_connector.errors import DeliveryError
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.plugin import connector as fortnox_connector
from fortnox_connector.runtime.catalog import Catalog, StaticCatalog
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.settings import RuntimeSettings
from fortnox_connector.runtime.store import SqliteStore
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret

PAGES = "pages"


def settings_for(sandbox: Sandbox, home: Path) -> RuntimeSettings:
    return RuntimeSettings(
        home=home,
        client_id=sandbox.client_id,
        client_secret=Secret(sandbox.client_secret),
        api_url=sandbox.base_url,
        auth_url=sandbox.base_url,
    )


def sandbox_env(sandbox: Sandbox, home: Path) -> dict[str, str]:
    """The environment a runtime process needs to use ``sandbox`` with state in ``home``."""
    return {
        "FORTNOX_CONNECTOR_HOME": str(home),
        "FORTNOX_CLIENT_ID": sandbox.client_id,
        "FORTNOX_CLIENT_SECRET": sandbox.client_secret,
        "FORTNOX_API_URL": sandbox.base_url,
        "FORTNOX_AUTH_URL": sandbox.base_url,
    }


def page_trigger(limit: int = 5, name: str = PAGES) -> TriggerSpec[Any]:
    """A trigger that emits the sandbox's payments, one page of ``limit`` per poll; cursor = next page."""

    def poll(ctx: TenantContext, cursor: str | None) -> PollResult:
        page_no = int(cursor) if cursor else 1
        page = ctx.client.list_invoice_payments(page=page_no, limit=limit)
        events = [
            Event(name, ctx.tenant, f"payment:{p.number}", {"number": p.number, "amount": p.amount})
            for p in page.items
        ]
        return PollResult(
            events=events,
            cursor=str(page_no + 1),
            more=not page.last,
            summary=RunSummary(pages=1, requests=1, events=len(events), total_pages=page.total_pages),
        )

    return TriggerSpec(name, "test: payments page by page", {}, poll)


def fortnox_with(*triggers: TriggerSpec[Any], actions: tuple[ActionSpec[Any], ...] = ()) -> StaticCatalog:
    """A catalog of the Fortnox connector (its real opening) with the given triggers and actions only."""
    real: Connector[Any] = fortnox_connector()
    return StaticCatalog(dataclasses.replace(real, triggers=triggers, actions=actions))


class FakeClock:
    """An aware clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_runtime(
    sandbox: Sandbox,
    home: Path,
    catalog: Catalog | None = None,
    *,
    store_now: Callable[[], datetime] | None = None,
) -> Runtime:
    settings = settings_for(sandbox, home)
    store = (
        SqliteStore(settings.db_path, Fernet.generate_key(), now=store_now)
        if store_now is not None
        else SqliteStore(settings.db_path, Fernet.generate_key())
    )
    return Runtime(
        settings=settings,
        store=store,
        catalog=catalog or fortnox_with(page_trigger()),
        pacers=PacerRegistry(),
    )


def add_connected(
    runtime: Runtime, sandbox: Sandbox, tenant: str, company: int, *, expires_in: float | None = None
) -> None:
    """Add ``tenant`` with a token for sandbox company ``company`` (the connect flow is tested elsewhere).

    ``expires_in`` (seconds) makes the stored token expire sooner, so the first request refreshes it."""
    runtime.store.add_tenant(tenant, display_name=tenant, auth_mode="authorization_code")
    answer = sandbox.issue_token(company)
    token = Token(
        access_token=Secret(str(answer["access_token"])),
        refresh_token=Secret(str(answer["refresh_token"])),
        expires_at=datetime.now(UTC)
        + timedelta(seconds=expires_in if expires_in is not None else int(answer["expires_in"])),
        scope=frozenset(str(answer["scope"]).split()),
    )
    assert runtime.store.swap_token(tenant, None, token)


def add_disconnected(runtime: Runtime, sandbox: Sandbox, tenant: str, company: int) -> None:
    """A tenant whose access token expired and whose refresh token Fortnox no longer accepts."""
    runtime.store.add_tenant(tenant, display_name=tenant, auth_mode="authorization_code")
    answer = sandbox.issue_token(company)
    token = Token(
        access_token=Secret("expired-access-token"),
        refresh_token=Secret("dead-refresh-token"),
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
        scope=frozenset(str(answer["scope"]).split()),
    )
    assert runtime.store.swap_token(tenant, None, token)


class ListSink:
    """Collects delivered events; raises ``DeliveryError`` on the delivery numbered ``fail_on``."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.fail_on = fail_on
        self.calls = 0
        self.events: list[Event] = []
        self.closed = False
        self._lock = threading.Lock()

    def deliver(self, events: Sequence[Event]) -> None:
        with self._lock:
            self.calls += 1
            if self.calls == self.fail_on:
                raise DeliveryError("receiver down", hint="start it")
            self.events.extend(events)

    def close(self) -> None:
        self.closed = True

    @property
    def keys(self) -> list[str]:
        return [e.dedup_key for e in self.events]
