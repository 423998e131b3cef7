"""The shared poll loop: cursors move only after delivery; failures and deadlines stop it cleanly."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import Event, PollResult, RunSummary, TriggerSpec
from fortnox_connector.contract.state import MemoryStateStore
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.errors import DeliveryError
from fortnox_connector.fortnox.errors import RateLimited
from fortnox_connector.runtime.runner import run_trigger
from tests.binding import bind


def _pages(n: int) -> TriggerSpec[Any]:
    def poll(ctx: TenantContext, cursor: str | None) -> PollResult:
        page = int(cursor or 0)
        events = [Event("t", ctx.tenant, f"k{page}", {"page": page})]
        return PollResult(events, str(page + 1), page + 1 < n, RunSummary(pages=1, events=1))

    return TriggerSpec("t", "test", {}, poll)


def _ctx() -> TenantContext:
    log = logging.LoggerAdapter(logging.getLogger("test"), {"tenant": "acme"})
    return TenantContext(
        "acme", TenantConfig(), cast(Any, None), MemoryStateStore(), lambda: datetime.now(UTC), log
    )


def test_delivers_then_commits_every_page() -> None:
    order: list[str] = []
    outcome = run_trigger(
        bind(_pages(3), _ctx()),
        cursor=None,
        deliver=lambda evs: order.extend(f"deliver:{e.dedup_key}" for e in evs),
        commit=lambda c: order.append(f"commit:{c}"),
    )
    assert order == ["deliver:k0", "commit:1", "deliver:k1", "commit:2", "deliver:k2", "commit:3"]
    assert outcome.complete and outcome.cursor == "3" and outcome.summary.events == 3


def test_failed_delivery_keeps_the_last_committed_cursor() -> None:
    committed: list[str] = []

    def deliver(events: Sequence[Event]) -> None:
        if events[0].dedup_key == "k1":
            raise DeliveryError("receiver said 500")

    outcome = run_trigger(bind(_pages(3), _ctx()), cursor=None, deliver=deliver, commit=committed.append)
    assert committed == ["1"]
    assert outcome.cursor == "1" and not outcome.complete
    assert outcome.error is not None and "tenant acme" in str(outcome.error)


def test_deadline_stops_between_pages() -> None:
    ticks = iter([0.0, 0.0, 5.0, 20.0, 20.0])
    outcome = run_trigger(
        bind(_pages(5), _ctx()),
        cursor=None,
        deliver=lambda evs: None,
        commit=lambda c: None,
        deadline=10.0,
        clock=lambda: next(ticks),
    )
    assert outcome.stopped_by_deadline and outcome.cursor == "2"


@pytest.mark.parametrize("start", ["2"])
def test_resumes_from_given_cursor(start: str) -> None:
    seen: list[str] = []
    run_trigger(
        bind(_pages(3), _ctx()),
        cursor=start,
        deliver=lambda evs: seen.extend(e.dedup_key for e in evs),
        commit=lambda c: None,
    )
    assert seen == ["k2"]


class CountingClient:
    """A connector's client as the runner reads it: what it sent, 429s, retries."""

    def __init__(self) -> None:
        self.requests_sent = self.throttled_responses = self.retries_sent = 0


def test_a_failed_polls_requests_429s_and_retries_count_in_the_summary() -> None:
    """The poll that failed returns no summary; the client's own counts since the run began stand in."""
    client = CountingClient()

    def poll(ctx: TenantContext, cursor: str | None) -> PollResult:
        if cursor is None:
            client.requests_sent += 1
            return PollResult([], "1", True, RunSummary(pages=1, requests=1))
        client.requests_sent += 6  # a 429 storm: the first try and five retries, all 429
        client.throttled_responses += 6
        client.retries_sent += 5
        raise RateLimited("still 429 after 5 retries", method="GET", path="/3/invoicepayments")

    ctx = replace(_ctx(), client=cast(Any, client))
    outcome = run_trigger(
        bind(TriggerSpec("t", "test", {}, poll), ctx),
        cursor=None,
        deliver=lambda e: None,
        commit=lambda c: None,
    )
    assert isinstance(outcome.error, RateLimited) and outcome.cursor == "1"
    s = outcome.summary
    assert (s.requests, s.rate_limited, s.retries) == (7, 6, 5)
