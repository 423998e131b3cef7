"""The PostgreSQL store's schema as ordered migrations, applied once each and recorded in ``schema_version``.

The same rules as SQLite's (``migrations.py``): append with the next version, never edit one that has
shipped. PostgreSQL's DDL is transactional, so all pending migrations run in one transaction, under a
transaction-scoped advisory lock: workers starting together migrate once, the others wait and see it done.
Version 1 is the whole of SQLite's version 3 (tenants, config, secrets, tokens, cursors, idempotency,
outbox, run history, pause flag); 2 adds the shared rate-limit slots of the Temporal host.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg

from fortnox_connector.runtime.store.migrations import Migration, to_apply

MIGRATION_LOCK = 0x466F72746E6F78  # any constant: the advisory lock key migrations hold

PG_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "tenants, config, secrets, tokens, cursors, idempotency, outbox, run history, pause flag",
        (
            """CREATE TABLE tenants (
                id TEXT PRIMARY KEY,
                display_name TEXT NOT NULL,
                auth_mode TEXT NOT NULL,
                fortnox_tenant_id TEXT,
                created_at TIMESTAMPTZ NOT NULL,
                paused_reason TEXT,
                paused_at TIMESTAMPTZ
            )""",
            """CREATE TABLE tenant_config (
                tenant TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
                config TEXT NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE secrets (
                tenant TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                sealed BYTEA NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (tenant, name)
            )""",
            """CREATE TABLE tokens (
                tenant TEXT PRIMARY KEY,
                sealed BYTEA NOT NULL,
                refresh_tag TEXT,
                expires_at TIMESTAMPTZ NOT NULL,
                scope TEXT NOT NULL,
                token_type TEXT NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE cursors (
                tenant TEXT NOT NULL,
                trigger TEXT NOT NULL,
                cursor TEXT NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (tenant, trigger)
            )""",
            """CREATE TABLE idempotency (
                tenant TEXT NOT NULL,
                key TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                status TEXT NOT NULL,
                result TEXT,
                attempts INTEGER NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (tenant, key)
            )""",
            """CREATE TABLE outbox_batches (
                id BIGSERIAL PRIMARY KEY,
                tenant TEXT NOT NULL,
                trigger TEXT NOT NULL,
                cursor TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL
            )""",
            "CREATE INDEX outbox_batches_by_trigger ON outbox_batches (tenant, trigger, id)",
            """CREATE TABLE outbox_events (
                id BIGSERIAL PRIMARY KEY,
                batch_id BIGINT NOT NULL REFERENCES outbox_batches(id) ON DELETE CASCADE,
                tenant TEXT NOT NULL,
                trigger TEXT NOT NULL,
                dedup_key TEXT NOT NULL,
                event TEXT NOT NULL,
                delivered_at TIMESTAMPTZ
            )""",
            "CREATE INDEX outbox_events_by_batch ON outbox_events (batch_id)",
            "CREATE UNIQUE INDEX outbox_events_dedup ON outbox_events (tenant, trigger, dedup_key)",
            """CREATE TABLE runs (
                id BIGSERIAL PRIMARY KEY,
                tenant TEXT NOT NULL,
                trigger TEXT NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ,
                summary TEXT,
                error TEXT
            )""",
            "CREATE INDEX runs_by_tenant ON runs (tenant, id)",
        ),
    ),
    Migration(
        2,
        "rate-limit slots shared by every worker (per client id and tenant)",
        (
            """CREATE TABLE rate_slots (
                id BIGSERIAL PRIMARY KEY,
                pair TEXT NOT NULL,
                taken_at TIMESTAMPTZ NOT NULL,
                done_at TIMESTAMPTZ
            )""",
            "CREATE INDEX rate_slots_by_pair ON rate_slots (pair, id)",
            """CREATE TABLE rate_pauses (
                pair TEXT PRIMARY KEY,
                until TIMESTAMPTZ NOT NULL
            )""",
        ),
    ),
)

PG_LATEST = PG_MIGRATIONS[-1].version


def migrate_pg(
    conn: psycopg.Connection[tuple[object, ...]],
    *,
    target: int = PG_LATEST,
    migrations: Sequence[Migration] = PG_MIGRATIONS,
) -> list[int]:
    """Apply the migrations above the database's version up to ``target`` in one transaction."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version"
            " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
        )
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        have = int(str(row[0])) if row and row[0] is not None else 0
        applied: list[int] = []
        for m in to_apply(migrations, have, target):
            for statement in m.statements:
                conn.execute(statement)  # fixed DDL from this module
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)",
                (m.version, datetime.now(UTC)),
            )
            applied.append(m.version)
    return applied
