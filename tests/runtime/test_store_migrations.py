"""Schema migrations: applied in order, once, recorded; an old database is upgraded with its data intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.store import SqliteStore
from fortnox_connector.runtime.store.migrations import LATEST, MIGRATIONS, Migration, current_version, migrate


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _versions(path: Path) -> list[int]:
    conn = _connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    finally:
        conn.close()


def test_migrations_are_numbered_in_order() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert len(MIGRATIONS) == LATEST


def test_new_database_gets_every_migration_once(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    SqliteStore(tmp_path / "state.db", key).close()
    SqliteStore(tmp_path / "state.db", key).close()
    assert _versions(tmp_path / "state.db") == list(range(1, LATEST + 1))


def test_upgrade_from_version_1_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = _connect(path)
    assert migrate(conn, target=1) == [1]
    conn.execute(
        "INSERT INTO tenants (id, display_name, auth_mode, fortnox_tenant_id, created_at)"
        " VALUES ('acme', 'Acme AB', 'client_credentials', '29302', '2026-01-01T00:00:00+00:00')"
    )
    conn.execute("INSERT INTO cursors VALUES ('acme', 'invoice_paid', 'c7', '2026-01-01T00:00:00+00:00')")
    assert current_version(conn) == 1
    conn.close()

    with SqliteStore(path, Fernet.generate_key()) as store:
        tenant = store.require_tenant("acme")
        assert tenant.display_name == "Acme AB" and tenant.fortnox_tenant_id == "29302" and not tenant.paused
        assert store.load_cursor("acme", "invoice_paid") == "c7"
        store.pause_tenant("acme", "reconnect")  # a v3 column
        store.enqueue("acme", "invoice_paid", [], "c8")  # a v2 table
        assert store.require_tenant("acme").paused
    assert _versions(path) == list(range(1, LATEST + 1))


def test_failed_migration_rolls_back_entirely(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = _connect(path)
    broken = (*MIGRATIONS[:1], Migration(2, "broken", ("CREATE TABLE fine (x INTEGER)", "NOT SQL")))
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, migrations=broken, target=2)
    assert current_version(conn) == 0
    assert conn.execute("SELECT name FROM sqlite_master WHERE name IN ('fine', 'tenants')").fetchall() == []
    conn.close()


def test_database_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = _connect(path)
    migrate(conn)
    conn.execute("INSERT INTO schema_version VALUES (?, '2030-01-01T00:00:00+00:00')", (LATEST + 1,))
    conn.close()
    with pytest.raises(ConfigError, match="newer than this program") as err:
        SqliteStore(path, Fernet.generate_key())
    assert err.value.hint and "upgrade" in err.value.hint


def test_wal_mode_and_private_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStore(path, Fernet.generate_key()) as store:
        store.commit_cursor("acme", "t", "1")
        conn = _connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
        for name in ("state.db", "state.db-wal", "state.db-shm"):  # SQLite gives its files the db's mode
            assert (tmp_path / name).stat().st_mode & 0o077 == 0, name
    assert path.stat().st_mode & 0o077 == 0


def test_run_bookkeeping_commits_with_normal_sync_and_tokens_and_keys_with_full(tmp_path: Path) -> None:
    """Under WAL, NORMAL may lose the last commits to an OS crash: fine for cursors and the outbox (a lost
    commit re-sends, never skips), not for a rotated refresh token or an idempotency key (FULL)."""
    with SqliteStore(tmp_path / "state.db", Fernet.generate_key()) as store:
        store.commit_cursor("acme", "t", "0")  # the thread's connection exists from here on
        conn = store._conn()
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        store.commit_cursor("acme", "t", "1")
        bookkeeping, statements[:] = list(statements), []
        store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
        durable = list(statements)
        conn.set_trace_callback(None)
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL between transactions
    assert not any("synchronous" in s for s in bookkeeping)
    assert durable[0] == "PRAGMA synchronous = FULL" and durable[-1] == "PRAGMA synchronous = NORMAL"
