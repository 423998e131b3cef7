"""Network latency, emulated: every API and OAuth request waits on its way in and on its way out.

Real Fortnox answers in 100-300 ms; on loopback the sandbox answers in about a millisecond, which hides
what latency does to a client (one page at a time stops reaching the rate limit; a pacer counting
departures meets 429s when a slow request arrives after a faster, later one). ``Latency(mean, jitter)``
draws each direction independently from ``mean / 2 ± jitter / 2`` (uniform), so one request's round trip
is ``mean ± jitter`` and requests in flight together may arrive in another order than they left. The
rate limit counts a request when it *arrives* (after the way in), as Fortnox does. Control-API calls
(``/_sandbox/``) are not delayed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

Wait = Callable[[float], object]


@dataclass
class Latency:
    """Seconds of round trip per request: ``mean`` ± ``jitter`` (0 and 0: none). Thread-safe."""

    mean: float = 0.0
    jitter: float = 0.0
    seed: int = 1
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.set(self.mean, self.jitter)
        self._rng = random.Random(self.seed)  # noqa: S311 - network jitter, not a secret

    def set(self, mean: float, jitter: float = 0.0) -> None:
        if isinstance(mean, bool) or isinstance(jitter, bool) or not 0 <= jitter <= mean:
            raise ValueError("latency needs 0 <= jitter <= mean (seconds)")
        self.mean, self.jitter = float(mean), float(jitter)

    def one_way(self) -> float:
        """One direction's delay: half the round trip, give or take half the jitter."""
        if self.mean <= 0:
            return 0.0
        with self._lock:
            spread = self._rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return max(0.0, (self.mean + spread) / 2)

    def travel(self, wait: Wait) -> None:
        """Wait one direction's delay with ``wait`` (an ``Event.wait``, so a stopping sandbox is not held)."""
        delay = self.one_way()
        if delay > 0:
            wait(delay)
