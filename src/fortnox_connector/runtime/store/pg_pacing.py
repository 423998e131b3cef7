"""Fortnox's rate limit shared by every worker: the pacer's window kept in PostgreSQL.

Fortnox allows 25 requests per 5 s per (client id, tenant), whoever sends them. One process paces itself
(``fortnox.pacing.Pacer``); several workers each pacing on their own would together send up to 25 times the
workers.
Here the window lives in the database, so all workers together stay under the limit:

- a request takes a **slot** (a row of ``rate_slots``) before it leaves, under a transaction-scoped advisory
  lock of its pair, only while fewer than ``limit`` slots are taken — in flight, or answered less than
  ``window + guard`` seconds ago (the same answer-anchored window as ``Pacer``, so latency never squeezes it);
- its answer stamps the slot (``done_at``) with the **database's** clock: one clock for every worker, whatever
  the machines' clocks say;
- a slot in flight for more than ``LEASE_S`` (its worker died) stops counting;
- a 429 pauses the pair for every worker (``rate_pauses``) and lowers this process's limit as ``Pacer`` does.

It costs two short transactions per Fortnox request, one round trip each while the window has room (the
statements and the commit go out together in psycopg's pipeline mode; before, seven round trips), and needs no
coordination between workers beyond the database they already share.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from fortnox_connector.fortnox.pacing import (
    DEFAULT_GUARD,
    DEFAULT_LIMIT,
    FORTNOX_LIMIT,
    FORTNOX_WINDOW,
    Clock,
    Pacer,
    PacerRegistry,
    Sleep,
)

__all__ = ["FORTNOX_LIMIT", "FORTNOX_WINDOW", "SharedPacer", "SharedPacerRegistry"]

LEASE_S = 60.0  # a slot in flight longer than this belonged to a worker that died
MAX_NAP_S = 0.5  # look again at least this often while the window is full

Connect = Callable[[], AbstractContextManager[Any]]


def pair_key(client_id: str, tenant: str) -> str:
    return f"{client_id}\x1f{tenant}"


class SharedPacer(Pacer):
    """A ``Pacer`` whose window is in PostgreSQL (``rate_slots``), shared by every process using it."""

    def __init__(self, connect: Connect, pair: str, *, limit: int, window: float, guard: float) -> None:
        super().__init__(  # answer-anchored: the database stamps answers, it never sees departures
            limit=limit, window=window, guard=guard, anchor="answer", clock=time.time, sleep=time.sleep
        )
        self._connect = connect
        self._pair = pair
        self._mine = threading.local()  # the slot ids this thread holds (acquire/release pair up per thread)

    def acquire(self) -> float:
        """Wait until the pair's shared window has room, then take a slot. Returns the seconds waited."""
        waited = 0.0
        while True:
            nap = self._try_take()
            if nap is None:
                with self._lock:
                    self._acquired += 1
                    if waited > 0:
                        self._waits += 1
                        self._waited += waited
                return waited
            self.sleep(nap)
            waited += nap

    def _try_take(self) -> float | None:
        """Take a slot (None) or say how long to wait before trying again.

        One round trip when the window has room: the pair's lock, the expired slots' deletion, the slot
        taken only while fewer than ``limit`` count and the pair is not paused, and the commit go out
        together (psycopg's pipeline mode). Only a full window asks again, for how long to wait.
        """
        span = self.window + self.guard
        with self._connect() as conn:
            with conn.pipeline():
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (self._pair,))
                conn.execute(
                    "DELETE FROM rate_slots WHERE pair = %s"
                    " AND (done_at < clock_timestamp() - make_interval(secs => %s)"
                    " OR (done_at IS NULL AND taken_at < clock_timestamp() - make_interval(secs => %s)))",
                    (self._pair, span, LEASE_S),
                )
                taken = conn.execute(
                    "INSERT INTO rate_slots (pair, taken_at) SELECT %s, clock_timestamp()"
                    " WHERE (SELECT count(*) FROM rate_slots WHERE pair = %s) < %s"
                    " AND NOT EXISTS (SELECT 1 FROM rate_pauses"
                    " WHERE pair = %s AND until > clock_timestamp()) RETURNING id",
                    (self._pair, self._pair, self.limit, self._pair),
                )
                conn.commit()
            slot = taken.fetchone()
            if slot is not None:
                self._held().append(int(slot[0]))
                return None
            row = conn.execute(
                "SELECT EXTRACT(EPOCH FROM min(done_at) + make_interval(secs => %s) - clock_timestamp()),"
                " (SELECT EXTRACT(EPOCH FROM until - clock_timestamp()) FROM rate_pauses WHERE pair = %s)"
                " FROM rate_slots WHERE pair = %s",
                (span, self._pair, self._pair),
            ).fetchone()
        oldest_frees_in, paused_for = row[0] if row else None, row[1] if row else None
        if paused_for is not None and float(paused_for) > 0:
            return min(float(paused_for), MAX_NAP_S)
        if oldest_frees_in is None:  # every slot is in flight: an answer will free one
            return 0.05
        return min(max(float(oldest_frees_in), 0.005), MAX_NAP_S)

    def _held(self) -> list[int]:
        held: list[int] | None = getattr(self._mine, "slots", None)
        if held is None:
            held = self._mine.slots = []
        return held

    def release(self, sent_at: float | None = None) -> None:
        """The request got its answer: stamp its slot with the database's clock (``sent_at`` is not used)."""
        held = self._held()
        if not held:
            return
        slot = held.pop()
        with self._connect() as conn, conn.pipeline():  # the update and its commit in one round trip
            conn.execute("UPDATE rate_slots SET done_at = clock_timestamp() WHERE id = %s", (slot,))
            conn.commit()

    def pause_until(self, until: float) -> None:
        """Hold every worker's requests of the pair back until ``until`` (this process's ``time.time()``)."""
        seconds = max(0.0, until - self.clock())
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO rate_pauses (pair, until)"
                " VALUES (%s, clock_timestamp() + make_interval(secs => %s))"
                " ON CONFLICT (pair) DO UPDATE SET until = GREATEST(rate_pauses.until, excluded.until)",
                (self._pair, seconds),
            )


class SharedPacerRegistry(PacerRegistry):
    """``SharedPacer`` per pair over ``connect`` (a pooled transaction: ``PostgresStore.connection``)."""

    def __init__(
        self,
        connect: Connect,
        *,
        limit: int = DEFAULT_LIMIT,
        window: float = FORTNOX_WINDOW,
        guard: float = DEFAULT_GUARD,
    ) -> None:
        super().__init__(limit=limit, window=window, guard=guard)
        self._connect_db = connect

    def new_pacer(self, client_id: str, tenant: str, *, clock: Clock, sleep: Sleep) -> Pacer:
        """The pair's window is the database's: every process takes its slots from the same rows."""
        return SharedPacer(
            self._connect_db,
            pair_key(client_id, tenant),
            limit=self.limit,
            window=self.window,
            guard=self.guard,
        )
