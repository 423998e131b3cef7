"""Pacing under Fortnox's rate limit: a sliding window shared per (client id, tenant) in the process.

Fortnox allows 25 requests per 5-second sliding window per client id and tenant and answers 429 beyond it.
Fortnox counts *arrivals*; a client only knows when it *sent* a request and when the answer *came back*.
Clients that spaced departures at exactly 5/s still met 429s (a request that travels slower than the one
after it squeezes the window the server sees), so others settled for 4/s and lost a fifth of the budget.

This pacer anchors the window on what it knows of each request's arrival. A request arrived at Fortnox
somewhere between its departure and its answer; its slot stays taken while it is in flight and for
``window + guard`` seconds after its **anchor**:

- ``"estimated"`` (the default): the answer minus half the fastest round trip this pair has seen. Whatever
  Fortnox does between arrival and answer — queue the request before counting it, work after counting, count
  at completion — the answer cannot come back sooner after the count than the network's way back, and on a
  symmetric path that way takes at least half the fastest round trip (which is two network ways plus the
  least work). So the estimate is never later than the arrival unless the way back is markedly faster than
  the way in. Cost per window of 25: the round trip minus half the fastest one, plus the guard.
- ``"answer"``: on the answer itself. Every request arrived before its answer came back, so the server never
  sees more than ``limit`` arrivals in a window, whatever the path. Cost: a whole round trip plus the guard
  per window (a 300 ms round trip costs 6 %, not the fifth of the budget that 4/s pacing gives away).

A 429 is the proof that the assumption failed (or that someone else spends the pair's budget): the pair's
pacer then anchors on answers for good. See docs/fortnox-client.md.

A 429 means someone else spends the pair's budget (another process, another integration with the same
client id): the pacer then lowers its limit (to 80 % once per window, not below ``MIN_LIMIT``) and creeps
back one request per ``RECOVER_AFTER`` quiet seconds. The clock and sleep are injectable so tests run
instantly on a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Clock = Callable[[], float]
Sleep = Callable[[float], None]
Anchor = Literal["estimated", "answer"]
ANCHORS: tuple[Anchor, ...] = ("estimated", "answer")

FORTNOX_LIMIT = 25  # requests per window, enforced by Fortnox
FORTNOX_WINDOW = 5.0  # seconds
DEFAULT_LIMIT = FORTNOX_LIMIT  # safe at the full limit because slots are anchored on arrivals, not departures
DEFAULT_ANCHOR: Anchor = "estimated"
DEFAULT_GUARD = 0.05  # seconds added to the window: room for a server clock coarser than ours
MIN_LIMIT = 5  # a run of 429s never lowers the limit below this
RECOVER_AFTER = 60.0  # quiet seconds after a 429 before the limit grows back by one


@dataclass(frozen=True, slots=True)
class PacerStats:
    """Counters of one pacer (every client of its (client id, tenant) pair adds to them)."""

    acquired: int  # requests let through
    waits: int  # times a request had to wait
    waited_seconds: float  # total time spent waiting (pacing and 429 pauses)
    throttled: int  # 429 answers reported by clients
    limit: int  # the limit now in force (lower than configured after 429s)
    anchor: Anchor  # how slots are anchored now ("answer" after a 429)


class Pacer:
    """Lets a request start only while fewer than ``limit`` slots are taken; thread-safe.

    ``acquire()`` takes a slot before a request is sent; ``release(sent_at)`` must follow when its answer
    came back (or it failed), with the clock reading taken just before sending: the slot then stays taken
    until ``window + guard`` seconds after its anchor. ``pause_until`` holds every request of the pair back
    (after a 429, Fortnox wants the average to recover).
    """

    def __init__(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        window: float = FORTNOX_WINDOW,
        guard: float = DEFAULT_GUARD,
        anchor: Anchor = DEFAULT_ANCHOR,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0 or guard < 0 or anchor not in ANCHORS:
            raise ValueError("a pacer needs limit >= 1, window > 0, guard >= 0, anchor estimated or answer")
        self.configured_limit = limit
        self.limit = limit
        self.window = window
        self.guard = guard
        self.anchor: Anchor = anchor
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Condition()
        self._done: deque[float] = deque()  # anchors of answered requests inside the window, oldest first
        self._fastest = float("inf")  # the shortest round trip seen (the estimated anchor's yardstick)
        self._in_flight = 0
        self._paused_until = float("-inf")
        self._last_throttled = float("-inf")
        self._last_lowered = float("-inf")
        self._acquired = 0
        self._waits = 0
        self._waited = 0.0
        self._throttled = 0

    def acquire(self) -> float:
        """Block until a request may start and take its slot. Returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                self._recover(now)
                span = self.window + self.guard
                while self._done and self._done[0] + span <= now:  # the same sum as the wait below
                    self._done.popleft()
                wait = self._paused_until - now
                if wait <= 0 and self._in_flight + len(self._done) >= self.limit:
                    if not self._done:  # every slot is in flight: wait for an answer
                        self._lock.wait()
                        continue
                    wait = self._done[0] + span - now
                if wait <= 0:
                    self._in_flight += 1
                    self._acquired += 1
                    if waited > 0:
                        self._waits += 1
                        self._waited += waited
                    return waited
            self.sleep(wait)
            waited += wait

    def release(self, sent_at: float | None = None) -> None:
        """The request of an ``acquire()`` got its answer (or failed): its slot expires a window after it.

        ``sent_at`` is this pacer's clock just before the request left; without it the anchor is the answer.
        Anchors only grow (a later answer, a fastest round trip that only shrinks), so the deque stays sorted.
        """
        with self._lock:
            now = self.clock()
            anchor = now
            if sent_at is not None and sent_at <= now:
                self._fastest = min(self._fastest, now - sent_at)
                if self.anchor == "estimated":
                    anchor = now - self._fastest / 2
            self._in_flight = max(0, self._in_flight - 1)
            self._done.append(anchor)
            self._lock.notify()

    def pause_until(self, until: float) -> None:
        """Hold every request back until the clock reads ``until`` (never shortens a pause)."""
        with self._lock:
            self._paused_until = max(self._paused_until, until)

    def record_throttled(self) -> None:
        """A client got a 429 for this pair: someone else spends its budget, so lower the limit.

        Once per window: the 429s of one burst (several requests in flight) are one signal, not several.
        An estimating pacer also falls back to anchoring on answers, for good: whether the way back was
        faster than assumed or another sender shares the budget, the safe anchor is the one to keep.
        """
        with self._lock:
            self._throttled += 1
            self.anchor = "answer"
            now = self.clock()
            if now - self._last_lowered >= self.window:
                self._last_lowered = now
                self.limit = max(min(MIN_LIMIT, self.configured_limit), self.limit * 4 // 5)
            self._last_throttled = now

    def stats(self) -> PacerStats:
        with self._lock:
            return PacerStats(
                self._acquired, self._waits, self._waited, self._throttled, self.limit, self.anchor
            )

    def _recover(self, now: float) -> None:
        """Grow the limit back by one per ``RECOVER_AFTER`` seconds without a 429 (lock held)."""
        # A hair of slack: clock readings are floats, so (t + 60) - t can come out as 59.999999999.
        if self.limit < self.configured_limit and now - self._last_throttled >= RECOVER_AFTER - 1e-6:
            self.limit += 1
            self._last_throttled = now


class PacerRegistry:
    """One ``Pacer`` per (client id, tenant), created on first use; thread-safe."""

    def __init__(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        window: float = FORTNOX_WINDOW,
        guard: float = DEFAULT_GUARD,
        anchor: Anchor = DEFAULT_ANCHOR,
    ) -> None:
        self.limit = limit
        self.window = window
        self.guard = guard
        self.anchor: Anchor = anchor
        self._lock = threading.Lock()
        self._pacers: dict[tuple[str, str], Pacer] = {}

    def get(
        self, client_id: str, tenant: str, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> Pacer:
        """The pair's pacer; ``clock``/``sleep`` apply only when this call creates it."""
        key = (client_id, tenant)
        with self._lock:
            pacer = self._pacers.get(key)
            if pacer is None:
                pacer = self._pacers[key] = self.new_pacer(client_id, tenant, clock=clock, sleep=sleep)
            return pacer

    def new_pacer(self, client_id: str, tenant: str, *, clock: Clock, sleep: Sleep) -> Pacer:
        """A new pair's pacer (a registry whose window lives elsewhere overrides this)."""
        return Pacer(
            limit=self.limit,
            window=self.window,
            guard=self.guard,
            anchor=self.anchor,
            clock=clock,
            sleep=sleep,
        )


PACERS = PacerRegistry()
"""The process-wide registry every ``FortnoxClient`` uses unless given another."""
