"""Issue 11 item 7: a state database that cannot be used is one clear line naming the file and the fix."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from fortnox_connector.errors import ConfigError, ConnectorError
from fortnox_connector.runtime.cli import App, cli
from fortnox_connector.runtime.settings import RuntimeSettings
from fortnox_connector.runtime.store.sqlite import SqliteStore

KEY = Fernet.generate_key()


def _corrupt(db: Path) -> None:
    db.write_bytes(b"this is not a SQLite database, just some bytes " * 100)


def _directory(db: Path) -> None:
    db.mkdir()


def _empty(db: Path) -> None:
    db.write_bytes(b"")


def _truncated(db: Path) -> None:
    with SqliteStore(db, KEY) as store:
        store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
    db.write_bytes(db.read_bytes()[:1500])  # a copy cut short


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (_corrupt, "corrupt or not a SQLite database"),
        (_directory, "is a directory"),
        (_empty, "is empty (0 bytes)"),
        (_truncated, "corrupt or not a SQLite database"),
    ],
)
def test_a_state_database_that_cannot_be_used_is_one_clear_line(
    tmp_path: Path, damage: Callable[[Path], None], says: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    damage(home / "state.db")
    env = {"FORTNOX_CONNECTOR_HOME": str(home), "FORTNOX_CONNECTOR_KEY": KEY.decode()}
    result = CliRunner().invoke(cli, ["tenants", "list"], obj=App(env=env, configure_logs=False))
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    line = " ".join(result.stderr.split())
    assert says in line and str(home / "state.db") in line and "Fix:" in line


def test_an_empty_file_is_never_taken_for_a_new_store(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"")
    with pytest.raises(ConfigError, match="is not taken for a new store"):
        SqliteStore(db, KEY)
    assert db.stat().st_size == 0  # left as it was, for the operator to restore


def test_a_new_store_is_still_created_where_there_is_none(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "new" / "state.db", KEY) as store:
        assert store.list_tenants() == []


def test_a_locked_database_says_another_process_holds_it(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    SqliteStore(db, KEY).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ConnectorError, match="locked by another process") as caught:
            SqliteStore(db, KEY, busy_timeout_ms=50)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert str(db) in str(caught.value) and caught.value.hint


def test_the_key_file_can_live_elsewhere(tmp_path: Path) -> None:
    elsewhere = tmp_path / "secrets" / "fortnox.key"
    env = {"FORTNOX_CONNECTOR_HOME": str(tmp_path / "home"), "FORTNOX_CONNECTOR_KEY_FILE": str(elsewhere)}
    assert RuntimeSettings.from_env(env).key_path == elsewhere
    result = CliRunner().invoke(cli, ["tenants", "list"], obj=App(env=env, configure_logs=False))
    assert result.exit_code == 0, result.output
    assert elsewhere.is_file() and not (tmp_path / "home" / "key").exists()
