"""The store's schema as an ordered list of migrations, applied once each and recorded in ``schema_version``.

Append new migrations at the end with the next version; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fortnox_connector.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: Sequence[str]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "tenants, config, secrets, tokens, cursors, idempotency",
        (
            """CREATE TABLE tenants (
                id TEXT PRIMARY KEY,
                display_name TEXT NOT NULL,
                auth_mode TEXT NOT NULL,
                fortnox_tenant_id TEXT,
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE tenant_config (
                tenant TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
                config TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            """CREATE TABLE secrets (
                tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                sealed BLOB NOT NULL,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (tenant, name)
            )""",
            """CREATE TABLE tokens (
                tenant TEXT PRIMARY KEY,
                sealed BLOB NOT NULL,
                refresh_tag TEXT,
                expires_at TEXT NOT NULL,
                scope TEXT NOT NULL,
                token_type TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            """CREATE TABLE cursors (
                tenant TEXT NOT NULL,
                trigger TEXT NOT NULL,
                cursor TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (tenant, trigger)
            )""",
            """CREATE TABLE idempotency (
                tenant TEXT NOT NULL,
                key TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                status TEXT NOT NULL,
                result TEXT,
                attempts INTEGER NOT NULL,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (tenant, key)
            )""",
        ),
    ),
    Migration(
        2,
        "outbox of events pending delivery, run history",
        (
            """CREATE TABLE outbox_batches (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                tenant TEXT NOT NULL,
                trigger TEXT NOT NULL,
                cursor TEXT NOT NULL,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX outbox_batches_by_trigger ON outbox_batches (tenant, trigger, id)",
            """CREATE TABLE outbox_events (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                batch_id INTEGER NOT NULL REFERENCES outbox_batches(id) ON DELETE CASCADE,
                tenant TEXT NOT NULL,
                trigger TEXT NOT NULL,
                dedup_key TEXT NOT NULL,
                event TEXT NOT NULL,
                delivered_at TEXT
            )""",
            "CREATE INDEX outbox_events_by_batch ON outbox_events (batch_id)",
            "CREATE UNIQUE INDEX outbox_events_dedup ON outbox_events (tenant, trigger, dedup_key)",
            """CREATE TABLE runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                tenant TEXT NOT NULL,
                trigger TEXT NOT NULL,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                summary TEXT,
                error TEXT
            )""",
            "CREATE INDEX runs_by_tenant ON runs (tenant, id)",
        ),
    ),
    Migration(
        3,
        "tenant pause flag (waiting for a reconnect)",
        (
            "ALTER TABLE tenants ADD COLUMN paused_reason TEXT",
            "ALTER TABLE tenants ADD COLUMN paused_at TEXT",
        ),
    ),
)

LATEST = MIGRATIONS[-1].version


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def to_apply(migrations: Sequence[Migration], have: int, target: int) -> list[Migration]:
    """The migrations above version ``have`` up to ``target``, in order (SQLite's and PostgreSQL's alike).

    A database newer than every migration this program knows is refused: an older program must never
    write to tables whose meaning it does not know.
    """
    known = max((m.version for m in migrations), default=0)
    if have > known:
        raise ConfigError(
            f"the state database has schema version {have}, newer than this program knows ({known})",
            hint="upgrade fortnox-connector, or point it at another state database",
        )
    return [m for m in sorted(migrations, key=lambda m: m.version) if have < m.version <= target]


def migrate(
    conn: sqlite3.Connection, *, target: int = LATEST, migrations: Sequence[Migration] = MIGRATIONS
) -> list[int]:
    """Apply the migrations above the database's version up to ``target``, in one transaction.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Safe when several processes open the
    store at once: the version is read under the write lock. Returns the versions applied.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        applied: list[int] = []
        for m in to_apply(migrations, current_version(conn), target):
            for statement in m.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (m.version, datetime.now(UTC).isoformat()),
            )
            applied.append(m.version)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return applied
