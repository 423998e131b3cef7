"""The triggers' cursor: opaque to the host, versioned JSON inside.

```json
{"v": 1, "trigger": "payment_received",
 "since": "2026-03-01T08:30:00+01:00",
 "run": {"started": "2026-03-02T10:00:00+01:00", "page": 3, "total": 1234},
 "seen": {"booked": [[1, 480], [482, 990]]}}
```

- ``since``: the ``lastmodified`` of the current run, or of the next one when ``run`` is null.
- ``run``: a run in progress: when it started (request time, ``ctx.now()``), the next page to fetch, and the
  ``@TotalResources`` the previous page reported (a shrink means records moved, see ``paging``).
- ``seen``: numbers already emitted, per kind, as ranges (``seen.NumberSet``; bounded).

A cursor that cannot be read is a ``ConfigError`` naming the tenant, the trigger and the fix: the host must
never silently restart a backfill (that re-emits everything) or skip (that loses events).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fortnox_connector.errors import ConfigError
from fortnox_connector.triggers.seen import NumberSet

VERSION = 1


@dataclass(slots=True)
class Run:
    """A run in progress: its start (aware), the next page to fetch, the last ``@TotalResources`` seen."""

    started: datetime
    page: int = 1
    total: int | None = None


@dataclass(slots=True)
class Cursor:
    trigger: str
    since: datetime  # aware
    run: Run | None = None
    seen: dict[str, NumberSet] = field(default_factory=dict)

    def seen_set(self, kind: str) -> NumberSet:
        found = self.seen.get(kind)
        if found is None:
            found = self.seen[kind] = NumberSet()
        return found


def encode(cursor: Cursor) -> str:
    run = None
    if cursor.run is not None:
        run = {"started": cursor.run.started.isoformat(), "page": cursor.run.page, "total": cursor.run.total}
    head = {"v": VERSION, "trigger": cursor.trigger, "since": cursor.since.isoformat(), "run": run}
    # "seen" last, its ranges spliced in as text (``NumberSet.to_json_text``: the cursor's bulk, written
    # after every page); the result is exactly ``json.dumps`` of the whole object
    seen = ",".join(
        f"{json.dumps(kind)}:{numbers.to_json_text()}"
        for kind, numbers in sorted(cursor.seen.items())
        if len(numbers)
    )
    return json.dumps(head, separators=(",", ":"))[:-1] + ',"seen":{' + seen + "}}"


def decode(text: str, *, tenant: str, trigger: str) -> Cursor:
    """Read a cursor this trigger wrote; anything else is a ``ConfigError`` naming tenant, trigger and fix."""
    try:
        data = json.loads(text)
    except ValueError:
        raise _bad(tenant, trigger, "it is not JSON") from None
    if not isinstance(data, dict):
        raise _bad(tenant, trigger, "it is not a JSON object")
    if data.get("v") != VERSION:
        raise _bad(tenant, trigger, f"its version is {data.get('v')!r}, this connector reads {VERSION}")
    if data.get("trigger") != trigger:
        raise _bad(tenant, trigger, f"it belongs to trigger {data.get('trigger')!r}")
    try:
        since = _aware(data.get("since"), "since")
        run = _run(data.get("run"))
        seen_raw = data.get("seen", {})
        if not isinstance(seen_raw, dict):
            raise ValueError("seen is not an object")
        seen = {str(kind): NumberSet.from_json(ranges) for kind, ranges in seen_raw.items()}
    except ValueError as exc:
        raise _bad(tenant, trigger, str(exc)) from None
    return Cursor(trigger=trigger, since=since, run=run, seen=seen)


def _run(value: Any) -> Run | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("run is not an object")
    page, total = value.get("page"), value.get("total")
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise ValueError("run.page is not a page number")
    if total is not None and (not _is_int(total) or total < 0):
        raise ValueError("run.total is not a count")
    return Run(started=_aware(value.get("started"), "run.started"), page=page, total=total)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _aware(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{name} is missing")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} is not an ISO 8601 date-time") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{name} has no UTC offset")
    return when


def _bad(tenant: str, trigger: str, why: str) -> ConfigError:
    return ConfigError(
        f"the stored cursor of trigger {trigger} cannot be read: {why}",
        field="cursor",
        tenant=tenant,
        hint=(
            f"restore the cursor this connector last committed for tenant {tenant}, trigger {trigger}; "
            "or delete it to start again from backfill_days back (events already delivered are sent "
            "again with the same dedup keys)"
        ),
    )
