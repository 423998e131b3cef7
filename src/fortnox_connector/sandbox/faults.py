"""Injected faults, the per-(client, tenant) rate limiter and request counters."""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

FAULT_KINDS = ("429", "500", "503", "slow", "malformed", "drop", "drop_response")
"""``drop`` closes the connection before the request is handled; ``drop_response`` handles it (a POST is
stored) and then closes the connection instead of answering: the lost answer that makes a write ambiguous."""


@dataclass
class Fault:
    kind: str
    count: int | None = None  # the next N matching requests
    fraction: float | None = None  # or this share of matching requests
    path_prefix: str = "/3/"
    method: str | None = None
    delay: float = 1.0  # seconds, for "slow"

    def matches(self, method: str, path: str) -> bool:
        if not path.startswith(self.path_prefix):
            return False
        return self.method is None or self.method.upper() == method.upper()


class Faults:
    """Ordered fault rules; the first one that matches and fires decides the request's fate."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed ^ 0x5EED)  # noqa: S311 - reproducible, not security
        self._rules: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; use one of {FAULT_KINDS}")
        if (fault.count is None) == (fault.fraction is None):
            raise ValueError("give exactly one of count or fraction")
        if fault.count is not None and (type(fault.count) is not int or fault.count < 1):
            raise ValueError("count must be a whole number of requests, 1 or more")
        if fault.fraction is not None and (
            isinstance(fault.fraction, bool)
            or not isinstance(fault.fraction, int | float)
            or not 0 < fault.fraction <= 1
        ):
            raise ValueError("fraction must be a number above 0 and at most 1")
        if isinstance(fault.delay, bool) or not isinstance(fault.delay, int | float) or fault.delay < 0:
            raise ValueError("delay must be a number of seconds, 0 or more")
        with self._lock:
            self._rules.append(fault)

    def pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self._rules.remove(rule)
                    return rule
                if rule.fraction is not None and self._rng.random() < rule.fraction:
                    return rule
        return None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [dict(vars(r)) for r in self._rules]


class RateLimiter:
    """Sliding window: at most ``limit`` requests per ``window`` seconds per key, on a monotonic clock."""

    def __init__(self, clock: Callable[[], float], limit: int = 25, window: float = 5.0) -> None:
        self._clock = clock
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, int], deque[float]] = {}

    def allow(self, key: tuple[str, int]) -> bool:
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


@dataclass
class Stats:
    """Counters since start (or the last reset)."""

    requests: int = 0
    rate_limited: int = 0
    token_requests: int = 0
    faults: int = 0
    by_path: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "token_requests": self.token_requests,
            "faults": self.faults,
            "by_path": dict(self.by_path),
            "by_status": {str(k): v for k, v in self.by_status.items()},
        }
