"""Pipelined paging: a trigger's run reads pages ahead through the same pacer; what it delivers and commits
is what page-by-page reading would, in the same order, and the rate limit holds under network latency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from fortnox_connector.fortnox.client import READ_AHEAD_AFTER_S, FortnoxClient
from fortnox_connector.fortnox.errors import FortnoxUnavailable
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.fortnox.pipeline import Pipeline
from fortnox_connector.fortnox.records import Page
from fortnox_connector.fortnox.retry import RetryPolicy
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.triggers.cursor import decode
from tests.triggers.support import PAYMENTS, Host, Recorder, SandboxTokens, make_client, make_ctx
from tests.triggers.test_reliability import keys_of, seed_booked

LIST = "/3/invoicepayments"


@contextmanager
def host_on(sandbox: Sandbox, tenant: int, transport: httpx.BaseTransport, **kw: object) -> Iterator[Host]:
    with make_client(sandbox, tenant, transport, **kw) as client:
        yield Host(make_ctx(sandbox, client))


def test_a_backfill_read_ahead_delivers_what_page_by_page_reading_does(
    sandbox: Sandbox, sandbox_tenant: int
) -> None:
    expected = keys_of(seed_booked(sandbox, sandbox_tenant, 3200), sandbox_tenant)  # 7 pages
    with host_on(sandbox, sandbox_tenant, Recorder(), read_ahead=4) as ahead:
        ahead.run()
    with host_on(sandbox, sandbox_tenant, Recorder()) as one_by_one:
        one_by_one.run()
    assert ahead.keys() == one_by_one.keys() and set(ahead.keys()) == expected  # same events, same order
    pages = [o.summary.pages for o in ahead.outcomes]
    assert pages == [7] and ahead.outcomes[0].summary.requests == 7  # one request a page, none beyond


def test_a_list_of_one_page_costs_one_request(sandbox: Sandbox, sandbox_tenant: int) -> None:
    recorder = Recorder()
    with host_on(sandbox, sandbox_tenant, recorder, read_ahead=4) as host:
        host.run()
        host.run()  # nothing changed
    assert recorder.paths() == [f"GET {LIST}"] * 2


class FailPage(httpx.BaseTransport):
    """Real HTTP, but every request for one page of the list answers 500."""

    def __init__(self, page: str) -> None:
        self.inner = httpx.HTTPTransport()
        self.page = page

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == LIST and request.url.params.get("page") == self.page:
            return httpx.Response(500, json={"message": "boom"})
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_page_that_failed_ahead_stops_the_run_when_reached_with_the_pages_before_committed(
    sandbox: Sandbox, sandbox_tenant: int
) -> None:
    seed_booked(sandbox, sandbox_tenant, 2200)  # 5 pages; page 3 fails while page 1 is delivered
    with host_on(sandbox, sandbox_tenant, FailPage("3"), read_ahead=4, max_retries=1) as host:
        outcome = host.run(may_fail=True)
    assert isinstance(outcome.error, FortnoxUnavailable)
    assert len(host.delivered) == 1000
    assert outcome.cursor is not None
    run = decode(outcome.cursor, tenant=str(sandbox_tenant), trigger=PAYMENTS.name).run
    assert run is not None and run.page == 3


@pytest.mark.sandbox(
    rate_limit=True, rate_limit_requests=5, rate_limit_window=0.5, latency=0.04, latency_jitter=0.04
)
def test_under_latency_pages_in_flight_never_break_the_rate_limit(
    sandbox: Sandbox, sandbox_tenant: int
) -> None:
    """The sandbox's limit scaled down (5 per 0.5 s) so the test is short; real clocks, jittered latency.

    Anchored on answers: the sandbox runs in this process, so a request can wait for the interpreter behind
    a page being built for 0.2-0.4 s before it is counted, a way in no estimate from round trips can see
    (``pacing.py``; the estimated anchor met one 429 in 120 such runs, then fell back to answers).
    """
    seed_booked(sandbox, sandbox_tenant, 9000)  # 19 pages: almost four windows
    client = FortnoxClient(
        tenant=str(sandbox_tenant),
        tokens=SandboxTokens(sandbox, sandbox_tenant, ("invoice", "payment")),
        client_id=sandbox.client_id,
        base_url=sandbox.base_url,
        pacers=PacerRegistry(limit=5, window=0.5, guard=0.01, anchor="answer"),
        retry=RetryPolicy(),
        read_ahead=4,
        read_ahead_after=0.0,  # every answer counts as slow: pages are always in flight ahead
    )
    with client:
        host = Host(make_ctx(sandbox, client))
        started = time.monotonic()
        host.run()
        took = time.monotonic() - started
    assert len(host.delivered) == 9000 + 20
    assert client.throttled_responses == 0 and sandbox.stats.rate_limited == 0
    assert client.requests_sent == 19
    assert took > 3 * 0.5  # paced: 19 requests cannot pass a 5-per-0.5-s limit in under 3 windows


def numbered(n: int, total: int) -> Page[int]:
    return Page((n,), n, total, total)


@pytest.fixture
def pipeline() -> Iterator[Pipeline]:
    p = Pipeline(2)
    yield p
    p.close()


def test_pages_are_fetched_ahead_up_to_the_depth_and_never_past_the_last(pipeline: Pipeline) -> None:
    asked: list[int] = []

    def fetch(n: int) -> Page[int]:
        asked.append(n)
        return numbered(n, 4)

    assert [pipeline.page("q", n, fetch).items for n in (1, 2, 3, 4)] == [(1,), (2,), (3,), (4,)]
    assert sorted(asked) == [1, 2, 3, 4]  # each page once


def test_another_question_or_a_page_out_of_order_is_fetched_anew(pipeline: Pipeline) -> None:
    asked: list[tuple[str, int]] = []

    def fetch_for(query: str) -> Callable[[int], Page[int]]:
        def fetch(n: int) -> Page[int]:
            asked.append((query, n))
            return numbered(n, 9)

        return fetch

    pipeline.page("a", 1, fetch_for("a"))
    pipeline.page("b", 2, fetch_for("b"))
    pipeline.page("b", 1, fetch_for("b"))  # a restart at page 1
    pipeline.close()
    assert ("b", 2) in asked and asked.count(("b", 1)) == 1 and ("b", 1) in asked
    assert asked[0] == ("a", 1) and asked[asked.index(("b", 2))] == ("b", 2)


class InFlight(httpx.BaseTransport):
    """Real HTTP; remembers the most requests it ever had in flight at once."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lock = threading.Lock()
        self.now = self.most = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            response = self.inner.handle_request(request)
            response.read()
            return response
        finally:
            with self.lock:
                self.now -= 1

    def close(self) -> None:
        self.inner.close()


def real_clock_client(
    sandbox: Sandbox,
    tenant: int,
    transport: httpx.BaseTransport,
    read_ahead_after: float = READ_AHEAD_AFTER_S,
) -> FortnoxClient:
    """As a runtime builds it (real clock, ``read_ahead_after`` its default unless given), unpaced."""
    return FortnoxClient(
        tenant=str(tenant),
        tokens=SandboxTokens(sandbox, tenant, ("invoice", "payment")),
        client_id=sandbox.client_id,
        base_url=sandbox.base_url,
        transport=transport,
        pacers=PacerRegistry(limit=10_000),
        read_ahead=4,
        read_ahead_after=read_ahead_after,
    )


def test_fast_answers_are_read_in_line_with_no_page_in_flight_ahead(
    sandbox: Sandbox, sandbox_tenant: int
) -> None:
    """Answers faster than ``read_ahead_after`` (loopback's milliseconds against 10 s here, so a loaded
    machine cannot tip it): reading ahead would save no time and cost the caller CPU."""
    expected = keys_of(seed_booked(sandbox, sandbox_tenant, 2200), sandbox_tenant)  # 5 pages
    transport = InFlight()
    with real_clock_client(sandbox, sandbox_tenant, transport, read_ahead_after=10.0) as client:
        host = Host(make_ctx(sandbox, client))
        host.run()
    assert set(host.keys()) == expected
    assert transport.most == 1 and client.requests_sent == 5


@pytest.mark.sandbox(latency=0.08)
def test_slow_answers_have_pages_read_ahead(sandbox: Sandbox, sandbox_tenant: int) -> None:
    """80 ms a round trip (over ``read_ahead_after``'s 50 ms): the next pages are in flight at once."""
    expected = keys_of(seed_booked(sandbox, sandbox_tenant, 2200), sandbox_tenant)  # 5 pages
    transport = InFlight()
    with real_clock_client(sandbox, sandbox_tenant, transport) as client:
        host = Host(make_ctx(sandbox, client))
        host.run()
    assert set(host.keys()) == expected
    assert transport.most > 1 and client.requests_sent == 5


def test_a_pipeline_not_worth_it_fetches_nothing_ahead() -> None:
    asked: list[int] = []

    def fetch(n: int) -> Page[int]:
        asked.append(n)
        return numbered(n, 4)

    pipeline = Pipeline(2, worth_it=lambda: False)
    try:
        assert [pipeline.page("q", n, fetch).items for n in (1, 2, 3, 4)] == [(1,), (2,), (3,), (4,)]
    finally:
        pipeline.close()
    assert asked == [1, 2, 3, 4]  # each in line, when asked for
