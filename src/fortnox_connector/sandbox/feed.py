"""The sandbox's change feed: per-topic ordered events with opaque offsets, as Fortnox's WebSocket API has.

Fortnox (``shared/fortnox-api.md`` §7, docs/stream.md): one ordered list of events per topic, each with an
offset unique within its topic; events carry ids only; replay goes back about two weeks. Here every topic
is a list in memory; an offset is the event's sequence number in that topic, encoded so that clients cannot
do arithmetic on it (they must treat it as opaque, as with Fortnox). The store calls ``publish`` when a
payment is booked or deleted (through the REST API, the control API or in-process), so the feed sees
exactly what the API did.

Retention (**sandbox choice** of mechanism; the two weeks are Fortnox's): an event older than
``retention`` seconds on the business clock, or older than the last ``expire()``, can no longer be resumed
from; asking for it raises ``OffsetExpired``.
"""

from __future__ import annotations

import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

TOPICS = ("invoices", "customers", "orders", "offers", "articles", "supplier-invoices")
PAYMENT_BOOKKEEP = "invoicepayment-bookkeep-v1"
PAYMENT_DELETED = "invoicepayment-deleted-v1"
RETENTION = timedelta(days=14)
_ALPHABET = string.digits + string.ascii_letters
_SALT = 0x5EED5  # offsets start at an arbitrary-looking value, as opaque ids do


class OffsetExpired(LookupError):
    """The offset is older than the feed keeps (or was never given out)."""


def encode_offset(seq: int) -> str:
    """Sequence number → an opaque base-62 offset (``"xDy7J"``-like, as Fortnox's example)."""
    n = seq + _SALT
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _ALPHABET[r] + out
    return out or "0"


def decode_offset(offset: str) -> int:
    n = 0
    for ch in offset:
        i = _ALPHABET.find(ch)
        if i < 0:
            raise OffsetExpired(f"not an offset of this feed: {offset!r}")
        n = n * 62 + i
    return n - _SALT


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One event; ``wire()`` is the JSON Fortnox sends."""

    topic: str
    seq: int
    type: str
    tenant_id: int
    entity_id: str
    timestamp: datetime  # aware, Europe/Stockholm (business clock)

    @property
    def offset(self) -> str:
        return encode_offset(self.seq)

    def wire(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "offset": self.offset,
            "type": self.type,
            "tenantId": self.tenant_id,
            "entityId": self.entity_id,
            "timestamp": self.timestamp.isoformat(timespec="milliseconds"),
        }


@dataclass
class FeedLog:
    """Every topic's events, thread-safe; listeners are told (from the publishing thread) of each event."""

    now: Callable[[], datetime]
    retention: timedelta = RETENTION
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _events: dict[str, list[FeedEvent]] = field(default_factory=lambda: {t: [] for t in TOPICS})
    _expired_below: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOPICS, 0))
    listeners: list[Callable[[FeedEvent], None]] = field(default_factory=list)

    def publish(self, topic: str, type_: str, tenant_id: int, entity_id: str, when: datetime) -> FeedEvent:
        with self._lock:
            events = self._events[topic]
            event = FeedEvent(topic, len(events), type_, tenant_id, entity_id, when)
            events.append(event)
        for listener in list(self.listeners):
            listener(event)
        return event

    def payment_booked(self, tenant_id: int, number: int, when: datetime) -> None:
        self.publish("invoices", PAYMENT_BOOKKEEP, tenant_id, str(number), when)

    def payment_deleted(self, tenant_id: int, number: int, when: datetime) -> None:
        self.publish("invoices", PAYMENT_DELETED, tenant_id, str(number), when)

    def end(self, topic: str) -> int:
        """The sequence number the next event of ``topic`` will get."""
        with self._lock:
            return len(self._events[topic])

    def read(self, topic: str, start: int, limit: int = 500) -> list[FeedEvent]:
        """Up to ``limit`` events of ``topic`` from sequence number ``start`` on."""
        with self._lock:
            return self._events[topic][start : start + limit]

    def resolve(self, topic: str, offset: str) -> int:
        """The sequence number to resume at for ``offset`` (inclusive: that event comes again).

        Raises ``OffsetExpired`` for an offset older than retention or never given out.
        """
        seq = decode_offset(offset)
        with self._lock:
            events = self._events[topic]
            if not 0 <= seq < len(events) or seq < self._expired_below[topic]:
                raise OffsetExpired(f"offset {offset!r} of topic {topic!r} is not retained")
            if events[seq].timestamp < self.now() - self.retention:
                raise OffsetExpired(f"offset {offset!r} of topic {topic!r} is older than the retention")
        return seq

    def expire(self, topic: str | None = None) -> None:
        """Every event so far falls out of retention (the control API's ``expire`` fault)."""
        with self._lock:
            for t in [topic] if topic else list(self._events):
                self._expired_below[t] = len(self._events[t])

    def all(self, topic: str) -> list[FeedEvent]:
        with self._lock:
            return list(self._events[topic])
