"""How an event looks as JSON, everywhere the runtime writes one (sinks and the outbox).

``{"dedup_key": …, "trigger": …, "tenant": …, "payload": {…}}``. Money stays exact: a ``Decimal`` that slipped
into a payload is written as a string, dates and datetimes as ISO 8601.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fortnox_connector.contract.records import Event


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, frozenset | set | tuple):
        return list(value)
    raise TypeError(f"cannot write a {type(value).__name__} in an event payload as JSON")


def event_to_dict(event: Event) -> dict[str, Any]:
    return {
        "dedup_key": event.dedup_key,
        "trigger": event.trigger,
        "tenant": event.tenant,
        "payload": dict(event.payload),
    }


def dumps(value: Any) -> str:
    """Compact JSON with the event rules above (no NaN, non-ASCII kept)."""
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_to_json(event: Event) -> str:
    """One event as one line of JSON (no newline)."""
    return dumps(event_to_dict(event))


def event_from_json(text: str) -> Event:
    doc = json.loads(text)
    payload = doc.get("payload")
    return Event(
        trigger=str(doc["trigger"]),
        tenant=str(doc["tenant"]),
        dedup_key=str(doc["dedup_key"]),
        payload=payload if isinstance(payload, Mapping) else {},
    )
