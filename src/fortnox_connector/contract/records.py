"""Typed records exchanged between a host and a connector.

A trigger is polled (Workato's shape): ``poll(ctx, cursor) -> PollResult(events, cursor, more)``. The host
delivers ``events`` and only then commits ``cursor`` (Airbyte's rule); while ``more`` is true it polls again
with the new cursor. Events carry a stable ``dedup_key``: a repeat after a crash has the same key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fortnox_connector.contract.state import StateStore
    from fortnox_connector.declaration.config import TenantConfig
    from fortnox_connector.declaration.manifest import Declaration
    from fortnox_connector.fortnox.client import FortnoxClient

JSON = Any  # a JSON-serialisable value; money is a decimal string, dates ISO 8601


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in Fortnox, ready to deliver."""

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

    def add(self, other: RunSummary) -> None:
        self.pages += other.pages
        self.requests += other.requests
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


@dataclass(frozen=True, slots=True)
class TenantContext:
    """Everything a trigger or an action needs for one tenant."""

    tenant: str
    config: TenantConfig
    client: FortnoxClient
    state: StateStore
    now: Callable[[], datetime]  # aware datetimes; tests inject a fixed clock
    log: logging.LoggerAdapter[logging.Logger]


PollFn = Callable[[TenantContext, str | None], PollResult]
ActionFn = Callable[[TenantContext, Mapping[str, JSON]], Mapping[str, JSON]]


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """A poll trigger a connector offers; ``event_schema`` is the JSON Schema of one event's payload."""

    connector: str
    name: str
    description: str
    event_schema: Mapping[str, JSON]
    poll: PollFn


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """An action a connector offers, with the JSON Schemas of its input and output."""

    connector: str
    name: str
    description: str
    input_schema: Mapping[str, JSON]
    output_schema: Mapping[str, JSON]
    run: ActionFn


@dataclass(frozen=True, slots=True)
class ConnectorDefinition:
    """A connector a host can offer: who it is and, read without running it, what it needs.

    ``name`` is the id its triggers and actions are registered under (``TriggerSpec.connector``);
    ``declaration`` is its validated ``connector.yaml`` (auth, secrets manifest, schedule);
    ``config_schema`` the JSON Schema of a tenant's config, self-contained (a host renders its form from it).
    """

    name: str
    title: str
    version: str
    description: str
    declaration: Declaration | None = None
    config_schema: Mapping[str, JSON] = field(default_factory=dict)


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
