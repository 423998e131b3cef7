"""The stream's checkpoint: where each topic is, when that was, and what was already emitted per tenant.

Compact JSON, opaque to the host (it stores and returns it, like a poll cursor)::

    {"v": 1, "offsets": {"invoices": "xDy7J"}, "at": {"invoices": "2026-03-02T10:00:00+01:00"},
     "seen": {"acme": {"booked": [[1, 480]], "paid": [[3, 3]], "deleted": []}}}

- ``offsets``: the offset of the last event handled per topic. Fortnox's offsets are per topic for the
  whole connection (§7); resuming sends it back. Whether Fortnox resumes at that event or after it is
  unconfirmed: the source skips an event whose offset equals the one it resumed from, and the seen sets
  make a re-sent event harmless either way.
- ``at``: when the source last moved that offset (the host's clock), so an offset older than the feed's
  retention (14 days) is recognised before Fortnox is asked (its answer to an expired offset is
  unconfirmed).
- ``seen``: per host tenant and kind, the numbers already emitted (``triggers.seen.NumberSet``, bounded
  ranges): a duplicate delivery or a replay after a reconnect emits nothing twice, and costs no request.

A checkpoint that cannot be read is a ``ConfigError`` (field ``checkpoint``) whose fix is to delete it: the
stream then starts at the feed's newest event and the scheduled poll covers what came before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fortnox_connector.errors import ConfigError
from fortnox_connector.triggers.seen import NumberSet

VERSION = 1
KINDS = ("booked", "paid", "deleted")
MAX_RANGES = 200  # per tenant and kind: numbers are sequential, so this is years of activity


@dataclass
class Checkpoint:
    offsets: dict[str, str] = field(default_factory=dict)
    at: dict[str, datetime] = field(default_factory=dict)
    seen: dict[str, dict[str, NumberSet]] = field(default_factory=dict)
    _text: dict[str, str] = field(default_factory=dict)  # per tenant, the JSON of its seen sets

    def seen_set(self, tenant: str, kind: str) -> NumberSet:
        sets = self.seen.setdefault(tenant, {})
        found = sets.get(kind)
        if found is None:
            found = sets[kind] = NumberSet(MAX_RANGES)
        return found

    def mark(self, tenant: str, kind: str, number: int) -> None:
        self.seen_set(tenant, kind).add_all([number])
        self._text.pop(tenant, None)

    def move(self, topic: str, offset: str, when: datetime) -> None:
        self.offsets[topic] = offset
        self.at[topic] = when

    def forget_offsets(self) -> None:
        self.offsets.clear()
        self.at.clear()

    def encode(self) -> str:
        seen = []
        for tenant, sets in self.seen.items():
            text = self._text.get(tenant)
            if text is None:
                body = json.dumps({k: s.to_json() for k, s in sets.items()}, separators=(",", ":"))
                text = self._text[tenant] = f"{json.dumps(tenant)}:{body}"
            seen.append(text)
        head = json.dumps(
            {"v": VERSION, "offsets": self.offsets, "at": {t: w.isoformat() for t, w in self.at.items()}},
            separators=(",", ":"),
        )
        return f'{head[:-1]},"seen":{{{",".join(seen)}}}}}'


def decode(text: str | None) -> Checkpoint:
    """Read a stored checkpoint (None: a fresh one); an unreadable one is a ``ConfigError``."""
    if text is None:
        return Checkpoint()
    try:
        data: Any = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != VERSION:
            raise ValueError(f"version {data.get('v') if isinstance(data, dict) else None!r}, not {VERSION}")
        cp = Checkpoint(
            offsets={str(k): str(v) for k, v in data["offsets"].items()},
            at={str(k): _aware(v) for k, v in data["at"].items()},
        )
        for tenant, sets in data["seen"].items():
            cp.seen[str(tenant)] = {k: NumberSet.from_json(v, MAX_RANGES) for k, v in sets.items()}
    except (ValueError, KeyError, TypeError, AttributeError, ConfigError) as exc:
        raise ConfigError(
            f"the stream checkpoint cannot be read ({exc})",
            field="checkpoint",
            hint="delete it to start at the feed's newest event; the scheduled poll covers what came before",
        ) from None
    return cp


def _aware(value: Any) -> datetime:
    when = datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(f"naive date-time {value!r}")
    return when
