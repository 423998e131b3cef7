"""What the operator pages and ``/metrics`` show of a tenant, read from the runtime's store alone.

Nothing here keeps state of its own: every figure comes from the tables the runtime already writes (tenants,
tokens, run history, the outbox), so the pages, the metrics and the CLI can never disagree.

A refresh token lives 45 days and every refresh replaces it (shared/fortnox-api.md §2), so a tenant whose
token was last stored more than 45 days ago cannot come back without its customer; the page warns a week
before (``TOKEN_WARN_DAYS``) so the operator can send the reconnect link in time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from fortnox_connector.runtime.store.base import RunRecord, RuntimeStore, TenantRecord

REFRESH_TOKEN_DAYS = 45
TOKEN_WARN_DAYS = 38
Status = Literal["healthy", "must_reconnect", "failing", "token_expiring", "never_run"]
STATUS_TEXT: Mapping[Status, str] = {
    "healthy": "healthy",
    "must_reconnect": "must reconnect",
    "failing": "last run failed",
    "token_expiring": "token expires soon",
    "never_run": "not run yet",
}


@dataclass(frozen=True, slots=True)
class TriggerHealth:
    """One trigger of one tenant: its newest run, its newest successful run, what waits in the outbox."""

    trigger: str
    last_run: RunRecord | None
    last_success: RunRecord | None
    pending: int

    @property
    def failed(self) -> bool:
        return self.last_run is not None and self.last_run.error is not None

    def lag(self, now: datetime) -> timedelta | None:
        """Time since the newest successful run finished (None: never succeeded)."""
        if self.last_success is None or self.last_success.finished_at is None:
            return None
        return now - self.last_success.finished_at


@dataclass(frozen=True, slots=True)
class TenantHealth:
    record: TenantRecord
    triggers: Sequence[TriggerHealth]
    token_rotated_at: datetime | None
    now: datetime
    totals: Mapping[str, int] = field(default_factory=dict)  # summed over the runs read

    @property
    def token_age_days(self) -> int | None:
        if self.token_rotated_at is None or self.record.auth_mode != "authorization_code":
            return None
        return (self.now - self.token_rotated_at).days

    @property
    def status(self) -> Status:
        if self.record.paused:
            return "must_reconnect"
        if any(t.failed for t in self.triggers):
            return "failing"
        age = self.token_age_days
        if age is not None and age >= TOKEN_WARN_DAYS:
            return "token_expiring"
        if all(t.last_run is None for t in self.triggers):
            return "never_run"
        return "healthy"

    @property
    def status_text(self) -> str:
        return STATUS_TEXT[self.status]

    @property
    def errors(self) -> list[str]:
        """The reason it is paused, then each failing trigger's last error (each carries its fix)."""
        out = [self.record.paused_reason] if self.record.paused_reason else []
        for t in self.triggers:
            error = t.last_run.error if t.last_run is not None else None
            if error and error not in out:  # the run that paused the tenant says what the pause says
                out.append(f"{t.trigger}: {error}")
        return out


def _count(summary: Mapping[str, Any] | None, key: str) -> int:
    value = (summary or {}).get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


COUNTED = ("delivered", "events", "requests", "pages", "skipped", "rate_limited")


def tenant_health(
    store: RuntimeStore, record: TenantRecord, triggers: Sequence[str], now: datetime, *, runs: int = 200
) -> TenantHealth:
    """The health of ``record`` from its newest ``runs`` runs of ``triggers``."""
    history = store.list_runs(record.id, triggers=list(triggers), limit=runs)
    totals = dict.fromkeys(COUNTED, 0)
    for run in history:
        for key in COUNTED:
            totals[key] += _count(run.summary, key)
    per_trigger = [
        TriggerHealth(
            trigger=name,
            last_run=next((r for r in history if r.trigger == name), None),
            last_success=next(
                (r for r in history if r.trigger == name and r.error is None and r.finished_at), None
            ),
            pending=len(store.pending(record.id, name)),
        )
        for name in triggers
    ]
    return TenantHealth(record, per_trigger, store.token_rotated_at(record.id), now, totals)


def all_health(store: RuntimeStore, triggers: Sequence[str], now: datetime) -> list[TenantHealth]:
    return [tenant_health(store, r, triggers, now) for r in store.list_tenants()]
