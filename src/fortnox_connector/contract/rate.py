"""A rate window a host shares between its processes, so a connector keeps a remote API's limit across all of
them and not only within its own process.

A connector paces its requests per key (Fortnox: per client id and tenant): at most ``limit`` requests in any
``span_s`` seconds, each counted from its answer. In one process it keeps that window itself. A host running
the connector in several processes gives it a ``RateWindow`` (``TenantSpec.rate_window``) that counts for
every process: the reference runtime's PostgreSQL store is one (``runtime/store/pg_rate_window.py``), a host
on Redis would write its own. Keys are opaque to the host.

The rules a ``RateWindow`` keeps, whatever holds it:

- ``take`` takes a slot only while fewer than ``limit`` slots of the key count: those in flight, and those
  answered less than ``span_s`` seconds ago; nor while the key is paused. Otherwise it says how long to wait
  before asking again (the connector sleeps, then asks again).
- ``answered`` stamps the slot with the time of its answer (one clock for every process: the host's).
- A slot in flight far longer than any request takes (its process died) stops counting after a lease.
- ``pause`` holds every process's requests of the key back (a 429 says the API's own count is ahead).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Slot:
    """What ``take`` gave: a ``ticket`` to hand to ``answered``, or (window full) ``None`` and how long to
    wait before asking again."""

    ticket: object | None
    wait_s: float = 0.0


class RateWindow(Protocol):
    """A window of requests per key, shared by every process of a host; thread-safe."""

    def take(self, key: str, *, limit: int, span_s: float) -> Slot:
        """A slot of ``key``'s window if one is free, else how long to wait (see the module's rules)."""
        ...

    def answered(self, ticket: object) -> None:
        """The request of ``ticket`` got its answer (or failed): its slot counts ``span_s`` from now."""
        ...

    def pause(self, key: str, seconds: float) -> None:
        """Take no slot of ``key`` for ``seconds`` from now, in any process (never shortens a pause)."""
        ...


class MemoryRateWindow:
    """A ``RateWindow`` in this process's memory: the reference for the rules above (and tests). Shared by
    the threads of one process only, which pace together anyway; a host with several processes needs one
    they share (a database)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, lease_s: float = 60.0) -> None:
        self._clock = clock
        self._lease_s = lease_s
        self._lock = threading.Lock()
        self._slots: dict[str, dict[int, tuple[float, float | None]]] = {}  # key -> ticket -> taken, answered
        self._paused: dict[str, float] = {}  # key -> until
        self._key_of: dict[int, str] = {}  # ticket -> key
        self._tickets = itertools.count(1)

    def take(self, key: str, *, limit: int, span_s: float) -> Slot:
        with self._lock:
            now = self._clock()
            slots = self._slots.setdefault(key, {})
            for ticket, (taken, done) in list(slots.items()):
                gone = taken + self._lease_s if done is None else done + span_s
                if gone <= now:
                    del slots[ticket]
                    del self._key_of[ticket]
            paused_for = self._paused.get(key, now) - now
            if paused_for > 0:
                return Slot(None, paused_for)
            if len(slots) < limit:
                ticket = next(self._tickets)
                slots[ticket] = (now, None)
                self._key_of[ticket] = key
                return Slot(ticket)
            answered = [done for _, done in slots.values() if done is not None]
            return Slot(None, min(answered) + span_s - now if answered else 0.05)

    def answered(self, ticket: object) -> None:
        if not isinstance(ticket, int):
            return
        with self._lock:
            key = self._key_of.get(ticket)
            if key is not None:
                taken, _ = self._slots[key][ticket]
                self._slots[key][ticket] = (taken, self._clock())

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            self._paused[key] = max(self._paused.get(key, until), until)
