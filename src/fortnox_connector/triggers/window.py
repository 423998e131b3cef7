"""The ``lastmodified`` window of a run: where the first run starts and where the next one starts.

Fortnox records carry no modification time we could keep, so the next run asks from *our own* request time
minus an overlap (``shared/fortnox-api.md`` §4). The value is sent as naive Europe/Stockholm wall time to the
minute (``fortnox.wire.format_lastmodified``); all arithmetic here is on aware datetimes.

Why the overlap must be at least an hour plus skew: Stockholm wall time runs backwards by one hour when
summer time ends (03:00 CEST becomes 02:00 CET). A record changed just after our run started may carry a
wall-clock stamp up to one hour *below* our start's wall time. Subtracting at least 60 minutes of real time
(plus the skew between our clock and Fortnox's) before converting to wall time covers that; in spring the
wall clock jumps forward and the same subtraction only asks for more.
``TenantConfig.lastmodified_overlap_minutes`` (default 90) sets it;
below ``MIN_OVERLAP_MINUTES`` the minimum is used instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")
DST_SHIFT_MINUTES = 60
MIN_SKEW_MINUTES = 5
MIN_OVERLAP_MINUTES = DST_SHIFT_MINUTES + MIN_SKEW_MINUTES


def overlap(minutes: int) -> timedelta:
    """The overlap to use for a configured number of minutes (never less than a DST hour plus skew)."""
    return timedelta(minutes=max(minutes, MIN_OVERLAP_MINUTES))


def backfill_since(now: datetime, backfill_days: int) -> datetime:
    """The first run's ``lastmodified``: midnight in Stockholm ``backfill_days`` days before ``now``.

    Midnight, so "30 days back" means 30 whole calendar days whatever hour the first run happens at.
    """
    day = now.astimezone(STOCKHOLM).date() - timedelta(days=max(backfill_days, 0))
    return datetime.combine(day, time(0, 0), tzinfo=STOCKHOLM)


def next_since(started: datetime, overlap_minutes: int) -> datetime:
    """The next run's ``lastmodified``: this run's start (before its first request) minus the overlap.

    In UTC: ``ctx.now`` may give Stockholm-zoned datetimes (the sandbox's clock does), and subtracting from
    a ``ZoneInfo`` datetime is wall-clock arithmetic, which across the spring jump would ask from an hour
    later than the overlap says.
    """
    return (started.astimezone(UTC) - overlap(overlap_minutes)).astimezone(STOCKHOLM)


def wall_minute(when: datetime) -> str:
    """``YYYY-MM-DD HH:MM`` in Stockholm: what goes on the wire (for logs and docs)."""
    return when.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
