"""A real ``FortnoxClient`` against the in-process sandbox over loopback, on a fake monotonic clock.

The fake clock moves only when the client sleeps (pacing, backoff, ``Retry-After``), so retries cost no real
time; the sandbox's own rate limiter is off in the ``sandbox`` fixture unless a test turns it on.
"""

from __future__ import annotations

import random
from typing import Any

import httpx

from fortnox_connector.auth.providers import FixedToken as Bearer
from fortnox_connector.fortnox.client import FortnoxClient, TokenProvider
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.fortnox.retry import RetryPolicy
from fortnox_connector.sandbox import Sandbox
from tests.fortnox.conftest import FakeClock as SleepClock

__all__ = ["Bearer", "SharedClock", "SleepClock", "Wire", "sandbox_client"]


class Wire(httpx.BaseTransport):
    """Real HTTP that also keeps each request (method, path, query) in order."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seen: list[tuple[str, str, dict[str, str]]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path, dict(request.url.params)))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def sandbox_client(
    sandbox: Sandbox,
    tokens: TokenProvider,
    tenant: str,
    *,
    clock: SleepClock | None = None,
    transport: httpx.BaseTransport | None = None,
    **options: Any,
) -> FortnoxClient:
    """A client for ``tenant`` on ``sandbox``; ``options`` override the FortnoxClient defaults."""
    clock = clock or SleepClock()
    fields: dict[str, Any] = {
        "tenant": tenant,
        "tokens": tokens,
        "client_id": sandbox.client_id,
        "base_url": sandbox.base_url,
        "transport": transport or httpx.HTTPTransport(),
        "pacers": PacerRegistry(),
        "clock": clock,
        "sleep": clock.sleep,
        "retry": RetryPolicy(rng=random.Random(3)),
        "timeout": 5.0,
    }
    fields.update(options)
    return FortnoxClient(**fields)


class SharedClock(SleepClock):
    """Sleeping moves the client's clock and slides the sandbox's rate-limit window alike."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.sandbox.advance_wall(seconds)
