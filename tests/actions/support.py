"""Helpers for the action tests: a real FortnoxClient on the sandbox with a call log, and a TenantContext."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from fortnox_connector.auth.providers import FixedToken
from fortnox_connector.context import TenantContext
from fortnox_connector.contract.state import StateStore
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.fortnox.client import FortnoxClient
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.fortnox.retry import RetryPolicy

CONFIG = TenantConfig(default_mode_of_payment="BG", default_mode_of_payment_account=1930)


@dataclass
class Recorder(httpx.BaseTransport):
    """Forwards to real HTTP and logs ``METHOD path``; ``before``/``after`` hooks inject faults."""

    calls: list[str] = field(default_factory=list)
    inner: httpx.BaseTransport = field(default_factory=httpx.HTTPTransport)
    before: Callable[[httpx.Request], None] | None = None
    after: Callable[[httpx.Request], None] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        if self.before is not None:
            self.before(request)
        response = self.inner.handle_request(request)
        response.read()
        if self.after is not None:
            try:
                self.after(request)
            except BaseException:
                response.close()
                raise
        return response

    def close(self) -> None:
        self.inner.close()

    def posts(self) -> int:
        return sum(1 for c in self.calls if c.startswith("POST "))


def make_client(base_url: str, token: str, tenant: str, transport: httpx.BaseTransport) -> FortnoxClient:
    return FortnoxClient(
        tenant=tenant,
        tokens=FixedToken(token),
        client_id="sandbox-client",
        base_url=base_url,
        transport=transport,
        max_retries=0,
        pacers=PacerRegistry(limit=10_000),
        sleep=lambda _s: None,
        retry=RetryPolicy(max_retries=0),
    )


def make_ctx(
    client: FortnoxClient, state: StateStore, tenant: str, config: TenantConfig = CONFIG
) -> TenantContext:
    return TenantContext(
        tenant=tenant,
        config=config,
        client=client,
        state=state,
        now=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        log=logging.LoggerAdapter(logging.getLogger("tests.actions"), {"tenant": tenant}),
    )
