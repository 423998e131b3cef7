"""A ``RateWindow`` (``contract/rate.py``) in PostgreSQL: one rate window for every process of the database.

A connector paces per key (Fortnox: 25 requests per 5 s per client id and tenant, whoever sends them). Each
worker pacing alone would together send up to the limit times the workers; this window lives in the
database, so all workers together stay under the limit:

- a request takes a **slot** (a row of ``rate_slots``) before it leaves, under a transaction-scoped advisory
  lock of its key, only while fewer than ``limit`` slots are taken: in flight, or answered less than
  ``span_s`` seconds ago (anchored on answers, so latency never squeezes the window);
- its answer stamps the slot (``done_at``) with the **database's** clock: one clock for every worker, whatever
  the machines' clocks say;
- a slot in flight for more than ``LEASE_S`` (its worker died) stops counting;
- ``pause`` holds the key back for every worker (``rate_pauses``): a 429 says the API's count is ahead.

It costs two short transactions per request, one round trip each while the window has room (the statements
and the commit go out together in psycopg's pipeline mode; before, seven round trips). Keys are opaque here:
this module knows no connector.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from fortnox_connector.contract.rate import Slot

LEASE_S = 60.0  # a slot in flight longer than this belonged to a worker that died
FULL_IN_FLIGHT_S = 0.05  # every slot in flight: ask again this soon (an answer will free one)

Connect = Callable[[], AbstractContextManager[Any]]


class PgRateWindow:
    """Slots per key in ``rate_slots``, pauses in ``rate_pauses`` (``connect``: a pooled transaction)."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def take(self, key: str, *, limit: int, span_s: float) -> Slot:
        """A slot, or how long until the oldest answered slot leaves the window (or a pause ends).

        One round trip when the window has room: the key's lock, the expired slots' deletion, the slot taken
        only while fewer than ``limit`` count and the key is not paused, and the commit go out together.
        Only a full window asks again, for how long to wait.
        """
        with self._connect() as conn:
            with conn.pipeline():
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (key,))
                conn.execute(
                    "DELETE FROM rate_slots WHERE pair = %s"
                    " AND (done_at < clock_timestamp() - make_interval(secs => %s)"
                    " OR (done_at IS NULL AND taken_at < clock_timestamp() - make_interval(secs => %s)))",
                    (key, span_s, LEASE_S),
                )
                taken = conn.execute(
                    "INSERT INTO rate_slots (pair, taken_at) SELECT %s, clock_timestamp()"
                    " WHERE (SELECT count(*) FROM rate_slots WHERE pair = %s) < %s"
                    " AND NOT EXISTS (SELECT 1 FROM rate_pauses"
                    " WHERE pair = %s AND until > clock_timestamp()) RETURNING id",
                    (key, key, limit, key),
                )
                conn.commit()
            slot = taken.fetchone()
            if slot is not None:
                return Slot(int(slot[0]))
            row = conn.execute(
                "SELECT EXTRACT(EPOCH FROM min(done_at) + make_interval(secs => %s) - clock_timestamp()),"
                " (SELECT EXTRACT(EPOCH FROM until - clock_timestamp()) FROM rate_pauses WHERE pair = %s)"
                " FROM rate_slots WHERE pair = %s",
                (span_s, key, key),
            ).fetchone()
        oldest_frees_in, paused_for = row[0] if row else None, row[1] if row else None
        if paused_for is not None and float(paused_for) > 0:
            return Slot(None, float(paused_for))
        if oldest_frees_in is None:
            return Slot(None, FULL_IN_FLIGHT_S)
        return Slot(None, max(float(oldest_frees_in), 0.0))

    def answered(self, ticket: object) -> None:
        """Stamp the slot with the database's clock (the update and its commit in one round trip)."""
        with self._connect() as conn, conn.pipeline():
            conn.execute("UPDATE rate_slots SET done_at = clock_timestamp() WHERE id = %s", (ticket,))
            conn.commit()

    def pause(self, key: str, seconds: float) -> None:
        """Hold the key back in every process for ``seconds`` (the database's clock; never shortens one)."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO rate_pauses (pair, until)"
                " VALUES (%s, clock_timestamp() + make_interval(secs => %s))"
                " ON CONFLICT (pair) DO UPDATE SET until = GREATEST(rate_pauses.until, excluded.until)",
                (key, max(0.0, seconds)),
            )
