"""Pacing under Fortnox's rate limit: a sliding window shared per (client id, tenant) in the process.

Fortnox allows 25 requests per 5-second sliding window per client id and tenant and answers 429 beyond.
Clients pacing at exactly 5/s still saw 429s (network latency compresses the gaps the server sees); 4/s
worked. The default here is therefore 20 requests per 5 s (4/s on average): the spare 5 requests per
window absorb latency jitter between when we send and when Fortnox counts. See docs/fortnox-client.md.

The clock and sleep are injectable so tests run instantly on a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], None]

FORTNOX_LIMIT = 25  # requests per window, enforced by Fortnox
FORTNOX_WINDOW = 5.0  # seconds
DEFAULT_LIMIT = 20  # ours: 80 % of Fortnox's, i.e. 4 requests/s on average


@dataclass(frozen=True, slots=True)
class PacerStats:
    """Counters of one pacer (every client of its (client id, tenant) pair adds to them)."""

    acquired: int  # requests let through
    waits: int  # times a request had to wait
    waited_seconds: float  # total time spent waiting (pacing and 429 pauses)
    throttled: int  # 429 answers reported by clients


class Pacer:
    """Lets at most ``limit`` requests start in any ``window`` seconds; thread-safe.

    ``pause_until`` holds every request of the pair back (after a 429, Fortnox wants the average to recover).
    """

    def __init__(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        window: float = FORTNOX_WINDOW,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a pacer needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._starts: deque[float] = deque()
        self._paused_until = float("-inf")
        self._acquired = 0
        self._waits = 0
        self._waited = 0.0
        self._throttled = 0

    def acquire(self) -> float:
        """Block until a request may start; record it. Returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                while self._starts and self._starts[0] <= now - self.window:
                    self._starts.popleft()
                wait = self._paused_until - now
                if len(self._starts) >= self.limit:
                    wait = max(wait, self._starts[0] + self.window - now)
                if wait <= 0:
                    self._starts.append(now)
                    self._acquired += 1
                    if waited > 0:
                        self._waits += 1
                        self._waited += waited
                    return waited
            self.sleep(wait)
            waited += wait

    def pause_until(self, until: float) -> None:
        """Hold every request back until the clock reads ``until`` (never shortens a pause)."""
        with self._lock:
            self._paused_until = max(self._paused_until, until)

    def record_throttled(self) -> None:
        """A client got a 429 for this pair."""
        with self._lock:
            self._throttled += 1

    def stats(self) -> PacerStats:
        with self._lock:
            return PacerStats(self._acquired, self._waits, self._waited, self._throttled)


class PacerRegistry:
    """One ``Pacer`` per (client id, tenant), created on first use; thread-safe."""

    def __init__(self, *, limit: int = DEFAULT_LIMIT, window: float = FORTNOX_WINDOW) -> None:
        self.limit = limit
        self.window = window
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
                pacer = Pacer(limit=self.limit, window=self.window, clock=clock, sleep=sleep)
                self._pacers[key] = pacer
            return pacer


PACERS = PacerRegistry()
"""The process-wide registry every ``FortnoxClient`` uses unless given another."""
