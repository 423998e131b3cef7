"""A conformance suite any host's state store runs: cursors, CAS token swap, single-flight lock,
idempotency records and (for a runtime store) the outbox.

Subclass the suites in a test module and give the ``state_store_factory`` fixture: a callable that opens
a new handle on **one shared storage** each time it is called (two handles compete the way two worker
processes do). With ``pytest -p fortnox_connector.testing`` the suites are also offered as fixtures'
home; nothing else is needed::

    from fortnox_connector.testing import OutboxConformance, StateStoreConformance

    class TestMyStore(StateStoreConformance):
        @pytest.fixture
        def state_store_factory(self, tmp_path):
            return lambda: MyStore(tmp_path / "state.db")

A store passes when every test passes; each test names the rule it checks (docs/contract.md). Handles are
closed after each test when they have ``close()``. Only threads are used, never sleeps: a blocked lock is
observed through events with a bounded wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pytest

from fortnox_connector.contract.records import Event
from fortnox_connector.contract.state import IdempotencyRecord, StateStore, Token
from fortnox_connector.secrets import Secret

WAIT_S = 10.0  # an upper bound for a thread to reach a point; met at once when the store is right
BLOCKED_S = 0.3  # how long a blocked lock is watched to be still blocked (a bounded wait, not a sleep)

StoreFactory = Callable[[], Any]


class _Outbox(StateStore, Protocol):
    def enqueue(self, tenant: str, trigger: str, events: Any, cursor: str) -> int: ...

    def pending(self, tenant: str, trigger: str, *, limit: int | None = None) -> list[Any]: ...

    def mark_delivered(self, ids: Any) -> None: ...

    def commit_after_delivery(self, tenant: str, trigger: str) -> str | None: ...


def _token(access: str, refresh: str | None, minutes: int = 60) -> Token:
    return Token(
        access_token=Secret(access),
        expires_at=datetime(2026, 3, 2, 10, tzinfo=UTC) + timedelta(minutes=minutes),
        scope=frozenset({"invoice", "payment"}),
        refresh_token=Secret(refresh) if refresh is not None else None,
    )


class _Handles:
    """Opens handles through the factory and closes them all at the end of a test."""

    def __init__(self, factory: StoreFactory) -> None:
        self.factory = factory
        self.opened: list[Any] = []

    def __call__(self) -> Any:
        store = self.factory()
        self.opened.append(store)
        return store

    def close(self) -> None:
        for store in reversed(self.opened):
            close = getattr(store, "close", None)
            if callable(close):
                close()


class StateStoreConformance:
    """The contract's ``StateStore``: what every connector relies on, whatever store the host has."""

    @pytest.fixture
    def handles(self, state_store_factory: StoreFactory) -> Iterator[_Handles]:
        opened = _Handles(state_store_factory)
        try:
            yield opened
        finally:
            opened.close()

    @pytest.fixture
    def store(self, handles: _Handles) -> StateStore:
        first: StateStore = handles()
        return first

    # -- cursors -------------------------------------------------------------------------------------

    def test_a_cursor_is_none_until_committed_then_the_last_committed(self, store: StateStore) -> None:
        assert store.load_cursor("t1", "payment_received") is None
        store.commit_cursor("t1", "payment_received", "c1")
        store.commit_cursor("t1", "payment_received", "c2")
        assert store.load_cursor("t1", "payment_received") == "c2"

    def test_cursors_are_kept_per_tenant_and_trigger(self, store: StateStore) -> None:
        store.commit_cursor("t1", "a", "1")
        store.commit_cursor("t1", "b", "2")
        store.commit_cursor("t2", "a", "3")
        assert [store.load_cursor(t, n) for t, n in (("t1", "a"), ("t1", "b"), ("t2", "a"))] == [
            "1",
            "2",
            "3",
        ]

    def test_a_committed_cursor_is_seen_by_another_handle(self, handles: _Handles) -> None:
        handles().commit_cursor("t1", "a", "42")
        assert handles().load_cursor("t1", "a") == "42"

    # -- tokens: compare-and-swap on the refresh token -------------------------------------------------

    def test_a_token_round_trips_with_its_secrets_expiry_and_scope(self, store: StateStore) -> None:
        token = _token("at-1", "rt-1")
        assert store.load_token("t1") is None
        assert store.swap_token("t1", None, token)
        loaded = store.load_token("t1")
        assert loaded is not None and loaded.access_token == token.access_token
        assert loaded.refresh_token == token.refresh_token and loaded.scope == token.scope
        assert loaded.expires_at == token.expires_at and loaded.expires_at.tzinfo is not None

    def test_a_swap_expecting_a_stale_refresh_token_is_refused(self, store: StateStore) -> None:
        assert store.swap_token("t1", None, _token("at-1", "rt-1"))
        assert not store.swap_token("t1", None, _token("at-x", "rt-x"))  # someone stored one meanwhile
        assert store.swap_token("t1", Secret("rt-1"), _token("at-2", "rt-2"))
        assert not store.swap_token("t1", Secret("rt-1"), _token("at-3", "rt-3"))  # rt-1 was rotated
        loaded = store.load_token("t1")
        assert loaded is not None and loaded.refresh_token == Secret("rt-2")

    def test_of_racing_swaps_from_one_refresh_token_exactly_one_wins(self, handles: _Handles) -> None:
        assert handles().swap_token("t1", None, _token("at-0", "rt-0"))
        racers = [handles() for _ in range(4)]
        start = threading.Barrier(len(racers))
        won: list[bool] = [False] * len(racers)

        def swap(i: int) -> None:
            start.wait(WAIT_S)
            won[i] = racers[i].swap_token("t1", Secret("rt-0"), _token(f"at-{i + 1}", f"rt-{i + 1}"))

        _run_all([threading.Thread(target=swap, args=(i,)) for i in range(len(racers))])
        assert sum(won) == 1
        loaded = handles().load_token("t1")
        assert loaded is not None and loaded.refresh_token == Secret(f"rt-{won.index(True) + 1}")

    def test_tokens_are_kept_per_tenant(self, store: StateStore) -> None:
        assert store.swap_token("t1", None, _token("at-1", "rt-1"))
        assert store.load_token("t2") is None

    # -- the single-flight lock ----------------------------------------------------------------------

    def test_a_named_lock_is_held_by_one_handle_at_a_time(self, handles: _Handles) -> None:
        holder, waiter = handles(), handles()
        held, release, acquired = threading.Event(), threading.Event(), threading.Event()

        def hold() -> None:
            with holder.lock("token:t1"):
                held.set()
                release.wait(WAIT_S)

        def wait() -> None:
            with waiter.lock("token:t1"):
                acquired.set()

        first = threading.Thread(target=hold)
        first.start()
        assert held.wait(WAIT_S)
        second = threading.Thread(target=wait)
        second.start()
        assert not acquired.wait(BLOCKED_S), "a second holder entered a held lock"
        release.set()
        assert acquired.wait(WAIT_S), "the lock was not handed on after its release"
        _join(first, second)

    def test_different_lock_names_do_not_block_each_other(self, handles: _Handles) -> None:
        holder, other = handles(), handles()
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with holder.lock("token:t1"):
                held.set()
                release.wait(WAIT_S)

        thread = threading.Thread(target=hold)
        thread.start()
        try:
            assert held.wait(WAIT_S)
            _takes_within(other.lock("token:t2"), WAIT_S)
        finally:
            release.set()
            _join(thread)

    def test_a_lock_is_released_when_its_block_raises(self, store: StateStore) -> None:
        with pytest.raises(RuntimeError), store.lock("token:t1"):
            raise RuntimeError("the refresh failed")
        _takes_within(store.lock("token:t1"), WAIT_S)

    # -- idempotency records -------------------------------------------------------------------------

    def test_an_idempotency_record_goes_from_pending_to_completed(self, store: StateStore) -> None:
        assert store.load_idempotency("t1", "k1") is None
        store.save_idempotency("t1", IdempotencyRecord("k1", "fp", "pending"))
        pending = store.load_idempotency("t1", "k1")
        assert pending is not None and pending.status == "pending" and pending.result is None
        result = {"payment_number": 7, "amount": "400.10"}
        store.save_idempotency("t1", IdempotencyRecord("k1", "fp", "completed", result, attempts=2))
        done = store.load_idempotency("t1", "k1")
        assert done is not None and (done.status, done.fingerprint, done.attempts) == ("completed", "fp", 2)
        assert done.result == result

    def test_idempotency_records_are_kept_per_tenant_and_seen_by_another_handle(
        self, handles: _Handles
    ) -> None:
        handles().save_idempotency("t1", IdempotencyRecord("k1", "fp", "pending"))
        other = handles()
        assert other.load_idempotency("t1", "k1") is not None
        assert other.load_idempotency("t2", "k1") is None


class OutboxConformance(StateStoreConformance):
    """A runtime store's outbox: events wait until delivered; a cursor moves only past delivered ones."""

    @pytest.fixture
    def outbox(self, store: StateStore) -> _Outbox:
        if not hasattr(store, "enqueue"):
            pytest.skip("this store has no outbox (a host that delivers before committing needs none)")
        box: _Outbox = store  # type: ignore[assignment]  # checked just above
        return box

    def test_enqueued_events_are_pending_in_order_until_delivered(self, outbox: _Outbox) -> None:
        outbox.enqueue("t1", "a", _events("t1", "a", "e1", "e2"), "c1")
        outbox.enqueue("t1", "a", _events("t1", "a", "e3"), "c2")
        pending = outbox.pending("t1", "a")
        assert [p.event.dedup_key for p in pending] == ["e1", "e2", "e3"]
        assert outbox.pending("t1", "b") == [] and outbox.pending("t2", "a") == []
        outbox.mark_delivered([pending[0].id])
        assert [p.event.dedup_key for p in outbox.pending("t1", "a")] == ["e2", "e3"]

    def test_the_cursor_moves_only_past_batches_fully_delivered(self, outbox: _Outbox) -> None:
        outbox.enqueue("t1", "a", _events("t1", "a", "e1"), "c1")
        outbox.enqueue("t1", "a", _events("t1", "a", "e2"), "c2")
        assert outbox.commit_after_delivery("t1", "a") is None
        first, second = outbox.pending("t1", "a")
        outbox.mark_delivered([second.id])  # out of order: e1 still blocks both batches
        assert outbox.commit_after_delivery("t1", "a") is None
        assert outbox.load_cursor("t1", "a") is None
        outbox.mark_delivered([first.id])
        assert outbox.commit_after_delivery("t1", "a") == "c2"
        assert outbox.load_cursor("t1", "a") == "c2" and outbox.pending("t1", "a") == []

    def test_an_event_already_waiting_is_not_queued_twice(self, outbox: _Outbox) -> None:
        outbox.enqueue("t1", "a", _events("t1", "a", "e1", "e2"), "c1")
        outbox.enqueue("t1", "a", _events("t1", "a", "e2", "e3"), "c2")  # a re-poll overlaps
        assert [p.event.dedup_key for p in outbox.pending("t1", "a")] == ["e1", "e2", "e3"]


def _events(tenant: str, trigger: str, *keys: str) -> list[Event]:
    return [Event(trigger, tenant, key, {"key": key, "amount": "1.00"}) for key in keys]


def _run_all(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    _join(*threads)


def _join(*threads: threading.Thread) -> None:
    for thread in threads:
        thread.join(WAIT_S)
        assert not thread.is_alive(), "a store call did not return"


def _takes_within(lock: AbstractContextManager[None], timeout: float) -> None:
    """Take and release ``lock`` in a helper thread; fail if that does not finish within ``timeout`` s."""
    done = threading.Event()
    errors: list[BaseException] = []

    def take() -> None:
        try:
            with lock:
                pass
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=take)
    thread.start()
    assert done.wait(timeout), "the lock could not be taken"
    thread.join(timeout)
    if errors:
        raise errors[0]
