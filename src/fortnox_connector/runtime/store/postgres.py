"""``PostgresStore``: the runtime's state in PostgreSQL, shared by many worker processes on many machines.

The same ``RuntimeStore`` as ``SqliteStore``, with the same guarantees, carried by the server instead of a
file:

- queries use a connection pool (``psycopg_pool``); every method is one transaction;
- secrets and tokens are sealed with the same ``Cipher`` (Fernet, bound to their record) before they are
  sent, and the refresh token is compared by its keyed tag: the database never sees a secret in clear;
- ``swap_token`` is one statement (compare-and-swap on the refresh tag), as in SQLite;
- ``lock(name)`` is a session-level **advisory lock** held on a pooled connection of its own for the ``with``
  block (``pg_locks``): exclusive across every process connected to the database, and released by the
  server when the holder's connection ends — a worker killed with SIGKILL never leaves a lock behind.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, cast

import psycopg
from psycopg_pool import ConnectionPool

from fortnox_connector.contract.records import Event, RunSummary
from fortnox_connector.contract.state import IdempotencyRecord, Token
from fortnox_connector.errors import ConfigError, UnknownTenant
from fortnox_connector.runtime.sinks.encoding import dumps, event_from_json, event_to_json
from fortnox_connector.runtime.store.base import (
    AUTH_MODES,
    AuthMode,
    OutboxEntry,
    RunRecord,
    RunStats,
    TenantRecord,
    summary_json,
)
from fortnox_connector.runtime.store.crypto import Cipher
from fortnox_connector.runtime.store.keys import check_key
from fortnox_connector.runtime.store.pg_locks import AdvisoryLocks
from fortnox_connector.runtime.store.pg_migrations import migrate_pg
from fortnox_connector.runtime.store.pg_rate_window import PgRateWindow
from fortnox_connector.runtime.tenant_ids import check_database_number, check_tenant_id
from fortnox_connector.secrets import Secret

log = logging.getLogger(__name__)

Conn = psycopg.Connection[tuple[Any, ...]]
_TENANT_COLUMNS = "id, display_name, auth_mode, fortnox_tenant_id, created_at, paused_reason, paused_at"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def redact_url(url: str) -> str:
    """The URL without its password (for messages and reprs)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://…"
    host, port, db = info.get("host", ""), info.get("port", ""), info.get("dbname", "")
    return f"postgresql://{info.get('user', '')}@{host}{':' + str(port) if port else ''}/{db}"


class PostgresStore:
    """The runtime's ``RuntimeStore`` in PostgreSQL. ``url`` is a libpq URL (``postgresql://…``).

    ``key`` is the same Fernet key SQLite would use (``load_or_create_key``): every worker needs the same
    one. ``pool_size`` bounds the pooled connections of this process for transactions; held locks use a
    pool of their own of at most ``max_locks`` sessions (locks held at once by this process).
    """

    def __init__(
        self,
        url: str,
        key: bytes,
        *,
        now: Callable[[], datetime] = _utcnow,
        previous_keys: Sequence[bytes] = (),
        pool_size: int = 10,
        max_locks: int = 64,
        lock_wait_s: float = 30.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self._cipher = Cipher(
            check_key(key, source="the key given to the store"),
            [check_key(k, source="a previous key given to the store") for k in previous_keys],
        )
        self._now = now
        self._connect_timeout = connect_timeout_s
        self._pid = os.getpid()
        self._closed = False
        try:
            psycopg.connect(url, connect_timeout=int(connect_timeout_s)).close()  # fail fast, clearly
            self._pool: ConnectionPool[Conn] = ConnectionPool(
                url,
                min_size=1,
                max_size=max(1, pool_size),
                kwargs={"options": "-c timezone=UTC", "connect_timeout": int(connect_timeout_s)},
                open=False,
                name="fortnox-connector",
            )
            self._pool.open(wait=True, timeout=connect_timeout_s)
            self._locks = AdvisoryLocks(
                url,
                max_held=max_locks,
                wait_s=lock_wait_s,
                connect_timeout_s=connect_timeout_s,
                check=self._check_usable,
                unreachable=self._unreachable,
            )
        except Exception as exc:
            raise self._unreachable(exc) from None
        try:
            with self._pool.connection() as conn:
                applied = migrate_pg(conn)
            if applied:
                log.info("state database %s migrated to schema version %s", redact_url(url), applied[-1])
            if previous_keys:
                self._reseal_all()
        except BaseException:
            self.close()
            raise

    def _unreachable(self, exc: Exception) -> ConfigError:
        return ConfigError(
            f"cannot connect to the state database {redact_url(self.url)} ({type(exc).__name__})",
            field="FORTNOX_CONNECTOR_STORE",
            hint="check the URL, that PostgreSQL runs and accepts this user (see docs/runtime-store.md)",
        )

    # -- connections ---------------------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[Conn]:
        """One transaction on a pooled connection: committed on success, rolled back on error."""
        self._check_usable()
        with self._pool.connection() as conn:
            yield conn

    def _check_usable(self) -> None:
        if os.getpid() != self._pid:
            raise RuntimeError("a PostgresStore cannot be used across fork: open one in the child")
        if self._closed:
            raise RuntimeError(f"the state store {redact_url(self.url)} is closed")

    def connection(self) -> AbstractContextManager[Conn]:
        """A pooled connection for one transaction (``rate_window`` uses it)."""
        return self._tx()

    def rate_window(self) -> PgRateWindow:
        """A rate window every process using this database shares (``contract.RateWindow``)."""
        return PgRateWindow(self.connection)

    def close(self) -> None:
        """Close the pool; the store cannot be used afterwards."""
        self._closed = True
        if os.getpid() == self._pid:
            self._pool.close()
            if hasattr(self, "_locks"):
                self._locks.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresStore(url={redact_url(self.url)!r})"

    def _stamp(self) -> datetime:
        return self._now().astimezone(UTC)

    def _reseal_all(self) -> None:
        """Key rotation: seal every secret and token again with the current key, in one transaction."""
        with self._tx() as conn:
            secrets = conn.execute("SELECT tenant, name, sealed FROM secrets FOR UPDATE").fetchall()
            for tenant, name, sealed in secrets:
                conn.execute(
                    "UPDATE secrets SET sealed = %s WHERE tenant = %s AND name = %s",
                    (self._cipher.reseal(bytes(sealed), tenant=tenant), tenant, name),
                )
            tokens = conn.execute("SELECT tenant, sealed FROM tokens FOR UPDATE").fetchall()
            for tenant, sealed in tokens:
                refresh = self._cipher.open(f"token:{tenant}", bytes(sealed), tenant=tenant).get("refresh")
                conn.execute(
                    "UPDATE tokens SET sealed = %s, refresh_tag = %s WHERE tenant = %s",
                    (
                        self._cipher.reseal(bytes(sealed), tenant=tenant),
                        self._cipher.tag(refresh) if isinstance(refresh, str) else None,
                        tenant,
                    ),
                )
        log.info(
            "state database: %d secrets and %d tokens sealed with the current key", len(secrets), len(tokens)
        )

    # -- locks ---------------------------------------------------------------------------------------------

    def lock(self, name: str) -> AbstractContextManager[None]:
        """Hold ``name`` exclusively across every process using the database, for the ``with`` block.

        A session-level advisory lock on a pooled connection held for the block (``pg_locks``): released
        by the server when the holder's session ends, so a worker killed with SIGKILL never leaves one behind.
        """
        return self._locks.lock(name)

    def try_lock(self, name: str) -> AbstractContextManager[bool]:
        """``lock`` without waiting: the block gets True if it holds ``name``, False if someone else does."""
        return self._locks.try_lock(name)

    # -- tenants -------------------------------------------------------------------------------------------

    def add_tenant(
        self,
        tenant: str,
        *,
        display_name: str,
        auth_mode: AuthMode,
        fortnox_tenant_id: str | None = None,
    ) -> TenantRecord:
        check_tenant_id(tenant)
        if auth_mode == "client_credentials" and fortnox_tenant_id is not None:
            fortnox_tenant_id = check_database_number(fortnox_tenant_id, tenant=tenant)
        if auth_mode not in AUTH_MODES:
            raise ConfigError(
                f"unknown auth mode {auth_mode!r}",
                field="auth_mode",
                tenant=tenant,
                hint=f"use one of {', '.join(AUTH_MODES)}",
            )
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO tenants (id, display_name, auth_mode, fortnox_tenant_id, created_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (tenant, display_name, auth_mode, fortnox_tenant_id, self._stamp()),
            )
            if cur.rowcount != 1:
                raise ConfigError(
                    "a tenant with this id exists already",
                    tenant=tenant,
                    hint="pick another id, or remove the tenant first",
                )
            return _tenant(_require_row(conn, tenant))

    def update_tenant(
        self, tenant: str, *, display_name: str | None = None, fortnox_tenant_id: str | None = None
    ) -> TenantRecord:
        with self._tx() as conn:
            _require_row(conn, tenant)
            conn.execute(
                "UPDATE tenants SET display_name = COALESCE(%s, display_name),"
                " fortnox_tenant_id = COALESCE(%s, fortnox_tenant_id) WHERE id = %s",
                (display_name, fortnox_tenant_id, tenant),
            )
            return _tenant(_require_row(conn, tenant))

    def get_tenant(self, tenant: str) -> TenantRecord | None:
        with self._tx() as conn:
            row = _tenant_row(conn, tenant)
        return _tenant(row) if row else None

    def require_tenant(self, tenant: str) -> TenantRecord:
        """The tenant, or ``UnknownTenant`` saying how to add it."""
        with self._tx() as conn:
            return _tenant(_require_row(conn, tenant))

    def list_tenants(self) -> list[TenantRecord]:
        with self._tx() as conn:
            rows = conn.execute(f"SELECT {_TENANT_COLUMNS} FROM tenants ORDER BY id").fetchall()  # noqa: S608
        return [_tenant(r) for r in rows]

    def remove_tenant(self, tenant: str) -> None:
        """Forget the tenant and everything kept for it (config, secrets, tokens, cursors, outbox, runs)."""
        with self._tx() as conn:
            _require_row(conn, tenant)
            for table in ("tokens", "cursors", "idempotency", "outbox_events", "outbox_batches", "runs"):
                conn.execute(f"DELETE FROM {table} WHERE tenant = %s", (tenant,))  # noqa: S608
            conn.execute("DELETE FROM tenants WHERE id = %s", (tenant,))  # config, secrets cascade

    def pause_tenant(self, tenant: str, reason: str) -> None:
        """Mark the tenant as waiting for its user (e.g. to reconnect); schedulers skip it."""
        with self._tx() as conn:
            _require_row(conn, tenant)
            conn.execute(
                "UPDATE tenants SET paused_reason = %s, paused_at = %s WHERE id = %s",
                (reason, self._stamp(), tenant),
            )

    def resume_tenant(self, tenant: str) -> None:
        with self._tx() as conn:
            _require_row(conn, tenant)
            conn.execute("UPDATE tenants SET paused_reason = NULL, paused_at = NULL WHERE id = %s", (tenant,))

    # -- config and secrets --------------------------------------------------------------------------------

    def save_config(self, tenant: str, config: Mapping[str, Any]) -> None:
        """Store the tenant's config (JSON text, as SQLite keeps it; validate it before)."""
        text = dumps(dict(config))
        with self._tx() as conn:
            _require_row(conn, tenant)
            conn.execute(
                "INSERT INTO tenant_config (tenant, config, updated_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (tenant) DO UPDATE SET config = excluded.config,"
                " updated_at = excluded.updated_at",
                (tenant, text, self._stamp()),
            )

    def load_config(self, tenant: str) -> dict[str, Any] | None:
        with self._tx() as conn:
            row = conn.execute("SELECT config FROM tenant_config WHERE tenant = %s", (tenant,)).fetchone()
        return cast(dict[str, Any], json.loads(row[0])) if row else None

    def save_secret(self, tenant: str, name: str, value: Secret) -> None:
        """Store a secret of the tenant's, sealed before it leaves the process."""
        sealed = self._cipher.seal(f"secret:{tenant}:{name}", value.reveal())
        with self._tx() as conn:
            _require_row(conn, tenant)
            conn.execute(
                "INSERT INTO secrets (tenant, name, sealed, updated_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tenant, name) DO UPDATE SET sealed = excluded.sealed,"
                " updated_at = excluded.updated_at",
                (tenant, name, sealed, self._stamp()),
            )

    def load_secret(self, tenant: str, name: str) -> Secret | None:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT sealed FROM secrets WHERE tenant = %s AND name = %s", (tenant, name)
            ).fetchone()
        if row is None:
            return None
        return Secret(str(self._cipher.open(f"secret:{tenant}:{name}", bytes(row[0]), tenant=tenant)))

    def delete_secret(self, tenant: str, name: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM secrets WHERE tenant = %s AND name = %s", (tenant, name))

    # -- tokens --------------------------------------------------------------------------------------------

    def load_token(self, tenant: str) -> Token | None:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT sealed, expires_at, scope, token_type FROM tokens WHERE tenant = %s", (tenant,)
            ).fetchone()
        if row is None:
            return None
        secrets = self._cipher.open(f"token:{tenant}", bytes(row[0]), tenant=tenant)
        refresh = secrets.get("refresh")
        return Token(
            access_token=Secret(str(secrets["access"])),
            refresh_token=Secret(refresh) if isinstance(refresh, str) else None,
            expires_at=row[1],
            scope=frozenset(json.loads(row[2])),
            token_type=row[3],
        )

    def swap_token(self, tenant: str, expected_refresh_token: Secret | None, new: Token) -> bool:
        """Store ``new`` only if the stored refresh token is still ``expected_refresh_token`` (one statement).

        As in SQLite: compared by keyed tag; ``None`` matches no token, or a token without a refresh token.
        """
        if new.expires_at.tzinfo is None:
            raise ValueError("Token.expires_at must be timezone-aware")
        refresh = new.refresh_token.reveal() if new.refresh_token is not None else None
        sealed = self._cipher.seal(
            f"token:{tenant}", {"access": new.access_token.reveal(), "refresh": refresh}
        )
        values = (
            sealed,
            self._cipher.tag(refresh) if refresh is not None else None,
            new.expires_at,
            json.dumps(sorted(new.scope)),
            new.token_type,
            self._stamp(),
        )
        with self._tx() as conn:
            if expected_refresh_token is None:
                cur = conn.execute(
                    "INSERT INTO tokens"
                    " (sealed, refresh_tag, expires_at, scope, token_type, updated_at, tenant)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (tenant) DO UPDATE SET sealed = excluded.sealed,"
                    " refresh_tag = excluded.refresh_tag, expires_at = excluded.expires_at,"
                    " scope = excluded.scope, token_type = excluded.token_type,"
                    " updated_at = excluded.updated_at"
                    " WHERE tokens.refresh_tag IS NULL",
                    (*values, tenant),
                )
            else:
                cur = conn.execute(
                    "UPDATE tokens SET sealed = %s, refresh_tag = %s, expires_at = %s, scope = %s,"
                    " token_type = %s, updated_at = %s WHERE tenant = %s AND refresh_tag = %s",
                    (*values, tenant, self._cipher.tag(expected_refresh_token.reveal())),
                )
            return cur.rowcount == 1

    def token_rotated_at(self, tenant: str) -> datetime | None:
        """When the tenant's token was last stored (a refresh, a connect): its refresh token's age."""
        with self._tx() as conn:
            row = conn.execute("SELECT updated_at FROM tokens WHERE tenant = %s", (tenant,)).fetchone()
        return cast(datetime, row[0]) if row else None

    def delete_token(self, tenant: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM tokens WHERE tenant = %s", (tenant,))

    # -- cursors -------------------------------------------------------------------------------------------

    def load_cursor(self, tenant: str, trigger: str) -> str | None:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT cursor FROM cursors WHERE tenant = %s AND trigger = %s", (tenant, trigger)
            ).fetchone()
        return str(row[0]) if row else None

    def commit_cursor(self, tenant: str, trigger: str, cursor: str) -> None:
        with self._tx() as conn:
            self._put_cursor(conn, tenant, trigger, cursor)

    def _put_cursor(self, conn: Conn, tenant: str, trigger: str, cursor: str) -> None:
        conn.execute(
            "INSERT INTO cursors (tenant, trigger, cursor, updated_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (tenant, trigger) DO UPDATE SET cursor = excluded.cursor,"
            " updated_at = excluded.updated_at",
            (tenant, trigger, cursor, self._stamp()),
        )

    # -- outbox --------------------------------------------------------------------------------------------

    def enqueue(self, tenant: str, trigger: str, events: Sequence[Event], cursor: str) -> int:
        """Store ``events`` and the ``cursor`` they lead to, in one transaction; return the batch id.

        An event whose dedup key is already in the outbox for this trigger is skipped (a re-poll overlap).
        """
        for event in events:
            if event.tenant != tenant or event.trigger != trigger:
                raise ValueError(
                    f"event {event.dedup_key!r} is for {event.tenant}/{event.trigger}, not {tenant}/{trigger}"
                )
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO outbox_batches (tenant, trigger, cursor, created_at)"
                " VALUES (%s, %s, %s, %s) RETURNING id",
                (tenant, trigger, cursor, self._stamp()),
            ).fetchone()
            batch = int(row[0]) if row else 0
            if events:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO outbox_events (batch_id, tenant, trigger, dedup_key, event)"
                        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (tenant, trigger, dedup_key) DO NOTHING",
                        [(batch, tenant, trigger, e.dedup_key, event_to_json(e)) for e in events],
                    )
        return batch

    def pending(self, tenant: str, trigger: str, *, limit: int | None = None) -> list[OutboxEntry]:
        """Events not yet delivered, oldest first."""
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT id, batch_id, event FROM outbox_events"
                " WHERE tenant = %s AND trigger = %s AND delivered_at IS NULL ORDER BY id LIMIT %s",
                (tenant, trigger, limit),
            ).fetchall()
        return [OutboxEntry(id=int(r[0]), batch=int(r[1]), event=event_from_json(r[2])) for r in rows]

    def mark_delivered(self, ids: Sequence[int]) -> None:
        """Record that the sink accepted these outbox entries."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE outbox_events SET delivered_at = %s WHERE id = ANY(%s) AND delivered_at IS NULL",
                (self._stamp(), list(ids)),
            )

    def commit_after_delivery(self, tenant: str, trigger: str) -> str | None:
        """Commit the newest enqueued cursor whose events, and all events before them, were delivered."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT MIN(batch_id) FROM outbox_events"
                " WHERE tenant = %s AND trigger = %s AND delivered_at IS NULL",
                (tenant, trigger),
            ).fetchone()
            blocked = row[0] if row else None
            ready = conn.execute(
                "SELECT id, cursor FROM outbox_batches WHERE tenant = %s AND trigger = %s AND id < %s"
                " ORDER BY id DESC LIMIT 1",
                (tenant, trigger, blocked if blocked is not None else 2**62),
            ).fetchone()
            if ready is None:
                return None
            batch, cursor = int(ready[0]), str(ready[1])
            self._put_cursor(conn, tenant, trigger, cursor)
            conn.execute(
                "DELETE FROM outbox_batches WHERE tenant = %s AND trigger = %s AND id <= %s",
                (tenant, trigger, batch),
            )  # their events cascade
            return cursor

    # -- idempotency ---------------------------------------------------------------------------------------

    def load_idempotency(self, tenant: str, key: str) -> IdempotencyRecord | None:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT key, fingerprint, status, result, attempts FROM idempotency"
                " WHERE tenant = %s AND key = %s",
                (tenant, key),
            ).fetchone()
        if row is None:
            return None
        return IdempotencyRecord(
            key=row[0],
            fingerprint=row[1],
            status=row[2],
            result=json.loads(row[3]) if row[3] is not None else None,
            attempts=int(row[4]),
        )

    def save_idempotency(self, tenant: str, record: IdempotencyRecord) -> None:
        result = dumps(dict(record.result)) if record.result is not None else None
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO idempotency (tenant, key, fingerprint, status, result, attempts, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (tenant, key) DO UPDATE SET"
                " fingerprint = excluded.fingerprint, status = excluded.status, result = excluded.result,"
                " attempts = excluded.attempts, updated_at = excluded.updated_at",
                (
                    tenant,
                    record.key,
                    record.fingerprint,
                    record.status,
                    result,
                    record.attempts,
                    self._stamp(),
                ),
            )

    # -- run history ---------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The aware time records are stamped with (``now`` given to the store, else the clock)."""
        return self._now().astimezone(UTC)

    def start_run(self, tenant: str, trigger: str, *, started_at: datetime | None = None) -> int:
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO runs (tenant, trigger, started_at) VALUES (%s, %s, %s) RETURNING id",
                (tenant, trigger, started_at if started_at is not None else self._stamp()),
            ).fetchone()
        return int(row[0]) if row else 0

    def finish_run(
        self, run_id: int, *, summary: Mapping[str, Any] | RunSummary | None = None, error: str | None = None
    ) -> None:
        """Record how a run ended; ``error`` is the error's text (errors never carry secrets)."""
        with self._tx() as conn:
            self._end_run(conn, run_id, summary_json(summary), error)

    def _end_run(self, conn: Any, run_id: int, summary: str | None, error: str | None) -> None:
        """Stamp a started run's end (inside the caller's transaction)."""
        conn.execute(
            "UPDATE runs SET finished_at = %s, summary = %s, error = %s WHERE id = %s",
            (self._stamp(), summary, error, run_id),
        )

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
        """A run's end and the cursor it reached, in one transaction (see ``RunHistory.record_run``)."""
        text = summary_json(summary)
        with self._tx() as conn:
            if run_id is None:
                row = conn.execute(
                    "INSERT INTO runs (tenant, trigger, started_at, finished_at, summary, error)"
                    " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                    (tenant, trigger, started_at, self._stamp(), text, error),
                ).fetchone()
                run_id = int(row[0]) if row else 0
            else:
                self._end_run(conn, run_id, text, error)
            if cursor is not None:
                self._put_cursor(conn, tenant, trigger, cursor)
        return run_id

    def list_runs(
        self, tenant: str | None = None, *, triggers: Sequence[str] | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """The newest runs first, of one tenant or of all; of the named ``triggers`` only, if given."""
        with self._tx() as conn:
            rows = conn.execute(
                "SELECT id, tenant, trigger, started_at, finished_at, summary, error FROM runs"
                " WHERE (%s::text IS NULL OR tenant = %s) AND (%s::text[] IS NULL OR trigger = ANY(%s))"
                " ORDER BY id DESC LIMIT %s",
                (
                    tenant,
                    tenant,
                    list(triggers) if triggers is not None else None,
                    list(triggers) if triggers is not None else None,
                    limit,
                ),
            ).fetchall()
        return [
            RunRecord(
                id=int(r[0]),
                tenant=r[1],
                trigger=r[2],
                started_at=r[3],
                finished_at=r[4],
                summary=json.loads(r[5]) if r[5] else None,
                error=r[6],
            )
            for r in rows
        ]

    def run_stats(self) -> list[RunStats]:
        """Every (tenant, trigger)'s runs summed over the whole history, for metrics (one query)."""
        with self._tx() as conn:
            rows = conn.execute(_RUN_STATS_SQL).fetchall()
        return [RunStats.from_row(r) for r in rows]


_RUN_STATS_SQL = """
    SELECT tenant, trigger, COUNT(*), COUNT(*) FILTER (WHERE error IS NOT NULL),
        COUNT(*) FILTER (WHERE finished_at IS NULL),
        COALESCE(SUM((summary::jsonb ->> 'delivered')::numeric), 0),
        COALESCE(SUM((summary::jsonb ->> 'events')::numeric), 0),
        COALESCE(SUM((summary::jsonb ->> 'requests')::numeric), 0),
        COALESCE(SUM((summary::jsonb ->> 'rate_limited')::numeric), 0),
        COALESCE(SUM((summary::jsonb ->> 'duration_s')::numeric), 0),
        COALESCE(SUM((summary::jsonb ->> 'retries')::numeric), 0),
        COALESCE(SUM((summary::jsonb ->> 'token_refreshes')::numeric), 0)
    FROM runs GROUP BY tenant, trigger ORDER BY tenant, trigger
"""


def _tenant_row(conn: Conn, tenant: str) -> tuple[Any, ...] | None:
    return conn.execute(
        f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE id = %s",  # noqa: S608 - fixed column list
        (tenant,),
    ).fetchone()


def _require_row(conn: Conn, tenant: str) -> tuple[Any, ...]:
    row = _tenant_row(conn, tenant)
    if row is None:
        raise UnknownTenant(
            "no such tenant in the state database",
            tenant=tenant,
            hint="check the tenant id, or add the tenant first (see `fortnox-connector --help`)",
        )
    return row


def _tenant(row: tuple[Any, ...]) -> TenantRecord:
    return TenantRecord(
        id=row[0],
        display_name=row[1],
        auth_mode=row[2],
        fortnox_tenant_id=row[3],
        created_at=row[4],
        paused_reason=row[5],
        paused_at=row[6],
    )
