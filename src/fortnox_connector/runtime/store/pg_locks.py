"""Named locks across every process using one PostgreSQL database: advisory locks on pooled sessions.

``lock(name)`` holds PostgreSQL's session-level advisory lock of ``name`` for a ``with`` block:

- on a connection **of its own for the block**, taken from a pool kept for locks (autocommit): the lock
  lives as long as the session, so it cannot share the transaction pool, whose connections serve one
  transaction each; and opening a connection per lock made PostgreSQL fork a backend per trigger run and per
  token refresh (the Temporal host's idle night paid that twice per tenant);
- released with ``pg_advisory_unlock_all()`` on that same connection before it goes back to the pool, so a
  pooled connection never carries a lock to its next user; a connection that broke meanwhile is discarded by
  the pool, and its lock died with its session. A process killed outright leaves no lock behind either;
- **re-entrant within a thread**: a thread already holding ``name`` through these locks enters again at once
  (an activity checks "already running" with ``try_lock`` and then runs the job, which takes the same lock).
  Another thread or process still waits, as before.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from fortnox_connector.errors import ConfigError

Conn = psycopg.Connection[tuple[Any, ...]]


def lock_key(name: str) -> int:
    """The advisory-lock key of a lock name: the first 8 bytes of its SHA-256, as a signed 64-bit integer."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class AdvisoryLocks:
    """The named locks of one process over ``url``; at most ``max_held`` held at once by this process (one
    more waits up to ``wait_s`` for a session, then is refused with the fix).

    ``check`` runs before every use (the store's fork and closed checks); ``unreachable`` turns a failure
    to connect into the store's clear error.
    """

    def __init__(
        self,
        url: str,
        *,
        max_held: int,
        wait_s: float,
        connect_timeout_s: float,
        check: Callable[[], None],
        unreachable: Callable[[Exception], Exception],
    ) -> None:
        self._pool: ConnectionPool[Conn] = ConnectionPool(
            url,
            min_size=0,
            max_size=max(1, max_held),
            kwargs={
                "autocommit": True,
                "options": "-c timezone=UTC",
                "connect_timeout": int(connect_timeout_s),
            },
            timeout=wait_s,
            open=False,
            name="fortnox-connector-locks",
        )
        self._check = check
        self._unreachable = unreachable
        self._mine = threading.local()
        self._pool.open(wait=False)

    def _held(self) -> dict[str, int]:
        held: dict[str, int] | None = getattr(self._mine, "held", None)
        if held is None:
            held = self._mine.held = {}
        return held

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold ``name`` for the block, waiting for whoever holds it now."""
        with self._hold(name, wait=True) as got:
            assert got
            yield

    @contextmanager
    def try_lock(self, name: str) -> Iterator[bool]:
        """Hold ``name`` for the block if nobody else holds it (True), else nothing (False); never waits."""
        with self._hold(name, wait=False) as got:
            yield got

    @contextmanager
    def _hold(self, name: str, *, wait: bool) -> Iterator[bool]:
        self._check()
        held = self._held()
        if name in held:  # this thread holds it already
            held[name] += 1
            try:
                yield True
            finally:
                held[name] -= 1
            return
        with self._connection() as conn:
            try:  # from before the lock is asked for: whatever interrupts, the session goes back lock-free
                if wait:
                    conn.execute("SELECT pg_advisory_lock(%s)", (lock_key(name),))
                else:
                    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(name),)).fetchone()
                    if not (row and row[0]):
                        yield False
                        return
                held[name] = 1
                yield True
            finally:
                held.pop(name, None)
                conn.execute("SELECT pg_advisory_unlock_all()")

    @contextmanager
    def _connection(self) -> Iterator[Conn]:
        """A pooled session for the block; the pool discards it if it broke meanwhile."""
        try:
            conn = self._pool.getconn()
        except PoolTimeout:
            raise ConfigError(
                f"this process held {self._pool.max_size} store locks at once for {self._pool.timeout:g} s"
                " and needed one more",
                hint="give the store a larger max_locks (PostgresStore(..., max_locks=N)), or run fewer "
                "activities at once per worker (--concurrency)",
            ) from None
        except psycopg.OperationalError as exc:
            raise self._unreachable(exc) from None
        try:
            yield conn
        finally:
            self._pool.putconn(conn)

    def close(self) -> None:
        self._pool.close()
