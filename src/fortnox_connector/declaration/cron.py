"""A tenant's schedule: five cron fields that must actually fire, checked when the config is read.

``croniter.is_valid`` only checks the syntax: ``0 23 30 2 *`` (23:00 on 30 February) passes, and asking it
for the next run then raises, which once crashed the whole scheduler for every tenant. So a schedule is
accepted only when its next fire times can be computed (``FIRES_CHECKED`` of them, from now, in the
tenant's time zone); an impossible one is a ``ConfigError`` naming the field and the fix, found when the
config is set, not at night when the scheduler looks.

croniter comes with the runtime extra (``[runtime]``): a host on the plain install schedules runs itself,
so without croniter only the shape (five fields) is checked.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fortnox_connector.errors import ConfigError


def _load_croniter() -> Any:
    try:
        return importlib.import_module("croniter").croniter
    except ImportError:  # the plain install
        return None


croniter: Any = _load_croniter()

FIRES_CHECKED = 3
CRON_FIELDS = 5
CRON_HINT = "give five fields: minute hour day-of-month month day-of-week, e.g. '0 23 * * *'"


def check_schedule(
    expr: str,
    zone: ZoneInfo,
    *,
    now: datetime | None = None,
    tenant: str | None = None,
    what: str = "the tenant's config",
) -> None:
    """Refuse a schedule that is not five cron fields or never fires (its next runs cannot be computed)."""
    if not cron_valid(expr):
        raise _bad(f"{_shown(expr)} is not a cron expression of five fields", tenant, what, CRON_HINT)
    if croniter is None:
        return
    start = (now or datetime.now(zone)).astimezone(zone)
    try:
        slots = croniter(expr, start)
        for _ in range(FIRES_CHECKED):
            slots.get_next(datetime)
    except (ValueError, KeyError, OverflowError):  # croniter's CroniterBadDateError is a ValueError
        raise _bad(
            f"{_shown(expr)} never fires (no such day, e.g. 30 February)",
            tenant,
            what,
            "pick a day that exists in the months given (e.g. '0 23 28 2 *'), or the default '0 23 * * *'",
        ) from None


def cron_valid(expr: str) -> bool:
    """Five fields, and (with croniter installed) valid cron syntax."""
    return len(expr.split()) == CRON_FIELDS and (croniter is None or bool(croniter.is_valid(expr)))


def _bad(reason: str, tenant: str | None, what: str, hint: str) -> ConfigError:
    return ConfigError(f"{what}: schedule: {reason}", field="schedule", tenant=tenant, hint=hint)


def _shown(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
