"""The state a host keeps for a connector, as interfaces (SQLite in ``runtime.store``; memory for tests).

- tokens: compare-and-swap on the refresh token, so a rotated token is never overwritten by a stale one;
- cursors: committed only after the events before them were delivered;
- idempotency keys: recorded before a write to Fortnox, completed after;
- locks: named, exclusive across threads and (for real stores) across processes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from fortnox_connector.secrets import Secret


@dataclass(frozen=True, slots=True)
class Token:
    """An OAuth token set for one tenant. ``expires_at`` is aware (UTC)."""

    access_token: Secret
    expires_at: datetime
    scope: frozenset[str]
    refresh_token: Secret | None = None
    token_type: str = "bearer"  # noqa: S105 - a token type, not a secret

    def expires_within(self, now: datetime, seconds: float) -> bool:
        return (self.expires_at - now).total_seconds() <= seconds


IdempotencyStatus = Literal["pending", "completed"]


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    key: str
    fingerprint: str  # a hash of the request: the same key with another request is refused
    status: IdempotencyStatus
    result: Mapping[str, Any] | None = None
    attempts: int = 1


class TokenStore(Protocol):
    def load_token(self, tenant: str) -> Token | None: ...

    def swap_token(self, tenant: str, expected_refresh_token: Secret | None, new: Token) -> bool:
        """Store ``new`` only if the stored refresh token is still ``expected_refresh_token``."""
        ...


class CursorStore(Protocol):
    def load_cursor(self, tenant: str, trigger: str) -> str | None: ...

    def commit_cursor(self, tenant: str, trigger: str, cursor: str) -> None: ...


class IdempotencyStore(Protocol):
    def load_idempotency(self, tenant: str, key: str) -> IdempotencyRecord | None: ...

    def save_idempotency(self, tenant: str, record: IdempotencyRecord) -> None: ...


class StateStore(TokenStore, CursorStore, IdempotencyStore, Protocol):
    """All of a host's state for the connector; ``lock`` serialises a critical section by name."""

    def lock(self, name: str) -> AbstractContextManager[None]:
        """Hold the named lock exclusively for the ``with`` block (across processes for real stores)."""
        ...


@dataclass
class MemoryStateStore:
    """An in-process ``StateStore``: for tests and one-shot runs (locks are per process only)."""

    tokens: dict[str, Token] = field(default_factory=dict)
    cursors: dict[tuple[str, str], str] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)

    def load_token(self, tenant: str) -> Token | None:
        return self.tokens.get(tenant)

    def swap_token(self, tenant: str, expected_refresh_token: Secret | None, new: Token) -> bool:
        with self._guard:
            current = self.tokens.get(tenant)
            current_refresh = current.refresh_token if current else None
            if current_refresh != expected_refresh_token:
                return False
            self.tokens[tenant] = new
            return True

    def load_cursor(self, tenant: str, trigger: str) -> str | None:
        return self.cursors.get((tenant, trigger))

    def commit_cursor(self, tenant: str, trigger: str, cursor: str) -> None:
        self.cursors[(tenant, trigger)] = cursor

    def load_idempotency(self, tenant: str, key: str) -> IdempotencyRecord | None:
        return self.idempotency.get((tenant, key))

    def save_idempotency(self, tenant: str, record: IdempotencyRecord) -> None:
        self.idempotency[(tenant, record.key)] = record

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        with self._guard:
            lk = self._locks.setdefault(name, threading.Lock())
        with lk:
            yield
