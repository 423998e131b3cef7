"""When and how long to retry: bounded attempts, exponential backoff with jitter, ``Retry-After``."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from fortnox_connector.fortnox.pacing import FORTNOX_WINDOW

SAFE_METHODS = frozenset({"GET", "HEAD", "DELETE"})


def is_safe(method: str, path: str) -> bool:
    """May this request be repeated after an unknown outcome? GET, DELETE and ``PUT .../bookkeep``.

    A repeated bookkeep or delete changes nothing more than the first did; a repeated POST may create a
    second payment (Fortnox has no idempotency key), so a POST is never repeated after an unknown outcome.
    """
    method = method.upper()
    return method in SAFE_METHODS or (method == "PUT" and path.rstrip("/").endswith("/bookkeep"))


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class RetryPolicy:
    """Bounds and delays of retries. ``rng`` and ``wall_clock`` are injectable for tests."""

    max_retries: int = 5
    backoff_base: float = 0.5  # seconds before the first retry after a 5xx/timeout
    backoff_cap: float = 30.0
    rate_limit_wait: float = FORTNOX_WINDOW  # at least one window after a 429 without Retry-After
    rate_limit_jitter: float = 1.0
    max_retry_after: float = 120.0  # a longer Retry-After is not waited out: RateLimited is raised
    rng: random.Random = field(default_factory=random.Random)
    wall_clock: Callable[[], datetime] = _utcnow

    def backoff(self, retry: int) -> float:
        """Delay before retry number ``retry`` (1-based) after a 5xx or a transport error.

        Exponential, capped, with "equal jitter": half fixed, half random, so retries spread out but never
        come back immediately.
        """
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** (retry - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def rate_limit_delay(self, retry: int, retry_after: float | None) -> float:
        """Delay before retry ``retry`` after a 429: ``Retry-After``, else >= one window + jitter."""
        if retry_after is not None:
            return retry_after
        base = min(self.backoff_cap, self.rate_limit_wait * 2.0 ** (retry - 1))
        return base + self.rng.uniform(0, self.rate_limit_jitter)

    def parse_retry_after(self, value: str | None) -> float | None:
        """Seconds to wait from ``Retry-After`` (delta-seconds or an HTTP date); None if absent/bad."""
        if value is None:
            return None
        value = value.strip()
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - self.wall_clock()).total_seconds()
        if seconds != seconds:  # NaN
            return None
        return max(0.0, seconds)
