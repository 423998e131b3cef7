"""The outbox: events and the cursor they lead to are stored together; a cursor moves only after delivery."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from fortnox_connector.contract.records import Event
from fortnox_connector.runtime.store import RuntimeStore, SqliteStore
from tests.runtime.store_support import STORE_KINDS, open_store

TRIGGER = "payment_received"


def _events(*keys: str, tenant: str = "acme") -> list[Event]:
    return [Event(TRIGGER, tenant, k, {"Number": k, "Amount": "100.50"}) for k in keys]


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RuntimeStore]:
    s = open_store(request, tmp_path, Fernet.generate_key())
    try:
        yield s
    finally:
        s.close()


def test_cursor_commits_only_after_everything_before_it_was_delivered(store: RuntimeStore) -> None:
    b1 = store.enqueue("acme", TRIGGER, _events("p1", "p2"), "c1")
    b2 = store.enqueue("acme", TRIGGER, _events("p3"), "c2")
    assert b2 > b1
    assert store.commit_after_delivery("acme", TRIGGER) is None  # nothing delivered yet

    pending = store.pending("acme", TRIGGER)
    assert [e.event.dedup_key for e in pending] == ["p1", "p2", "p3"]
    assert [e.batch for e in pending] == [b1, b1, b2]
    assert pending[0].event == _events("p1")[0]

    store.mark_delivered([pending[2].id])  # the later batch first (out of order)
    assert store.commit_after_delivery("acme", TRIGGER) is None
    assert store.load_cursor("acme", TRIGGER) is None

    store.mark_delivered([pending[0].id])
    assert store.commit_after_delivery("acme", TRIGGER) is None  # p2 still blocks c1

    store.mark_delivered([pending[1].id])
    assert store.commit_after_delivery("acme", TRIGGER) == "c2"  # both batches done: the newest cursor
    assert store.load_cursor("acme", TRIGGER) == "c2"
    assert store.pending("acme", TRIGGER) == []
    assert store.commit_after_delivery("acme", TRIGGER) is None  # nothing left to move


def test_empty_batch_carries_its_cursor(store: RuntimeStore) -> None:
    store.enqueue("acme", TRIGGER, [], "c1")
    assert store.commit_after_delivery("acme", TRIGGER) == "c1"


def test_limit_and_isolation_between_triggers_and_tenants(store: RuntimeStore) -> None:
    store.enqueue("acme", TRIGGER, _events("a", "b", "c"), "c1")
    store.enqueue("beta", TRIGGER, _events("a", tenant="beta"), "x1")
    store.enqueue("acme", "invoice_paid", [Event("invoice_paid", "acme", "i1", {})], "i1")
    assert [e.event.dedup_key for e in store.pending("acme", TRIGGER, limit=2)] == ["a", "b"]
    assert [e.event.tenant for e in store.pending("beta", TRIGGER)] == ["beta"]
    store.mark_delivered([e.id for e in store.pending("beta", TRIGGER)])
    assert store.commit_after_delivery("beta", TRIGGER) == "x1"
    assert store.load_cursor("acme", TRIGGER) is None
    assert len(store.pending("acme", TRIGGER)) == 3


def test_repeated_dedup_key_is_not_queued_twice(store: RuntimeStore) -> None:
    store.enqueue("acme", TRIGGER, _events("p1", "p2"), "c1")
    store.enqueue("acme", TRIGGER, _events("p2", "p3"), "c2")  # overlap of a re-poll
    assert [e.event.dedup_key for e in store.pending("acme", TRIGGER)] == ["p1", "p2", "p3"]


def test_event_for_another_trigger_is_refused(store: RuntimeStore) -> None:
    with pytest.raises(ValueError, match="not acme/payment_received"):
        store.enqueue("acme", TRIGGER, _events("p1", tenant="beta"), "c1")
    assert store.pending("acme", TRIGGER) == []


def test_mark_delivered_many(store: RuntimeStore) -> None:
    keys = [f"p{i}" for i in range(1200)]  # more than one statement's worth of ids
    store.enqueue("acme", TRIGGER, _events(*keys), "c1")
    store.mark_delivered([e.id for e in store.pending("acme", TRIGGER)])
    assert store.commit_after_delivery("acme", TRIGGER) == "c1"


def _deliver_first_then_crash(path: str, key: bytes) -> None:
    """Child process: enqueue two batches, deliver the first, commit, then die without closing anything."""
    store = SqliteStore(path, key)
    store.enqueue("acme", TRIGGER, _events("p1", "p2"), "c1")
    store.enqueue("acme", TRIGGER, _events("p3"), "c2")
    first = [e.id for e in store.pending("acme", TRIGGER) if e.event.dedup_key in {"p1", "p2"}]
    store.mark_delivered(first)
    assert store.commit_after_delivery("acme", TRIGGER) == "c1"
    os._exit(3)  # a crash: no close, no cleanup, before the second batch was delivered


def test_crash_before_second_delivery_keeps_it_pending(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    path = tmp_path / "state.db"
    proc = multiprocessing.get_context("spawn").Process(
        target=_deliver_first_then_crash, args=(str(path), key)
    )
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 3

    with SqliteStore(path, key) as store:
        assert store.load_cursor("acme", TRIGGER) == "c1"
        pending = store.pending("acme", TRIGGER)
        assert [e.event.dedup_key for e in pending] == ["p3"]
        store.mark_delivered([e.id for e in pending])
        assert store.commit_after_delivery("acme", TRIGGER) == "c2"
    with SqliteStore(path, key) as store:
        assert store.load_cursor("acme", TRIGGER) == "c2"
        assert store.pending("acme", TRIGGER) == []
