"""Near the rate limit: the sandbox's real limiter (25 requests per 5 s) against a client on a fake clock
whose sleeps also move the sandbox's rate-limit window, so nobody waits for real."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.sandbox import Sandbox
from tests.fortnox.live import SharedClock
from tests.triggers.support import Host, Recorder, make_client, make_ctx
from tests.triggers.test_reliability import LIST, seed_booked


def thin(request: httpx.Request, data: Any) -> Any:
    """Older list answers lack OCR and customer: every payment to emit then costs a request of its own."""
    if request.url.path == LIST:
        for item in data["InvoicePayments"]:
            item.pop("InvoiceOCR", None)
    return data


@pytest.mark.sandbox(rate_limit=True)
@pytest.mark.parametrize("paced", [True, False])
def test_sixty_single_fetches_end_with_every_payment_once(
    sandbox: Sandbox, sandbox_tenant: int, paced: bool
) -> None:
    booked = seed_booked(sandbox, sandbox_tenant, 60)
    recorder = Recorder(rewrite=thin)
    clock = SharedClock(sandbox)
    # paced: the client's default pacer (25 per 5 s); not: no pacing, Fortnox's 429s make the client back off
    pacers = PacerRegistry() if paced else PacerRegistry(limit=10_000)
    client = make_client(sandbox, sandbox_tenant, recorder, clock=clock, pacers=pacers)
    with client:
        host = Host(make_ctx(sandbox, client, TenantConfig()))
        outcome = host.run()

    assert sorted(str(p["payment_number"]) for p in host.payloads()) == sorted(booked)
    assert len(host.keys()) == len(set(host.keys()))
    assert outcome.summary.requests == client.requests_sent == 1 + len(booked) + client.throttled_responses
    assert outcome.summary.rate_limited == client.throttled_responses  # run history and /metrics show it
    if paced:  # the default pacer (25 per 5 s) never meets the limit
        assert client.throttled_responses == 0 and sandbox.stats.rate_limited == 0
        windows = math.ceil((len(booked) + 1 - 25) / 25)  # after the first 25, each 25 wait a window
        assert sum(clock.slept) >= windows * 5
    else:
        assert client.throttled_responses == sandbox.stats.rate_limited > 0
