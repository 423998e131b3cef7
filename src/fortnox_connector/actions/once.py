"""Exactly once per idempotency key: the first step every action that writes to Fortnox shares.

Fortnox has no idempotency keys, so each writing action keeps a record of its own under the lock
``idempotency:{tenant}:{key}``. The same key with another request (another fingerprint) is refused before
any request: a key is for retrying one thing, never for two. A completed key answers its stored result with
no request at all (a replay). Otherwise the action runs with its attempt number and whatever an earlier,
crashed or unanswered attempt left (``pending``), and records its progress through ``Call.save``: ``pending``
before each write whose answer could be lost, ``completed`` at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.contract.state import IdempotencyRecord

if TYPE_CHECKING:
    from fortnox_connector.context import TenantContext

T = TypeVar("T")


@dataclass
class Call:
    """One attempt at one key: what an earlier attempt left (``pending``), and how to record progress."""

    ctx: TenantContext
    key: str
    fingerprint: str
    attempts: int
    pending: dict[str, Any] | None

    @property
    def tenant(self) -> str:
        return self.ctx.tenant

    def save(self, status: str, result: Mapping[str, Any]) -> None:
        record = IdempotencyRecord(
            key=self.key,
            fingerprint=self.fingerprint,
            status="completed" if status == "completed" else "pending",
            result=dict(result),
            attempts=self.attempts,
        )
        self.ctx.state.save_idempotency(self.tenant, record)


def once(
    ctx: TenantContext,
    key: str,
    fingerprint: str,
    *,
    reused: Callable[[], ActionRejected],
    run: Callable[[Call], T],
    replay: Callable[[Mapping[str, Any]], T],
) -> T:
    """``run`` the action for ``key`` unless it completed (``replay`` its result) or the key was used for
    another request (raise ``reused()``)."""
    with ctx.state.lock(f"idempotency:{ctx.tenant}:{key}"):
        record = ctx.state.load_idempotency(ctx.tenant, key)
        if record is not None and record.fingerprint != fingerprint:
            raise reused()
        if record is not None and record.status == "completed" and record.result is not None:
            return replay(record.result)
        pending = dict(record.result) if record is not None and record.result else None
        return run(Call(ctx, key, fingerprint, (record.attempts + 1) if record else 1, pending))
