"""OutboxDelivery with the shared poll loop: saved, then sent, then the cursor; resumed after a failure."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.fernet import Fernet

from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import Event, PollResult, RunSummary, TriggerSpec
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.errors import DeliveryError
from fortnox_connector.runtime.runner import run_trigger
from fortnox_connector.runtime.store import OutboxDelivery, RuntimeStore
from tests.binding import bind
from tests.runtime.store_support import STORE_KINDS, open_store

TRIGGER = "payment_received"


class FlakySink:
    """Accepts events, except that call number ``fail_on`` (1-based) raises DeliveryError."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.fail_on = fail_on
        self.calls = 0
        self.received: list[str] = []

    def deliver(self, events: Sequence[Event]) -> None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise DeliveryError("receiver down", hint="start it")
        self.received.extend(e.dedup_key for e in events)

    def close(self) -> None:
        pass


def _pages(n: int) -> TriggerSpec[Any]:
    def poll(ctx: TenantContext, cursor: str | None) -> PollResult:
        page = int(cursor or 0)
        events = [Event(TRIGGER, ctx.tenant, f"p{page}-{i}", {"page": page}) for i in range(2)]
        return PollResult(events, str(page + 1), page + 1 < n, RunSummary(pages=1, events=2))

    return TriggerSpec(TRIGGER, "test", {}, poll)


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RuntimeStore]:
    s = open_store(request, tmp_path, Fernet.generate_key())
    try:
        yield s
    finally:
        s.close()


def _ctx(store: RuntimeStore) -> TenantContext:
    log = logging.LoggerAdapter(logging.getLogger("test"), {"tenant": "acme"})
    return TenantContext("acme", TenantConfig(), cast(Any, None), store, lambda: datetime.now(UTC), log)


def test_run_delivers_everything_and_commits_last_cursor(store: RuntimeStore) -> None:
    sink = FlakySink()
    out = OutboxDelivery(store, sink, "acme", TRIGGER)
    outcome = run_trigger(bind(_pages(3), _ctx(store)), cursor=None, deliver=out.deliver, commit=out.commit)
    assert outcome.complete and outcome.error is None and outcome.cursor == "3"
    assert sink.received == ["p0-0", "p0-1", "p1-0", "p1-1", "p2-0", "p2-1"] and out.delivered == 6
    assert store.load_cursor("acme", TRIGGER) == "3" and store.pending("acme", TRIGGER) == []


def test_failed_delivery_keeps_events_and_next_run_resumes(store: RuntimeStore) -> None:
    sink = FlakySink(fail_on=2)
    out = OutboxDelivery(store, sink, "acme", TRIGGER)
    outcome = run_trigger(bind(_pages(3), _ctx(store)), cursor=None, deliver=out.deliver, commit=out.commit)
    assert isinstance(outcome.error, DeliveryError) and outcome.error.tenant == "acme"
    assert outcome.cursor == "1" and store.load_cursor("acme", TRIGGER) == "1"
    assert [e.event.dedup_key for e in store.pending("acme", TRIGGER)] == ["p1-0", "p1-1"]

    # The next run drains the outbox first, then polls on from the committed cursor.
    again = OutboxDelivery(store, sink, "acme", TRIGGER)
    assert again.drain() == "2"
    outcome = run_trigger(
        bind(_pages(3), _ctx(store)),
        cursor=store.load_cursor("acme", TRIGGER),
        deliver=again.deliver,
        commit=again.commit,
    )
    assert outcome.complete and store.load_cursor("acme", TRIGGER) == "3"
    assert sink.received == ["p0-0", "p0-1", "p1-0", "p1-1", "p2-0", "p2-1"]  # nothing skipped, nothing twice


def test_drain_in_chunks_commits_as_far_as_delivered(store: RuntimeStore) -> None:
    store.enqueue("acme", TRIGGER, [Event(TRIGGER, "acme", f"a{i}", {}) for i in range(3)], "c1")
    store.enqueue("acme", TRIGGER, [Event(TRIGGER, "acme", f"b{i}", {}) for i in range(3)], "c2")
    sink = FlakySink(fail_on=2)
    out = OutboxDelivery(store, sink, "acme", TRIGGER, chunk=3)
    with pytest.raises(DeliveryError, match="tenant acme"):
        out.drain()
    assert store.load_cursor("acme", TRIGGER) == "c1"
    assert out.drain() == "c2" and sink.received == ["a0", "a1", "a2", "b0", "b1", "b2"]


class CountingStore:
    """The real store, counting the outbox batches written through it."""

    def __init__(self, store: RuntimeStore) -> None:
        self.store = store
        self.batches = 0

    def enqueue(self, tenant: str, trigger: str, events: Sequence[Event], cursor: str) -> int:
        self.batches += 1
        return self.store.enqueue(tenant, trigger, events, cursor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_an_idle_page_after_a_drain_holds_its_cursor_for_the_run_record(store: RuntimeStore) -> None:
    """An idle night: no events, nothing pending; no write until the run's record carries the cursor."""
    counting = CountingStore(store)
    sink = FlakySink()
    out = OutboxDelivery(cast(RuntimeStore, counting), sink, "acme", TRIGGER)
    out.commit("1")  # before any drain this object cannot know the outbox is empty: the safe path
    assert counting.batches == 1 and store.load_cursor("acme", TRIGGER) == "1" == out.committed
    out.drain()
    out.commit("2")
    assert (out.unsaved, out.cursor, store.load_cursor("acme", TRIGGER)) == ("2", "2", "1")
    assert counting.batches == 1 and sink.calls == 0
    store.record_run("acme", TRIGGER, started_at=datetime.now(UTC), cursor=out.unsaved)
    out.saved()
    assert (out.unsaved, out.committed, store.load_cursor("acme", TRIGGER)) == (None, "2", "2")


def test_a_second_idle_page_writes_its_cursor_so_at_most_one_page_is_held(store: RuntimeStore) -> None:
    counting = CountingStore(store)
    sink = FlakySink()
    out = OutboxDelivery(cast(RuntimeStore, counting), sink, "acme", TRIGGER)
    out.drain()
    out.commit("1")
    assert out.unsaved == "1" and store.load_cursor("acme", TRIGGER) is None
    out.commit("2")  # supersedes the held one
    assert out.unsaved is None and store.load_cursor("acme", TRIGGER) == "2" == out.committed
    out.commit("3")
    assert out.unsaved == "3" and store.load_cursor("acme", TRIGGER) == "2"
    out.deliver([Event(TRIGGER, "acme", "k", {})])
    out.commit("4")  # events always go through the outbox; their batch's cursor supersedes the held one
    assert counting.batches == 1 and sink.received == ["k"]
    assert (out.unsaved, out.committed, store.load_cursor("acme", TRIGGER)) == (None, "4", "4")
