"""The rate windows we ship pass the conformance suite any host's window runs, and the Fortnox client paces
on a host's window: a full window waits as told, a 429 in one process holds the others back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from fortnox_connector.contract import MemoryRateWindow
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.fortnox.shared_pacing import WindowPacerRegistry, pacers_for, registry_for
from fortnox_connector.testing import RateWindowConformance, RateWindowFactory
from tests.fortnox.conftest import FakeClock


class TestMemoryRateWindow(RateWindowConformance):
    @pytest.fixture
    def rate_window_factory(self) -> RateWindowFactory:
        shared = MemoryRateWindow()
        return lambda: shared


class TestPostgresRateWindow(RateWindowConformance):
    @pytest.fixture
    def rate_window_factory(self, pg_url: str) -> Iterator[RateWindowFactory]:
        from fortnox_connector.runtime.store.postgres import PostgresStore

        key = Fernet.generate_key()
        stores: list[Any] = []

        def open_one() -> Any:
            store = PostgresStore(pg_url, key)
            stores.append(store)
            return store.rate_window()

        yield open_one
        for store in stores:
            store.close()


def test_a_pacer_on_a_full_shared_window_waits_as_the_window_says() -> None:
    clock = FakeClock()
    window = MemoryRateWindow(clock=clock)
    registry = WindowPacerRegistry(window, limit=2, window=5.0, guard=0.05)
    pacer = registry.get("client", "acme", clock=clock, sleep=clock.sleep)
    for _ in range(2):
        assert pacer.acquire() == 0.0
        pacer.release()
    waited = pacer.acquire()  # the window's two answers leave it 5.05 s after they came
    assert waited == pytest.approx(5.05) and sum(clock.slept) == pytest.approx(5.05)


def test_a_429_in_one_process_holds_every_process_back() -> None:
    clock = FakeClock()
    window = MemoryRateWindow(clock=clock)
    here = WindowPacerRegistry(window).get("client", "acme", clock=clock, sleep=clock.sleep)
    there = WindowPacerRegistry(window).get("client", "acme", clock=clock, sleep=clock.sleep)
    here.pause_until(clock() + 3.0)
    assert there.acquire() == pytest.approx(3.0)  # the pause was the shared window's, not this process's


def test_a_session_paces_on_the_hosts_window_unless_given_pacers() -> None:
    window = MemoryRateWindow()
    assert registry_for(window) is registry_for(window)  # one registry per window: its pacers are shared
    assert isinstance(pacers_for(None, window), WindowPacerRegistry)
    own = PacerRegistry()
    assert pacers_for(own, window) is own  # the host's ``pacers`` extra wins (tests, tuning)
    assert pacers_for(None, None) is None  # no window: the process-wide registry
