"""Pacing and 429 handling against the sandbox's own sliding-window limiter, over loopback.

The client's fake clock and the sandbox's rate-limit clock move together when the client sleeps, so a
minute of paced traffic costs milliseconds; real time only adds to what the sandbox sees as elapsed.
"""

from __future__ import annotations

import pytest

from fortnox_connector.fortnox.pacing import FORTNOX_LIMIT, PacerRegistry
from fortnox_connector.sandbox import Sandbox
from tests.fortnox.live import Bearer, SharedClock, sandbox_client


@pytest.mark.sandbox(rate_limit=True)
def test_a_steady_run_meets_no_429_from_a_server_enforcing_the_window(
    sandbox: Sandbox, sandbox_tenant: int
) -> None:
    clock = SharedClock(sandbox)
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    with sandbox_client(sandbox, Bearer(token), str(sandbox_tenant), clock=clock) as client:
        for _ in range(120):
            client.company_information()
        assert client.throttled_responses == 0 and client.requests_sent == 120
    assert sandbox.stats.rate_limited == 0
    assert sum(clock.slept) >= 4 * 5  # it did wait: 120 requests at 25 per 5 s span at least 4 windows


@pytest.mark.sandbox(rate_limit=True)
def test_without_pacing_the_same_run_is_throttled(sandbox: Sandbox, sandbox_tenant: int) -> None:
    """The control: the sandbox does enforce Fortnox's 25 per 5 s, so the test above means something."""
    clock = SharedClock(sandbox)
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    unpaced = PacerRegistry(limit=10_000)
    with sandbox_client(sandbox, Bearer(token), str(sandbox_tenant), clock=clock, pacers=unpaced) as client:
        for _ in range(FORTNOX_LIMIT + 5):
            client.company_information()
        assert client.throttled_responses >= 1
    assert sandbox.stats.rate_limited == client.throttled_responses


@pytest.mark.sandbox(rate_limit=True, retry_after=3, rate_limit_requests=2)
def test_retry_after_is_waited_exactly(sandbox: Sandbox, sandbox_tenant: int) -> None:
    clock = SharedClock(sandbox)
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    unpaced = PacerRegistry(limit=10_000)
    with sandbox_client(sandbox, Bearer(token), str(sandbox_tenant), clock=clock, pacers=unpaced) as client:
        for _ in range(3):
            client.company_information()
        throttled = client.throttled_responses
    assert throttled >= 1 and clock.slept == [3.0] * throttled  # Retry-After, not a window plus jitter
