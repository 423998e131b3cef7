"""``SqliteStore``: the runtime's state in one SQLite file (WAL), safe across threads and processes.

Each thread gets its own connection; writes run in ``BEGIN IMMEDIATE`` transactions, so concurrent writers
(threads or processes) queue on SQLite's lock for up to ``busy_timeout``. Secrets and tokens are sealed with
Fernet before they reach the file. ``lock(name)`` is an ``flock`` on ``locks/<hash>.lock`` next to the file.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from fortnox_connector.contract.records import Event, RunSummary
from fortnox_connector.contract.state import IdempotencyRecord, Token
from fortnox_connector.errors import ConfigError, ConnectorError, UnknownTenant
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
from fortnox_connector.runtime.store.file_locks import FileLocks
from fortnox_connector.runtime.store.keys import check_key
from fortnox_connector.runtime.store.migrations import migrate
from fortnox_connector.runtime.tenant_ids import check_database_number, check_tenant_id
from fortnox_connector.secrets import Secret

log = logging.getLogger(__name__)

_TENANT_COLUMNS = "id, display_name, auth_mode, fortnox_tenant_id, created_at, paused_reason, paused_at"
_CHUNK = 500  # ids per statement, well under SQLite's variable limit


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _refuse_unusable(path: Path) -> None:
    """A directory, or an existing empty file, is never taken for a state database.

    An empty ``state.db`` is what a failed copy or a full disk leaves; taking it for a new store would
    make every tenant backfill again and forget its idempotency keys (payments could be registered twice).
    """
    if path.is_dir():
        raise ConfigError(
            f"the state database {path} is a directory, not a file",
            field="state.db",
            hint="move the directory away, or point $FORTNOX_CONNECTOR_HOME at the folder holding state.db",
        )
    if path.is_file() and path.stat().st_size == 0:
        raise ConfigError(
            f"the state database {path} is empty (0 bytes): it is not taken for a new store",
            field="state.db",
            hint="restore state.db from a backup; or, to start anew on purpose (every tenant backfills again "
            f"and forgets its idempotency keys), delete {path}",
        )


def store_error(path: Path, exc: BaseException) -> ConnectorError:
    """One clear error for a state database that cannot be opened or used: the file and the fix."""
    text = str(exc)
    if isinstance(exc, ConnectorError):
        return exc
    if "locked" in text or "busy" in text:
        return ConnectorError(
            f"the state database {path} is locked by another process",
            hint="wait for the other fortnox-connector process to finish (or stop it), then run again",
        )
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return ConfigError(
            f"the state database {path} is corrupt or not a SQLite database ({text})",
            field="state.db",
            hint=f"restore it from a backup (`sqlite3 {path} .recover` may save its rows), or move it away "
            "to start anew (every tenant backfills again)",
        )
    if isinstance(exc, PermissionError):
        return ConfigError(
            f"the state database {path} cannot be opened: permission denied",
            field="state.db",
            hint="run as the user that owns it, or fix its permissions (chmod 600, the owner's)",
        )
    return ConnectorError(
        f"the state database {path} cannot be used ({type(exc).__name__}: {text[:160]})",
        hint="check the file and its folder (disk space, permissions); restore it from a backup if damaged",
    )


class SqliteStore:
    """The runtime's ``RuntimeStore`` in SQLite. ``key`` is a Fernet key (see ``load_or_create_key``).

    ``now`` (tests) gives the aware time written into records.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: bytes,
        *,
        busy_timeout_ms: int = 10_000,
        now: Callable[[], datetime] = _utcnow,
        previous_keys: Sequence[bytes] = (),
    ) -> None:
        self.path = Path(path)
        self._cipher = Cipher(
            check_key(key, source="the key given to the store"),
            [check_key(k, source="a previous key given to the store") for k in previous_keys],
        )
        self._busy_timeout_ms = busy_timeout_ms
        self._now = now
        self._local = threading.local()
        self._guard = threading.Lock()
        self._conns: list[tuple[int, sqlite3.Connection]] = []
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._locks = FileLocks(self.path.parent / "locks")
            with self._locks.lock("state-db-create"):  # a new file is made and migrated by one process
                _refuse_unusable(self.path)
                # Create the file private before SQLite does: it holds event payloads (business data).
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
                applied = migrate(self._conn())
            if applied:
                log.info("state database %s migrated to schema version %s", self.path, applied[-1])
            if previous_keys:
                self._reseal_all()
        except (OSError, sqlite3.Error) as exc:
            self.close()
            raise store_error(self.path, exc) from None
        except BaseException:
            self.close()
            raise

    # -- connections ---------------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        # None yet in this thread, or inherited through fork (never use a connection across fork).
        with self._guard:
            if self._closed:
                raise RuntimeError(f"the state store {self.path} is closed")
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_ms / 1000,
                isolation_level=None,  # autocommit; transactions are explicit
                check_same_thread=False,  # one per thread, but close() may run on another
            )
            self._conns.append((os.getpid(), conn))
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # FULL for durable transactions: see ``_tx``
        conn.execute("PRAGMA foreign_keys = ON")
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    @contextmanager
    def _tx(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction: takes SQLite's write lock at once, commits on success, rolls back on error.

        ``durable`` (the default: tenants, secrets, tokens, idempotency keys) commits with ``synchronous =
        FULL``: the commit survives an OS crash or power loss (a lost rotated refresh token would force a
        reconnect, a lost idempotency key could let a payment be posted twice). The run's bookkeeping
        (cursors, outbox, run records) commits with ``NORMAL``: an OS crash may roll back its last commits,
        which re-sends events under the same keys and never skips one (docs/runtime-store.md).
        """
        conn = self._conn()
        if durable:
            conn.execute("PRAGMA synchronous = FULL")
        try:
            self._begin(conn)
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            if durable:
                conn.execute("PRAGMA synchronous = NORMAL")

    def _begin(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            raise ConnectorError(
                f"the state database {self.path} stayed locked for {self._busy_timeout_ms / 1000:g} s",
                hint="another process holds a long write transaction on it; wait for it to finish, "
                "or give each runtime its own state database",
            ) from exc

    def close(self) -> None:
        """Close every thread's connection; the store cannot be used afterwards."""
        with self._guard:
            self._closed = True
            conns, self._conns = self._conns, []
        pid = os.getpid()
        for owner, conn in conns:
            if owner == pid:  # a parent's connection inherited through fork is the parent's to close
                conn.close()
        self._local = threading.local()

    def _reseal_all(self) -> None:
        """Key rotation: seal every secret and token again with the current key, in one transaction."""
        with self._tx() as conn:
            secrets = conn.execute("SELECT tenant, name, sealed FROM secrets").fetchall()
            for tenant, name, sealed in secrets:
                conn.execute(
                    "UPDATE secrets SET sealed = ? WHERE tenant = ? AND name = ?",
                    (self._cipher.reseal(sealed, tenant=tenant), tenant, name),
                )
            tokens = conn.execute("SELECT tenant, sealed FROM tokens").fetchall()
            for tenant, sealed in tokens:
                refresh = self._cipher.open(f"token:{tenant}", sealed, tenant=tenant).get("refresh")
                conn.execute(  # the refresh tag is keyed too: recompute it with the current key
                    "UPDATE tokens SET sealed = ?, refresh_tag = ? WHERE tenant = ?",
                    (
                        self._cipher.reseal(sealed, tenant=tenant),
                        self._cipher.tag(refresh) if isinstance(refresh, str) else None,
                        tenant,
                    ),
                )
        log.info(
            "state database %s: %d secrets and %d tokens sealed with the current key",
            self.path,
            len(secrets),
            len(tokens),
        )

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteStore(path={str(self.path)!r})"

    def _stamp(self) -> str:
        return self._now().astimezone(UTC).isoformat()

    # -- locks ---------------------------------------------------------------------------------------------

    def lock(self, name: str) -> AbstractContextManager[None]:
        """Hold ``name`` exclusively (threads and processes) for the ``with`` block."""
        return self._locks.lock(name)

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
            if _tenant_row(conn, tenant) is not None:
                raise ConfigError(
                    "a tenant with this id exists already",
                    tenant=tenant,
                    hint="pick another id, or remove the tenant first",
                )
            conn.execute(
                "INSERT INTO tenants (id, display_name, auth_mode, fortnox_tenant_id, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (tenant, display_name, auth_mode, fortnox_tenant_id, self._stamp()),
            )
            return _tenant(_require_row(conn, tenant))

    def update_tenant(
        self, tenant: str, *, display_name: str | None = None, fortnox_tenant_id: str | None = None
    ) -> TenantRecord:
        with self._tx() as conn:
            _require_row(conn, tenant)
            if display_name is not None:
                conn.execute("UPDATE tenants SET display_name = ? WHERE id = ?", (display_name, tenant))
            if fortnox_tenant_id is not None:
                conn.execute(
                    "UPDATE tenants SET fortnox_tenant_id = ? WHERE id = ?", (fortnox_tenant_id, tenant)
                )
            return _tenant(_require_row(conn, tenant))

    def get_tenant(self, tenant: str) -> TenantRecord | None:
        row = _tenant_row(self._conn(), tenant)
        return _tenant(row) if row else None

    def require_tenant(self, tenant: str) -> TenantRecord:
        """The tenant, or ``UnknownTenant`` saying how to add it."""
        return _tenant(_require_row(self._conn(), tenant))

    def list_tenants(self) -> list[TenantRecord]:
        cur = self._conn().execute(f"SELECT {_TENANT_COLUMNS} FROM tenants ORDER BY id")  # noqa: S608 - fixed
        return [_tenant(r) for r in cur.fetchall()]

    def remove_tenant(self, tenant: str) -> None:
        """Forget the tenant and everything kept for it (config, secrets, tokens, cursors, outbox, runs)."""
        with self._tx() as conn:
            _require_row(conn, tenant)
            for table in ("tokens", "cursors", "idempotency", "outbox_events", "outbox_batches", "runs"):
                conn.execute(f"DELETE FROM {table} WHERE tenant = ?", (tenant,))  # noqa: S608 - fixed names
            conn.execute("DELETE FROM tenants WHERE id = ?", (tenant,))  # config, secrets cascade

    def pause_tenant(self, tenant: str, reason: str) -> None:
        """Mark the tenant as waiting for its user (e.g. to reconnect); the scheduler skips it."""
        with self._tx() as conn:
            _require_row(conn, tenant)
            conn.execute(
                "UPDATE tenants SET paused_reason = ?, paused_at = ? WHERE id = ?",
                (reason, self._stamp(), tenant),
            )

    def resume_tenant(self, tenant: str) -> None:
        with self._tx() as conn:
            _require_row(conn, tenant)
            conn.execute("UPDATE tenants SET paused_reason = NULL, paused_at = NULL WHERE id = ?", (tenant,))

    # -- config and secrets --------------------------------------------------------------------------------

    def save_config(self, tenant: str, config: Mapping[str, Any]) -> None:
        """Store the tenant's config (JSON; validate it before). Secrets belong in ``save_secret``."""
        text = dumps(dict(config))
        with self._tx() as conn:
            _require_row(conn, tenant)
            conn.execute(
                "INSERT INTO tenant_config (tenant, config, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (tenant) DO UPDATE SET config = excluded.config,"
                " updated_at = excluded.updated_at",
                (tenant, text, self._stamp()),
            )

    def load_config(self, tenant: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT config FROM tenant_config WHERE tenant = ?", (tenant,)).fetchone()
        return cast(dict[str, Any], json.loads(row[0])) if row else None

    def save_secret(self, tenant: str, name: str, value: Secret) -> None:
        """Store a secret of the tenant's (e.g. ``client_secret``), encrypted."""
        sealed = self._cipher.seal(f"secret:{tenant}:{name}", value.reveal())
        with self._tx() as conn:
            _require_row(conn, tenant)
            conn.execute(
                "INSERT INTO secrets (tenant, name, sealed, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (tenant, name) DO UPDATE SET sealed = excluded.sealed,"
                " updated_at = excluded.updated_at",
                (tenant, name, sealed, self._stamp()),
            )

    def load_secret(self, tenant: str, name: str) -> Secret | None:
        row = (
            self._conn()
            .execute("SELECT sealed FROM secrets WHERE tenant = ? AND name = ?", (tenant, name))
            .fetchone()
        )
        if row is None:
            return None
        return Secret(str(self._cipher.open(f"secret:{tenant}:{name}", row[0], tenant=tenant)))

    def delete_secret(self, tenant: str, name: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM secrets WHERE tenant = ? AND name = ?", (tenant, name))

    # -- tokens --------------------------------------------------------------------------------------------

    def load_token(self, tenant: str) -> Token | None:
        row = (
            self._conn()
            .execute("SELECT sealed, expires_at, scope, token_type FROM tokens WHERE tenant = ?", (tenant,))
            .fetchone()
        )
        if row is None:
            return None
        secrets = self._cipher.open(f"token:{tenant}", row[0], tenant=tenant)
        refresh = secrets.get("refresh")
        return Token(
            access_token=Secret(str(secrets["access"])),
            refresh_token=Secret(refresh) if isinstance(refresh, str) else None,
            expires_at=datetime.fromisoformat(row[1]),
            scope=frozenset(json.loads(row[2])),
            token_type=row[3],
        )

    def swap_token(self, tenant: str, expected_refresh_token: Secret | None, new: Token) -> bool:
        """Store ``new`` only if the stored refresh token is still ``expected_refresh_token`` (one statement).

        The comparison uses a keyed hash of the refresh token, so the token itself is never stored in clear.
        ``expected_refresh_token=None`` matches no token stored, or a stored token without a refresh token.
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
            new.expires_at.isoformat(),
            json.dumps(sorted(new.scope)),
            new.token_type,
            self._stamp(),
        )
        with self._tx() as conn:
            if expected_refresh_token is None:
                cur = conn.execute(
                    "INSERT INTO tokens"
                    " (sealed, refresh_tag, expires_at, scope, token_type, updated_at, tenant)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (tenant) DO UPDATE SET sealed = excluded.sealed,"
                    " refresh_tag = excluded.refresh_tag, expires_at = excluded.expires_at,"
                    " scope = excluded.scope, token_type = excluded.token_type,"
                    " updated_at = excluded.updated_at"
                    " WHERE tokens.refresh_tag IS NULL",
                    (*values, tenant),
                )
            else:
                cur = conn.execute(
                    "UPDATE tokens SET sealed = ?, refresh_tag = ?, expires_at = ?, scope = ?,"
                    " token_type = ?, updated_at = ? WHERE tenant = ? AND refresh_tag = ?",
                    (*values, tenant, self._cipher.tag(expected_refresh_token.reveal())),
                )
            return cur.rowcount == 1

    def token_rotated_at(self, tenant: str) -> datetime | None:
        """When the tenant's token was last stored (a refresh, a connect): its refresh token's age."""
        row = self._conn().execute("SELECT updated_at FROM tokens WHERE tenant = ?", (tenant,)).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def delete_token(self, tenant: str) -> None:
        """Forget the tenant's tokens (before a reconnect, or after consent was revoked)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM tokens WHERE tenant = ?", (tenant,))

    # -- cursors -------------------------------------------------------------------------------------------

    def load_cursor(self, tenant: str, trigger: str) -> str | None:
        row = (
            self._conn()
            .execute("SELECT cursor FROM cursors WHERE tenant = ? AND trigger = ?", (tenant, trigger))
            .fetchone()
        )
        return str(row[0]) if row else None

    def commit_cursor(self, tenant: str, trigger: str, cursor: str) -> None:
        with self._tx(durable=False) as conn:
            self._put_cursor(conn, tenant, trigger, cursor)

    def _put_cursor(self, conn: sqlite3.Connection, tenant: str, trigger: str, cursor: str) -> None:
        conn.execute(
            "INSERT INTO cursors (tenant, trigger, cursor, updated_at) VALUES (?, ?, ?, ?)"
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
        now = self._stamp()
        with self._tx(durable=False) as conn:
            cur = conn.execute(
                "INSERT INTO outbox_batches (tenant, trigger, cursor, created_at) VALUES (?, ?, ?, ?)",
                (tenant, trigger, cursor, now),
            )
            batch = cast(int, cur.lastrowid)
            conn.executemany(
                "INSERT INTO outbox_events (batch_id, tenant, trigger, dedup_key, event)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (tenant, trigger, dedup_key) DO NOTHING",
                [(batch, tenant, trigger, e.dedup_key, event_to_json(e)) for e in events],
            )
        return batch

    def pending(self, tenant: str, trigger: str, *, limit: int | None = None) -> list[OutboxEntry]:
        """Events not yet delivered, oldest first."""
        rows = (
            self._conn()
            .execute(
                "SELECT id, batch_id, event FROM outbox_events"
                " WHERE tenant = ? AND trigger = ? AND delivered_at IS NULL ORDER BY id LIMIT ?",
                (tenant, trigger, -1 if limit is None else limit),
            )
            .fetchall()
        )
        return [OutboxEntry(id=r[0], batch=r[1], event=event_from_json(r[2])) for r in rows]

    def mark_delivered(self, ids: Sequence[int]) -> None:
        """Record that the sink accepted these outbox entries."""
        now = self._stamp()
        with self._tx(durable=False) as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = list(ids[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                conn.execute(
                    f"UPDATE outbox_events SET delivered_at = ? WHERE id IN ({marks})"  # noqa: S608 - only ?s
                    " AND delivered_at IS NULL",
                    (now, *chunk),
                )

    def commit_after_delivery(self, tenant: str, trigger: str) -> str | None:
        """Commit the newest enqueued cursor whose events, and all events before them, were delivered.

        The batches up to it leave the outbox. Returns the cursor committed, or None when none could move.
        An empty outbox is seen by a read alone: no write transaction (an idle run drains an empty one).
        """
        if not self._has_batches(tenant, trigger):
            return None
        with self._tx(durable=False) as conn:
            row = conn.execute(
                "SELECT MIN(batch_id) FROM outbox_events"
                " WHERE tenant = ? AND trigger = ? AND delivered_at IS NULL",
                (tenant, trigger),
            ).fetchone()
            blocked = row[0] if row else None
            ready = conn.execute(
                "SELECT id, cursor FROM outbox_batches WHERE tenant = ? AND trigger = ? AND id < ?"
                " ORDER BY id DESC LIMIT 1",
                (tenant, trigger, blocked if blocked is not None else 2**62),
            ).fetchone()
            if ready is None:
                return None
            batch, cursor = int(ready[0]), str(ready[1])
            self._put_cursor(conn, tenant, trigger, cursor)
            conn.execute(
                "DELETE FROM outbox_events WHERE batch_id IN"
                " (SELECT id FROM outbox_batches WHERE tenant = ? AND trigger = ? AND id <= ?)",
                (tenant, trigger, batch),
            )
            conn.execute(
                "DELETE FROM outbox_batches WHERE tenant = ? AND trigger = ? AND id <= ?",
                (tenant, trigger, batch),
            )
            return cursor

    def _has_batches(self, tenant: str, trigger: str) -> bool:
        sql = "SELECT 1 FROM outbox_batches WHERE tenant = ? AND trigger = ? LIMIT 1"
        return self._conn().execute(sql, (tenant, trigger)).fetchone() is not None

    # -- idempotency ---------------------------------------------------------------------------------------

    def load_idempotency(self, tenant: str, key: str) -> IdempotencyRecord | None:
        row = (
            self._conn()
            .execute(
                "SELECT key, fingerprint, status, result, attempts FROM idempotency"
                " WHERE tenant = ? AND key = ?",
                (tenant, key),
            )
            .fetchone()
        )
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
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, key) DO UPDATE SET"
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
        stamp = started_at.astimezone(UTC).isoformat() if started_at is not None else self._stamp()
        with self._tx(durable=False) as conn:
            cur = conn.execute(
                "INSERT INTO runs (tenant, trigger, started_at) VALUES (?, ?, ?)", (tenant, trigger, stamp)
            )
            return cast(int, cur.lastrowid)

    def finish_run(
        self, run_id: int, *, summary: Mapping[str, Any] | RunSummary | None = None, error: str | None = None
    ) -> None:
        """Record how a run ended; ``error`` is the error's text (errors never carry secrets)."""
        with self._tx(durable=False) as conn:
            self._end_run(conn, run_id, summary_json(summary), error)

    def _end_run(self, conn: Any, run_id: int, summary: str | None, error: str | None) -> None:
        """Stamp a started run's end (inside the caller's transaction)."""
        conn.execute(
            "UPDATE runs SET finished_at = ?, summary = ?, error = ? WHERE id = ?",
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
        with self._tx(durable=False) as conn:
            if run_id is None:
                cur = conn.execute(
                    "INSERT INTO runs (tenant, trigger, started_at, finished_at, summary, error)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (tenant, trigger, started_at.astimezone(UTC).isoformat(), self._stamp(), text, error),
                )
                run_id = cast(int, cur.lastrowid)
            else:
                self._end_run(conn, run_id, text, error)
            if cursor is not None:
                self._put_cursor(conn, tenant, trigger, cursor)
        return run_id

    def list_runs(
        self, tenant: str | None = None, *, triggers: Sequence[str] | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """The newest runs first, of one tenant or of all; of the named ``triggers`` only, if given."""
        sql = "SELECT id, tenant, trigger, started_at, finished_at, summary, error FROM runs"
        where: list[str] = []
        args: list[Any] = []
        if tenant is not None:
            where.append("tenant = ?")
            args.append(tenant)
        if triggers is not None:
            where.append(f"trigger IN ({','.join('?' * len(triggers))})")
            args.extend(triggers)
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._conn().execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [
            RunRecord(
                id=r[0],
                tenant=r[1],
                trigger=r[2],
                started_at=datetime.fromisoformat(r[3]),
                finished_at=datetime.fromisoformat(r[4]) if r[4] else None,
                summary=json.loads(r[5]) if r[5] else None,
                error=r[6],
            )
            for r in rows
        ]

    def run_stats(self) -> list[RunStats]:
        """Every (tenant, trigger)'s runs summed over the whole history, for metrics (one query)."""
        rows = self._conn().execute(_RUN_STATS_SQL).fetchall()
        return [RunStats.from_row(r) for r in rows]


_RUN_STATS_SQL = """
    SELECT tenant, trigger, COUNT(*), SUM(error IS NOT NULL), SUM(finished_at IS NULL),
        COALESCE(SUM(json_extract(summary, '$.delivered')), 0),
        COALESCE(SUM(json_extract(summary, '$.events')), 0),
        COALESCE(SUM(json_extract(summary, '$.requests')), 0),
        COALESCE(SUM(json_extract(summary, '$.rate_limited')), 0),
        COALESCE(SUM(json_extract(summary, '$.duration_s')), 0),
        COALESCE(SUM(json_extract(summary, '$.retries')), 0),
        COALESCE(SUM(json_extract(summary, '$.token_refreshes')), 0)
    FROM runs GROUP BY tenant, trigger ORDER BY tenant, trigger
"""


def _tenant_row(conn: sqlite3.Connection, tenant: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(
        f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE id = ?",  # noqa: S608 - fixed column list
        (tenant,),
    ).fetchone()
    return row


def _require_row(conn: sqlite3.Connection, tenant: str) -> tuple[Any, ...]:
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
        created_at=datetime.fromisoformat(row[4]),
        paused_reason=row[5],
        paused_at=datetime.fromisoformat(row[6]) if row[6] else None,
    )
