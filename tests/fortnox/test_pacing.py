"""Pacing: a steady run never meets Fortnox's 429, takes close to the minimum time, and is shared per pair."""

from __future__ import annotations

import random
import threading

import httpx
import pytest

from fortnox_connector.fortnox.pacing import (
    DEFAULT_LIMIT,
    FORTNOX_LIMIT,
    FORTNOX_WINDOW,
    MIN_LIMIT,
    RECOVER_AFTER,
    Pacer,
    PacerRegistry,
)

from .conftest import CLIENT_ID, TENANT, FakeClock, FakeFortnox, Make, payment


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_pacer_lets_limit_through_then_waits_for_the_window(clock: FakeClock) -> None:
    pacer = Pacer(limit=3, window=5.0, guard=0.0, clock=clock, sleep=clock.sleep)
    waits = []
    for _ in range(4):
        waits.append(pacer.acquire())
        pacer.release()
    assert waits == [0.0, 0.0, 0.0, 5.0]
    stats = pacer.stats()
    assert (stats.acquired, stats.waits, stats.waited_seconds) == (4, 1, 5.0)


def test_pause_until_holds_every_request_back_and_never_shortens(clock: FakeClock) -> None:
    pacer = Pacer(limit=10, window=5.0, clock=clock, sleep=clock.sleep)
    pacer.pause_until(clock.now + 7.0)
    pacer.pause_until(clock.now + 2.0)
    assert pacer.acquire() == 7.0


def test_registry_shares_one_pacer_per_client_id_and_tenant() -> None:
    registry = PacerRegistry()
    assert registry.get("c", "t1") is registry.get("c", "t1")
    assert registry.get("c", "t1") is not registry.get("c", "t2")
    assert registry.get("c", "t1") is not registry.get("other", "t1")


def test_slot_is_held_in_flight_then_a_window_after_the_answer_less_half_the_fastest_round_trip(
    clock: FakeClock,
) -> None:
    pacer = Pacer(limit=1, window=5.0, guard=0.1, clock=clock, sleep=clock.sleep)
    pacer.acquire()
    clock.now += 2.0  # a slow answer: the slot stays taken while the request is in flight
    pacer.release(clock.now - 2.0)
    # the only round trip is the fastest: anchored at 1.0, a window plus guard before the next may leave
    assert pacer.acquire() == pytest.approx(1.0 + 5.1 - 2.0)
    sent_at = clock.now
    clock.now += 0.4
    pacer.release(sent_at)  # a faster round trip (0.4 s): anchored 0.2 s before its answer
    assert pacer.acquire() == pytest.approx(5.1 - 0.2)


def test_answer_anchored_slot_is_held_a_window_after_the_answer(clock: FakeClock) -> None:
    pacer = Pacer(limit=1, window=5.0, guard=0.1, anchor="answer", clock=clock, sleep=clock.sleep)
    pacer.acquire()
    clock.now += 2.0
    pacer.release(0.0)
    assert pacer.acquire() == pytest.approx(5.1)


def test_a_release_without_departure_time_anchors_on_the_answer(clock: FakeClock) -> None:
    pacer = Pacer(limit=1, window=5.0, guard=0.1, clock=clock, sleep=clock.sleep)
    pacer.acquire()
    clock.now += 2.0
    pacer.release()
    assert pacer.acquire() == pytest.approx(5.1)


def test_default_is_fortnox_full_limit() -> None:
    """Anchoring on answers makes the full 25 per 5 s safe: no margin is given away."""
    assert DEFAULT_LIMIT == FORTNOX_LIMIT
    assert Pacer().limit == FORTNOX_LIMIT


def test_steady_run_of_300_requests_gets_no_429_and_near_minimum_time(
    make_client: Make, server: FakeFortnox, clock: FakeClock
) -> None:
    server.payments = [payment(1)]
    client = make_client()
    start = clock.now
    for _ in range(300):
        client.get_invoice_payment("1")
    elapsed = clock.now - start
    assert server.rejected == 0
    assert client.throttled_responses == 0
    assert client.requests_sent == 300
    # 25 per 5.05 s: the 300th request starts after 11 full spans (55.55 s); Fortnox's own limit would let it
    # start after 11 windows (55 s), so the guard costs 1 %.
    assert elapsed == pytest.approx(55.55)
    assert client.pacer.stats().acquired == 300


class DepartureAnchored(Pacer):
    """The usual limiter: a slot counts from when the request left (as the clients that met 429s did)."""

    def acquire(self) -> float:
        waited = super().acquire()
        super().release()
        return waited

    def release(self, sent_at: float | None = None) -> None:
        pass


def test_full_limit_is_safe_under_network_jitter(
    make_client: Make, server: FakeFortnox, clock: FakeClock
) -> None:
    """Latency between 5 and 150 ms one way shifts what Fortnox counts; 25/5 s still never meets a 429."""
    rng = random.Random(3)
    server.latency = lambda: rng.uniform(0.005, 0.15)
    server.payments = [payment(1)]
    client = make_client()
    start = clock.now
    for _ in range(400):
        client.get_invoice_payment("1")
    ours = clock.now - start
    assert server.rejected == 0
    assert max_in_window(server.arrivals, FORTNOX_WINDOW) <= FORTNOX_LIMIT

    # The usual cure, departures paced at 4/s, is slower on the same network: each window costs us one
    # round trip, theirs gives away a fifth of the budget.
    rng.seed(3)
    registry = PacerRegistry()
    registry._pacers[(CLIENT_ID, "four-per-second")] = DepartureAnchored(
        limit=20, guard=0.0, clock=clock, sleep=clock.sleep
    )
    theirs_client = make_client(tenant="four-per-second", pacers=registry)
    start = clock.now
    for _ in range(400):
        theirs_client.get_invoice_payment("1")
    assert ours < clock.now - start


def test_departure_anchored_pacing_at_the_full_limit_meets_429s_under_jitter(
    make_client: Make, server: FakeFortnox, clock: FakeClock
) -> None:
    """Why anchor on answers: the same jittery run paced by departures at 25/5 s meets 429s."""
    rng = random.Random(3)
    server.latency = lambda: rng.uniform(0.005, 0.15)
    server.payments = [payment(1)]
    registry = PacerRegistry()
    pacer = DepartureAnchored(guard=0.0, clock=clock, sleep=clock.sleep)
    registry._pacers[(CLIENT_ID, TENANT)] = pacer
    client = make_client(pacers=registry)
    for _ in range(400):
        client.get_invoice_payment("1")
    assert server.rejected > 0
    assert client.throttled_responses == server.rejected  # every 429 was retried and counted


def test_estimated_anchor_is_faster_than_answer_anchor_under_latency_and_as_safe(
    make_client: Make, server: FakeFortnox, clock: FakeClock
) -> None:
    """Symmetric 40 to 120 ms round trips: the estimate saves half the fastest round trip a window, no 429."""
    rng = random.Random(5)
    server.latency = lambda: rng.uniform(0.02, 0.06)
    server.payments = [payment(1)]
    elapsed = {}
    for anchor in ("estimated", "answer"):
        registry = PacerRegistry()
        registry._pacers[(CLIENT_ID, anchor)] = Pacer(anchor=anchor, clock=clock, sleep=clock.sleep)
        client = make_client(tenant=anchor, pacers=registry)
        clock.now += FORTNOX_WINDOW  # the fake counts one window for all tenants: let the last run's pass
        start = clock.now
        for _ in range(300):
            client.get_invoice_payment("1")
        elapsed[anchor] = clock.now - start
    assert server.rejected == 0
    assert elapsed["estimated"] < elapsed["answer"]


def test_a_way_back_much_faster_than_the_way_in_costs_a_429_then_answers_anchor(
    make_client: Make, server: FakeFortnox, clock: FakeClock
) -> None:
    """The estimate assumes the way back is not much faster than the way in; when Fortnox proves it wrong
    (here: no guard, and slow ways in come back instantly) the pacer anchors on answers for good."""
    rng = random.Random(7)
    slow = [False]

    def way_in() -> float:
        slow[0] = rng.random() < 0.5
        return 0.12 if slow[0] else 0.001

    server.latency = way_in
    server.latency_back = lambda: 0.0 if slow[0] else 0.06
    server.payments = [payment(1)]
    registry = PacerRegistry()
    registry._pacers[(CLIENT_ID, TENANT)] = pacer = Pacer(guard=0.0, clock=clock, sleep=clock.sleep)
    client = make_client(pacers=registry)
    for _ in range(400):
        client.get_invoice_payment("1")
    assert server.rejected > 0
    assert pacer.stats().anchor == "answer"
    first_after, rejected = len(server.arrivals), server.rejected
    for _ in range(400):
        client.get_invoice_payment("1")
    assert server.rejected == rejected  # anchored on answers, it never meets one again
    assert max_in_window(server.arrivals[first_after:], FORTNOX_WINDOW) <= FORTNOX_LIMIT


def test_a_429_lowers_the_limit_which_recovers_when_quiet(clock: FakeClock) -> None:
    """A 429 means someone else spends the pair's budget: back off the limit, then creep back."""
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    pacer.record_throttled()
    assert pacer.stats().limit == 20
    pacer.record_throttled()  # a second 429 of the same burst (same window) is the same signal
    assert pacer.stats().limit == 20
    for _ in range(10):
        clock.now += FORTNOX_WINDOW
        pacer.record_throttled()
    assert pacer.stats().limit == MIN_LIMIT
    assert pacer.stats().throttled == 12
    clock.now += RECOVER_AFTER
    pacer.acquire()
    pacer.release()
    assert pacer.stats().limit == MIN_LIMIT + 1


def test_a_request_waits_for_an_answer_when_every_slot_is_in_flight(clock: FakeClock) -> None:
    pacer = Pacer(limit=1, window=5.0, guard=0.0, clock=clock, sleep=clock.sleep)
    start = clock.now
    pacer.acquire()
    got_slot = threading.Event()

    def second() -> None:
        pacer.acquire()
        got_slot.set()

    worker = threading.Thread(target=second)
    worker.start()
    assert not got_slot.wait(0.05)  # held back while the first request is in flight
    pacer.release()
    worker.join(10)
    assert got_slot.is_set()
    assert clock.now - start == 5.0  # and then a full window after the first answer


def test_two_clients_of_one_pair_share_the_budget(
    make_client: Make, server: FakeFortnox, clock: FakeClock
) -> None:
    server.payments = [payment(1)]
    first, second = make_client(), make_client()
    assert first.pacer is second.pacer
    for _ in range(100):
        first.get_invoice_payment("1")
        second.get_invoice_payment("1")
    assert server.rejected == 0
    assert first.requests_sent == second.requests_sent == 100
    assert first.pacer.stats().acquired == 200


def test_other_tenant_has_its_own_budget(make_client: Make) -> None:
    mine, other = make_client(), make_client(tenant="other-tenant")
    assert mine.pacer is not other.pacer
    assert mine.pacer is make_client.pacers.get(CLIENT_ID, TENANT)


def test_pacer_is_thread_safe(clock: FakeClock) -> None:
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            clock.now += seconds

    pacer = Pacer(limit=5, window=1.0, guard=0.0, clock=clock, sleep=sleep)
    departures: list[float] = []

    def work() -> None:
        for _ in range(25):
            pacer.acquire()
            with lock:
                departures.append(clock.now)
            pacer.release()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pacer.stats().acquired == 100
    assert len(departures) == 100
    assert max_in_window(departures, 1.0) <= 5


def test_an_interrupt_right_after_taking_a_slot_still_frees_it(
    make_client: Make, server: FakeFortnox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a KeyboardInterrupt (or any error) between acquire() and the exchange must not keep the slot for ever:
    # the pair would be left with 24 requests per window, then 23, ... and finally none
    server.payments = [payment(1)]
    interrupts = [KeyboardInterrupt()]

    def handler(request: httpx.Request) -> httpx.Response:
        if interrupts:
            raise interrupts.pop()
        return server.handler(request)

    client = make_client(transport=httpx.MockTransport(handler))
    with pytest.raises(KeyboardInterrupt):
        client.get_invoice_payment("1")
    clock.now += 2 * FORTNOX_WINDOW  # every slot an answer released has expired by now
    for _ in range(FORTNOX_LIMIT):
        client.get_invoice_payment("1")
    assert client.pacer.stats().waits == 0
    assert server.rejected == 0
