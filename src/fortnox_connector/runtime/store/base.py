"""The runtime's whole state as an interface: ``SqliteStore`` implements it; a server database can later.

It extends the connector's ``StateStore`` (tokens, cursors, idempotency, locks) with what only a host keeps:
tenants, their config and secrets, an outbox of events pending delivery, run history and the pause flag.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from fortnox_connector.contract.records import Event, RunSummary
from fortnox_connector.contract.state import StateStore
from fortnox_connector.runtime.sinks.encoding import dumps
from fortnox_connector.secrets import Secret

AuthMode = Literal["authorization_code", "client_credentials", "host_managed"]
AUTH_MODES: tuple[AuthMode, ...] = ("authorization_code", "client_credentials", "host_managed")


@dataclass(frozen=True, slots=True)
class TenantRecord:
    """A tenant the runtime serves. ``paused_reason`` is set while it waits for a reconnect."""

    id: str
    display_name: str
    auth_mode: AuthMode
    fortnox_tenant_id: str | None
    created_at: datetime
    paused_reason: str | None = None
    paused_at: datetime | None = None

    @property
    def paused(self) -> bool:
        return self.paused_reason is not None


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One event waiting in the outbox; ``id`` is what ``mark_delivered`` takes."""

    id: int
    batch: int
    event: Event


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of a trigger (or an action) for a tenant; ``finished_at`` is None while it runs."""

    id: int
    tenant: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    summary: Mapping[str, Any] | None
    error: str | None


@dataclass(frozen=True, slots=True)
class RunStats:
    """One (tenant, trigger)'s whole run history summed: what ``/metrics`` exports as counters."""

    tenant: str
    trigger: str
    runs: int
    failed: int
    running: int
    delivered: int
    events: int
    requests: int
    rate_limited: int
    duration_s: float
    retries: int = 0
    token_refreshes: int = 0

    @classmethod
    def from_row(cls, r: Sequence[Any]) -> RunStats:
        """A row of either store's run-stats query (its columns in this order; sums may come as decimals)."""
        tenant, trigger, runs, failed, running, *sums = r
        delivered, events, requests, rate_limited, duration_s, retries, refreshes = sums
        return cls(
            tenant,
            trigger,
            int(runs),
            int(failed),
            int(running),
            int(delivered),
            int(events),
            int(requests),
            int(rate_limited),
            float(duration_s),
            int(retries),
            int(refreshes),
        )


class TenantStore(Protocol):
    def add_tenant(
        self,
        tenant: str,
        *,
        display_name: str,
        auth_mode: AuthMode,
        fortnox_tenant_id: str | None = None,
    ) -> TenantRecord: ...

    def update_tenant(
        self, tenant: str, *, display_name: str | None = None, fortnox_tenant_id: str | None = None
    ) -> TenantRecord: ...

    def get_tenant(self, tenant: str) -> TenantRecord | None: ...

    def require_tenant(self, tenant: str) -> TenantRecord: ...

    def list_tenants(self) -> list[TenantRecord]: ...

    def remove_tenant(self, tenant: str) -> None: ...

    def pause_tenant(self, tenant: str, reason: str) -> None: ...

    def resume_tenant(self, tenant: str) -> None: ...

    def save_config(self, tenant: str, config: Mapping[str, Any]) -> None: ...

    def load_config(self, tenant: str) -> dict[str, Any] | None: ...

    def save_secret(self, tenant: str, name: str, value: Secret) -> None: ...

    def load_secret(self, tenant: str, name: str) -> Secret | None: ...

    def delete_secret(self, tenant: str, name: str) -> None: ...

    def delete_token(self, tenant: str) -> None: ...

    def token_rotated_at(self, tenant: str) -> datetime | None:
        """When the tenant's token was last stored (its refresh token's age, for the 45-day limit)."""
        ...


class Outbox(Protocol):
    def enqueue(self, tenant: str, trigger: str, events: Sequence[Event], cursor: str) -> int: ...

    def pending(self, tenant: str, trigger: str, *, limit: int | None = None) -> list[OutboxEntry]: ...

    def mark_delivered(self, ids: Sequence[int]) -> None: ...

    def commit_after_delivery(self, tenant: str, trigger: str) -> str | None: ...


class RunHistory(Protocol):
    def now(self) -> datetime:
        """The aware time the store stamps its records with (a run's ``started_at`` is taken from it)."""
        ...

    def start_run(self, tenant: str, trigger: str, *, started_at: datetime | None = None) -> int:
        """A run record without an end (shown as running until ``finish_run``/``record_run``)."""
        ...

    def finish_run(
        self, run_id: int, *, summary: Mapping[str, Any] | RunSummary | None = None, error: str | None = None
    ) -> None: ...

    def record_run(
        self,
        tenant: str,
        trigger: str,
        *,
        started_at: datetime,
        run_id: int | None = None,
        summary: Mapping[str, Any] | RunSummary | None = None,
        error: str | None = None,
        cursor: str | None = None,
    ) -> int:
        """A run's end in **one write transaction**: its record (a new one, or ``run_id``'s if its start
        was recorded) and, if given, ``cursor`` committed for (``tenant``, ``trigger``). Returns the run id.

        An idle run (nothing new) writes nothing else: its record and the cursor it moved to (issue #17).
        """
        ...

    def list_runs(
        self, tenant: str | None = None, *, triggers: Sequence[str] | None = None, limit: int = 50
    ) -> list[RunRecord]: ...

    def run_stats(self) -> list[RunStats]: ...


class RuntimeStore(StateStore, TenantStore, Outbox, RunHistory, Protocol):
    """Everything the runtime keeps. ``close()`` releases connections; the store is a context manager."""

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def summary_json(summary: Mapping[str, Any] | RunSummary | None) -> str | None:
    """A run's summary as the JSON text both stores keep in ``runs.summary``."""
    if isinstance(summary, RunSummary):
        summary = dataclasses.asdict(summary)
    return dumps(dict(summary)) if summary is not None else None
