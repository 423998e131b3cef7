"""Two clocks: a movable business clock (Europe/Stockholm) and a wall clock for rate limiting."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


class BusinessClock:
    """Sandbox time: follows real time from a start point, or stands still once frozen; tests move it."""

    def __init__(self, start: datetime | None = None, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        base = start if start is not None else datetime.now(STOCKHOLM)
        if base.tzinfo is None:
            raise ValueError("the sandbox clock needs an aware datetime (Europe/Stockholm)")
        self._base = base.astimezone(STOCKHOLM)
        self._mono0 = time.monotonic()
        self._frozen = frozen

    def now(self) -> datetime:
        with self._lock:
            if self._frozen:
                return self._base
            return self._base + timedelta(seconds=time.monotonic() - self._mono0)

    def set(self, when: datetime, frozen: bool = True) -> None:
        if when.tzinfo is None:
            raise ValueError("set_clock needs an aware datetime")
        with self._lock:
            self._base = when.astimezone(STOCKHOLM)
            self._mono0 = time.monotonic()
            self._frozen = frozen

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._base = self._base + timedelta(seconds=seconds)


class WallClock:
    """Monotonic seconds plus an offset tests push forward (slides the rate-limit window without sleeping)."""

    def __init__(self) -> None:
        self._offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds
