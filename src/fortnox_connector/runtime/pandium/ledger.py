"""The idempotency records of a Pandium tenant, carried from run to run in the stdout document.

A Pandium run has no database: the only state that survives it is the JSON it prints (kept as the last
successful stdout and merged into the tenant metadata). So the records that make an action run once per
idempotency key (``contract.state.IdempotencyRecord``: the actions' own and the run's per-item ones) are
loaded from the previous document's ``idempotency`` key into an in-memory store, and written back whole::

    "idempotency": {"records": [{"key": …, "fingerprint": …, "status": "completed", "result": {…},
                                 "attempts": 1, "at": "2026-11-27T10:00:00+00:00"}, …],
                    "kept": 1000}

Bound: every ``pending`` record is kept (it guards a write whose outcome is unknown), and the newest
``limit`` completed ones (default 2000: ``register_payment`` keeps two per payment, its result and the claim
on the payment number, so about the last 1 000 payments, ~0.7 MB). A retry of a key older than that is not
recognised and runs again, so a partner retries within that window (hours or days, not months).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Final

from fortnox_connector.auth.oauth import Clock
from fortnox_connector.contract.state import IdempotencyRecord, MemoryStateStore
from fortnox_connector.errors import ConfigError

KEY: Final = "idempotency"
DEFAULT_LIMIT: Final = 2000


@dataclass
class LedgerStore(MemoryStateStore):
    """A ``MemoryStateStore`` that remembers when each idempotency record was last saved."""

    now: Clock | None = None
    saved_at: dict[str, str] = field(default_factory=dict)
    saved: int = 0  # records saved by this run (each one stands for a write to Fortnox, or one about to be)

    def save_idempotency(self, tenant: str, record: IdempotencyRecord) -> None:
        super().save_idempotency(tenant, record)
        self.saved += 1
        if self.now is not None:
            self.saved_at[record.key] = self.now().astimezone(UTC).isoformat()  # one zone: they sort


def load_ledger(previous: Mapping[str, Any], *, tenant: str, now: Clock) -> LedgerStore:
    """The store seeded with the previous document's records; a malformed entry is a ``ConfigError``."""
    store = LedgerStore(now=now)
    entry = previous.get(KEY)
    if entry is None:
        return store
    records = entry.get("records") if isinstance(entry, Mapping) else None
    if not isinstance(records, list):
        raise _malformed(tenant, "has no list of records")
    for raw in records:
        record, at = _record(raw, tenant)
        store.idempotency[(tenant, record.key)] = record
        store.saved_at[record.key] = at
    return store


def ledger_json(store: LedgerStore, *, tenant: str, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """The records to print: every pending one, and the newest ``limit`` completed ones."""
    mine = [r for (t, _), r in store.idempotency.items() if t == tenant]
    pending = [r for r in mine if r.status == "pending"]
    done = sorted(
        (r for r in mine if r.status == "completed"),
        key=lambda r: store.saved_at.get(r.key, ""),
        reverse=True,
    )[:limit]
    kept = sorted(pending + done, key=lambda r: store.saved_at.get(r.key, ""))
    return {
        "records": [
            {
                "key": r.key,
                "fingerprint": r.fingerprint,
                "status": r.status,
                "result": dict(r.result) if r.result is not None else None,
                "attempts": r.attempts,
                "at": store.saved_at.get(r.key),
            }
            for r in kept
        ],
        "kept": limit,
    }


def _record(raw: object, tenant: str) -> tuple[IdempotencyRecord, str]:
    if not isinstance(raw, Mapping):
        raise _malformed(tenant, "holds a record that is not an object")
    key, fingerprint, status = raw.get("key"), raw.get("fingerprint"), raw.get("status")
    result, attempts, at = raw.get("result"), raw.get("attempts", 1), raw.get("at")
    if not (isinstance(key, str) and isinstance(fingerprint, str) and status in ("pending", "completed")):
        raise _malformed(tenant, "holds a record without key, fingerprint or status")
    if result is not None and not isinstance(result, Mapping):
        raise _malformed(tenant, f"holds the record {key!r} with a result that is not an object")
    if not isinstance(attempts, int):
        attempts = 1
    stamp = at if isinstance(at, str) else ""  # unknown: oldest first
    return IdempotencyRecord(key, fingerprint, status, result, attempts), stamp


def _malformed(tenant: str, what: str) -> ConfigError:
    return ConfigError(
        f"the previous state's '{KEY}' entry {what}",
        field=KEY,
        tenant=tenant,
        hint=f"restore the '{KEY}' key of the tenant's metadata from an earlier run's output; deleting it "
        "forgets which requests already ran (a retried payment would be registered again)",
    )
