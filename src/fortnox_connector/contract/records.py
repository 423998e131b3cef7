"""Typed records exchanged between a host and a connector; none of them knows which connector it carries.

A host gives a connector a ``TenantSpec`` (only what a host has) and gets a session; a trigger is polled
(Workato's shape): ``poll(cursor) -> PollResult(events, cursor, more)``. The host delivers ``events`` and
only then commits ``cursor`` (Airbyte's rule); while ``more`` is true it polls again with the new cursor.
Events carry a stable ``dedup_key``: a repeat after a crash has the same key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import msgspec

from fortnox_connector.contract.rate import RateWindow
from fortnox_connector.contract.state import MemoryStateStore, StateStore

if TYPE_CHECKING:
    import httpx

JSON = Any  # a JSON-serialisable value; money is a decimal string, dates ISO 8601
C = TypeVar("C")  # a connector's own per-tenant context, opaque to the host


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(msgspec.Struct, frozen=True, gc=False):
    """One thing that happened in the connected system, ready to deliver.

    Immutable, compared by value, built by position or keyword like the other records; a msgspec Struct
    rather than a dataclass because a trigger builds one per record: it costs ~40 ns to make instead of
    ~350 ns, and with ``gc=False`` the cycle collector does not walk the page of events a run holds until
    it is delivered (docs/bench.md, "CPU per event"). Nothing an ``Event`` holds can refer back to it (a
    payload is JSON), so it cannot sit in a cycle the collector would have to find. ``msgspec.structs``
    has ``replace`` and ``asdict`` for it.
    """

    trigger: str
    tenant: str
    dedup_key: str
    payload: Mapping[str, JSON]


@dataclass(slots=True)
class RunSummary:
    """What one poll (or a run of polls) did, for logs and progress bars."""

    pages: int = 0
    requests: int = 0
    events: int = 0
    skipped: int = 0
    duration_s: float = 0.0
    total_pages: int | None = None  # when known, for a progress bar
    rate_limited: int = 0  # 429 answers among ``requests`` (each was retried, or ended the poll)
    retries: int = 0  # requests among ``requests`` that were not a first try (after a 429, 5xx, 401 …)
    vanished: int = (
        0  # booked payments listed, then gone when fetched (deleted meanwhile): reported, never silent
    )

    def add(self, other: RunSummary) -> None:
        self.vanished += other.vanished
        self.pages += other.pages
        self.requests += other.requests
        self.rate_limited += other.rate_limited
        self.retries += other.retries
        self.events += other.events
        self.skipped += other.skipped
        self.duration_s += other.duration_s
        if other.total_pages is not None:
            self.total_pages = other.total_pages


@dataclass(frozen=True, slots=True)
class PollResult:
    events: Sequence[Event]
    cursor: str  # opaque to the host; commit it only after ``events`` were delivered
    more: bool  # poll again now with ``cursor``
    summary: RunSummary = field(default_factory=RunSummary)


TokenObserver = Callable[[str, datetime, frozenset[str]], None]


@dataclass(frozen=True, slots=True)
class TenantSpec:
    """Everything a host gives a connector for one tenant: only what any host has.

    ``config`` is validated against the connector's config schema when a session opens; ``secrets`` holds
    what the connector's secrets manifest names (strings or ``Secret``; any ``Mapping``, so a lazy secrets
    provider fits); ``state`` any object meeting ``StateStore``; ``auth_mode`` one of the declaration's
    (``None``: the connector infers it from the secrets given); ``endpoints`` overrides the declaration's
    base URLs by name (a sandbox, a proxy); ``transport`` an HTTP transport to share (a pool, tests);
    ``on_token_refreshed(tenant, expires_at, scope)`` hears of each new token, never the token;
    ``rate_window`` a rate window the host shares between its processes (``contract.rate``; None: the
    connector paces within its process); ``extras`` connector-specific objects a host may share (each
    connector documents its own; unknown ones are ignored).
    """

    id: str
    config: Mapping[str, JSON] = field(default_factory=dict)
    secrets: Mapping[str, object] = field(default_factory=dict)
    state: StateStore = field(default_factory=MemoryStateStore)
    clock: Callable[[], datetime] = utc_now
    log: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None
    auth_mode: str | None = None
    endpoints: Mapping[str, str] = field(default_factory=dict)
    transport: httpx.BaseTransport | None = None
    on_token_refreshed: TokenObserver | None = None
    rate_window: RateWindow | None = None
    extras: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One item of a connector's readiness check for a tenant; ``hint`` says how to fix a failed one."""

    name: str
    ok: bool
    detail: str
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class TriggerSpec(Generic[C]):
    """A poll trigger: ``poll(context, cursor)``, the context being the one its connector opened."""

    name: str
    description: str
    event_schema: Mapping[str, JSON]
    poll: Callable[[C, str | None], PollResult]


@dataclass(frozen=True, slots=True)
class ActionSpec(Generic[C]):
    """An action, with the JSON Schemas of its input and output: ``run(context, input) -> output``."""

    name: str
    description: str
    input_schema: Mapping[str, JSON]
    output_schema: Mapping[str, JSON]
    run: Callable[[C, Mapping[str, JSON]], Mapping[str, JSON]]


class EventSink(Protocol):
    """Where a host delivers events: all of a batch, or raise ``DeliveryError`` (none of it counts)."""

    def deliver(self, events: Sequence[Event]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SinkSpec:
    """An event sink a plugin offers; ``factory(options)`` builds one (options from a CLI or config file)."""

    name: str
    description: str
    factory: Callable[[Mapping[str, Any]], EventSink]
