"""Fortnox's rate limit kept across a host's processes: the pacer's window in a host's ``RateWindow``.

One process paces itself (``pacing.Pacer``); several workers each pacing on their own would together send up
to 25 times the workers. A host that runs the connector in several processes gives each session a
``RateWindow`` it shares between them (``TenantSpec.rate_window``, ``contract/rate.py``; the reference
runtime keeps one in PostgreSQL), and every client of a (client id, tenant) pair then paces on it:

- a request takes a slot of the pair's key before it leaves, and stamps it when its answer is read: the
  window is anchored on answers, stamped by the host's one clock (it never sees departures, so no estimate);
- a full window is asked again after the wait it names, never more than ``MAX_NAP_S`` later;
- a 429 pauses the pair in every process (``RateWindow.pause``) and lowers this process's limit as ``Pacer``
  does, so a budget someone else spends is left to them.
"""

from __future__ import annotations

import threading
import time

from fortnox_connector.contract.rate import RateWindow
from fortnox_connector.fortnox.pacing import (
    DEFAULT_GUARD,
    DEFAULT_LIMIT,
    FORTNOX_WINDOW,
    Clock,
    Pacer,
    PacerRegistry,
    Sleep,
)

MAX_NAP_S = 0.5  # ask a full window again at least this often


def pair_key(client_id: str, tenant: str) -> str:
    """The window's key of a (client id, tenant) pair (opaque to the host)."""
    return f"fortnox\x1f{client_id}\x1f{tenant}"


class WindowPacer(Pacer):
    """A ``Pacer`` whose window is a host's ``RateWindow``, shared by every process using it."""

    def __init__(
        self,
        window_store: RateWindow,
        key: str,
        *,
        limit: int,
        window: float,
        guard: float,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        super().__init__(limit=limit, window=window, guard=guard, anchor="answer", clock=clock, sleep=sleep)
        self._shared = window_store
        self._key = key
        self._mine = threading.local()  # the tickets this thread holds (acquire/release pair up per thread)

    def acquire(self) -> float:
        """Wait until the pair's shared window has room, then take a slot. Returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._recover(self.clock())
                limit = self.limit
            slot = self._shared.take(self._key, limit=limit, span_s=self.window + self.guard)
            if slot.ticket is not None:
                self._held().append(slot.ticket)
                with self._lock:
                    self._acquired += 1
                    if waited > 0:
                        self._waits += 1
                        self._waited += waited
                return waited
            nap = min(max(slot.wait_s, 0.005), MAX_NAP_S)
            self.sleep(nap)
            waited += nap

    def release(self, sent_at: float | None = None) -> None:
        """The request got its answer: the host stamps its slot (``sent_at`` is not used: answer-anchored)."""
        held = self._held()
        if held:
            self._shared.answered(held.pop())

    def pause_until(self, until: float) -> None:
        """Hold every process's requests of the pair back until ``until`` (this pacer's clock)."""
        super().pause_until(until)
        self._shared.pause(self._key, max(0.0, until - self.clock()))

    def _held(self) -> list[object]:
        held: list[object] | None = getattr(self._mine, "tickets", None)
        if held is None:
            held = self._mine.tickets = []
        return held


class WindowPacerRegistry(PacerRegistry):
    """A ``WindowPacer`` per (client id, tenant) over one host's ``RateWindow``."""

    def __init__(
        self,
        window_store: RateWindow,
        *,
        limit: int = DEFAULT_LIMIT,
        window: float = FORTNOX_WINDOW,
        guard: float = DEFAULT_GUARD,
    ) -> None:
        super().__init__(limit=limit, window=window, guard=guard, anchor="answer")
        self.window_store = window_store

    def new_pacer(self, client_id: str, tenant: str, *, clock: Clock, sleep: Sleep) -> Pacer:
        """The pair's window is the host's: every process takes its slots from the same place."""
        return WindowPacer(
            self.window_store,
            pair_key(client_id, tenant),
            limit=self.limit,
            window=self.window,
            guard=self.guard,
            clock=clock,
            sleep=sleep,
        )


_REGISTRIES: dict[int, tuple[RateWindow, WindowPacerRegistry]] = {}
_REGISTRIES_LOCK = threading.Lock()


def registry_for(window_store: RateWindow) -> WindowPacerRegistry:
    """One registry per host window in the process: every session of a pair shares its pacer (the limit a
    429 lowered stays lowered for all of them), as the process-wide ``PACERS`` does without one."""
    with _REGISTRIES_LOCK:
        known = _REGISTRIES.get(id(window_store))
        if known is None or known[0] is not window_store:
            known = _REGISTRIES[id(window_store)] = (window_store, WindowPacerRegistry(window_store))
        return known[1]


def pacers_for(given: object, window_store: RateWindow | None) -> PacerRegistry | None:
    """The registry a client paces on: ``given`` if it is one (a host's ``pacers`` extra: tests, tuning),
    else the host's shared window's, else None (the process-wide ``PACERS``)."""
    if isinstance(given, PacerRegistry):
        return given
    return registry_for(window_store) if window_store is not None else None
