"""A conformance suite for a host's ``RateWindow`` (``contract/rate.py``): the rules a connector's pacer
relies on to keep an API's limit across every process of the host.

Subclass it and give the ``rate_window_factory`` fixture: a callable that opens a new handle on **one shared
window** each time it is called (two handles compete the way two worker processes do)::

    class TestMyWindow(RateWindowConformance):
        @pytest.fixture
        def rate_window_factory(self):
            return lambda: MyRedisWindow(url)

No test sleeps: the spans are 0 (an answered slot leaves at once) or a minute (it stays for the test).
Each test uses keys of its own, so a window kept in a shared database needs no cleaning between tests.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fortnox_connector.contract.rate import RateWindow

RateWindowFactory = Callable[[], Any]
Windows = Callable[[], RateWindow]  # opens a new handle on the shared window
LONG = 60.0  # a span or pause that outlasts any test


def _key() -> str:
    return f"conformance-{uuid.uuid4().hex}"


class RateWindowConformance:
    @pytest.fixture
    def windows(self, rate_window_factory: RateWindowFactory) -> Iterator[Windows]:
        opened: list[Any] = []

        def open_one() -> RateWindow:
            window: RateWindow = rate_window_factory()
            opened.append(window)
            return window

        yield open_one
        for window in opened:
            close = getattr(window, "close", None)
            if close is not None:
                close()

    def test_a_key_gives_limit_slots_then_says_how_long_to_wait(self, windows: Windows) -> None:
        window, key = windows(), _key()
        taken = [window.take(key, limit=3, span_s=LONG) for _ in range(3)]
        assert all(slot.ticket is not None for slot in taken)
        assert len({repr(slot.ticket) for slot in taken}) == 3  # three distinct tickets
        full = window.take(key, limit=3, span_s=LONG)
        assert full.ticket is None and full.wait_s > 0  # all in flight: an answer will free one

    def test_an_answered_slot_counts_for_its_span_and_no_longer(self, windows: Windows) -> None:
        window, counted, gone = windows(), _key(), _key()
        slot = window.take(counted, limit=1, span_s=LONG)
        window.answered(slot.ticket)
        full = window.take(counted, limit=1, span_s=LONG)
        assert full.ticket is None and 0 < full.wait_s <= LONG  # free when the answer is a span old
        window.answered(window.take(gone, limit=1, span_s=0.0).ticket)
        assert window.take(gone, limit=1, span_s=0.0).ticket is not None  # a span of 0: free at once

    def test_every_handle_counts_the_same_window(self, windows: Windows) -> None:
        one, other, key = windows(), windows(), _key()
        assert one.take(key, limit=2, span_s=LONG).ticket is not None
        assert other.take(key, limit=2, span_s=LONG).ticket is not None
        assert one.take(key, limit=2, span_s=LONG).ticket is None
        assert other.take(key, limit=2, span_s=LONG).ticket is None

    def test_keys_do_not_share_a_window(self, windows: Windows) -> None:
        window, full, free = windows(), _key(), _key()
        assert window.take(full, limit=1, span_s=LONG).ticket is not None
        assert window.take(full, limit=1, span_s=LONG).ticket is None
        assert window.take(free, limit=1, span_s=LONG).ticket is not None

    def test_a_pause_holds_the_key_back_in_every_handle(self, windows: Windows) -> None:
        one, other, key, elsewhere = windows(), windows(), _key(), _key()
        one.pause(key, LONG)
        held = other.take(key, limit=25, span_s=LONG)
        assert held.ticket is None and 0 < held.wait_s <= LONG
        assert other.take(elsewhere, limit=25, span_s=LONG).ticket is not None

    def test_a_shorter_pause_never_shortens_one(self, windows: Windows) -> None:
        window, key = windows(), _key()
        window.pause(key, LONG)
        window.pause(key, 1.0)
        assert window.take(key, limit=25, span_s=LONG).wait_s > 1.0

    def test_racing_takes_never_exceed_the_limit(self, windows: Windows) -> None:
        key, limit, racers = _key(), 5, 12
        handles = [windows() for _ in range(racers)]
        start = threading.Barrier(racers)
        got: list[bool] = []
        lock = threading.Lock()

        def race(window: RateWindow) -> None:
            start.wait()
            slot = window.take(key, limit=limit, span_s=LONG)
            with lock:
                got.append(slot.ticket is not None)

        threads = [threading.Thread(target=race, args=(h,)) for h in handles]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert got.count(True) == limit and len(got) == racers
