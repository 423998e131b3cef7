"""What only the PostgreSQL store does: sealed at rest on the server, migrations, advisory locks, its URL."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet

from fortnox_connector.contract.state import Token
from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.cli import main
from fortnox_connector.runtime.store import SqliteStore, store_from_url
from fortnox_connector.runtime.store.localpg import LocalPostgres
from fortnox_connector.runtime.store.pg_migrations import PG_LATEST
from fortnox_connector.runtime.store.postgres import PostgresStore, redact_url
from fortnox_connector.secrets import Secret

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _token(access: str, refresh: str | None) -> Token:
    return Token(
        Secret(access), NOW + timedelta(hours=1), frozenset({"payment"}), Secret(refresh) if refresh else None
    )


def _all_rows_as_text(url: str) -> str:
    """Every value of every table of the database as text (bytea as its raw bytes)."""
    out: list[str] = []
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608 - names from the catalog
                out.extend(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row)
    return "\n".join(out)


def test_secrets_are_sealed_before_they_reach_the_server(pg_url: str) -> None:
    key = Fernet.generate_key()
    secret, access, refresh = "client-secret-4f9a1c", "access-token-8d2e7b", "refresh-token-3c6f0a"
    with PostgresStore(pg_url, key) as store:
        store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
        store.save_secret("acme", "client_secret", Secret(secret))
        assert store.swap_token("acme", None, _token(access, refresh))
        dump = _all_rows_as_text(pg_url)
        assert "acme" in dump  # the dump does show the rows
        for value in (secret, access, refresh, key.decode()):
            assert value not in dump
        assert secret not in repr(store) and key.decode() not in repr(store)


def test_wrong_key_and_moved_rows_are_clear_errors(pg_url: str) -> None:
    key = Fernet.generate_key()
    with PostgresStore(pg_url, key) as store:
        for tenant in ("acme", "evil"):
            store.add_tenant(tenant, display_name=tenant, auth_mode="authorization_code")
            store.save_secret(tenant, "client_secret", Secret(f"{tenant}-secret"))
    with PostgresStore(pg_url, Fernet.generate_key()) as store, pytest.raises(ConfigError) as err:
        store.load_secret("acme", "client_secret")
    assert "tenant acme" in str(err.value) and "FORTNOX_CONNECTOR_KEY" in str(err.value)
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "UPDATE secrets SET sealed = (SELECT sealed FROM secrets WHERE tenant = 'acme')"
            " WHERE tenant = 'evil'"
        )
    with PostgresStore(pg_url, key) as store, pytest.raises(ConfigError, match="another record"):
        store.load_secret("evil", "client_secret")


def test_key_rotation_reseals_everything(pg_url: str) -> None:
    key, new = Fernet.generate_key(), Fernet.generate_key()
    with PostgresStore(pg_url, key) as store:
        store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
        store.save_secret("acme", "client_secret", Secret("cs-value"))
        assert store.swap_token("acme", None, _token("at1", "rt1"))
    PostgresStore(pg_url, new, previous_keys=[key]).close()
    with PostgresStore(pg_url, new) as store:
        assert store.load_secret("acme", "client_secret") == Secret("cs-value")
        assert store.swap_token("acme", Secret("rt1"), _token("at2", "rt2"))


def test_workers_starting_together_migrate_once(pg_url: str) -> None:
    key = Fernet.generate_key()
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            start.wait()
            PostgresStore(pg_url, key).close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(pg_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, PG_LATEST + 1))


def test_database_from_a_newer_program_is_refused(pg_url: str) -> None:
    PostgresStore(pg_url, Fernet.generate_key()).close()
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO schema_version VALUES (%s, now())", (PG_LATEST + 1,))
    with pytest.raises(ConfigError, match="newer than this program knows"):
        PostgresStore(pg_url, Fernet.generate_key())


def _hold_lock_forever(url: str, key: bytes, held: Any) -> None:
    store = PostgresStore(url, key)
    with store.lock("run:acme:payment_received"):
        held.set()
        threading.Event().wait()


def test_a_killed_holder_never_leaves_its_lock_behind(pg_url: str) -> None:
    """The lock is the server session's: SIGKILL the holder and the next taker gets it."""
    key = Fernet.generate_key()
    PostgresStore(pg_url, key).close()
    ctx = multiprocessing.get_context("spawn")
    held = ctx.Event()
    holder = ctx.Process(target=_hold_lock_forever, args=(pg_url, key, held))
    holder.start()
    try:
        assert held.wait(timeout=60)
        with PostgresStore(pg_url, key) as store, psycopg.connect(pg_url, autocommit=True) as probe:
            from fortnox_connector.runtime.store.pg_locks import lock_key

            k = lock_key("run:acme:payment_received")
            assert probe.execute("SELECT pg_try_advisory_lock(%s)", (k,)).fetchone() == (False,)
            os.kill(holder.pid or 0, signal.SIGKILL)
            holder.join(timeout=30)
            with store.lock("run:acme:payment_received"):  # waits until the server ended the session
                assert probe.execute("SELECT pg_try_advisory_lock(%s)", (k,)).fetchone() == (False,)
            assert probe.execute("SELECT pg_try_advisory_lock(%s)", (k,)).fetchone() == (True,)
    finally:
        if holder.is_alive():
            holder.kill()


def _backends(probe: psycopg.Connection[Any]) -> set[int]:
    """The server processes of the store's database sessions other than ``probe``'s."""
    rows = probe.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchall()
    return {int(r[0]) for r in rows}


def test_locks_reuse_pooled_sessions_and_leave_none_held(pg_url: str) -> None:
    """A run per lock used to fork a server process per lock: now the sessions are pooled, and released."""
    key = Fernet.generate_key()
    with PostgresStore(pg_url, key) as store, psycopg.connect(pg_url, autocommit=True) as probe:
        with store.lock("run:acme:payment_received"):
            pass
        sessions = _backends(probe)
        for n in range(20):
            with store.lock(f"run:acme:{n}"):
                pass
        assert _backends(probe) == sessions  # the same server processes, no new one per lock
        held = probe.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()
        assert held == (0,)


def test_try_lock_says_no_while_another_holds_it_and_a_thread_reenters_its_own(pg_url: str) -> None:
    key = Fernet.generate_key()
    with PostgresStore(pg_url, key) as a, PostgresStore(pg_url, key) as b:
        with a.lock("run:acme:invoice_paid"):
            with b.try_lock("run:acme:invoice_paid") as got:
                assert got is False
            with a.try_lock("run:acme:invoice_paid") as again, a.lock("run:acme:invoice_paid"):
                assert again is True  # the holding thread enters again at once
            other: list[bool] = []

            def elsewhere() -> None:
                with a.try_lock("run:acme:invoice_paid") as got:
                    other.append(got)

            thread = threading.Thread(target=elsewhere)
            thread.start()
            thread.join()
            assert other == [False]  # re-entry is per thread: another thread of the same store waits
        with b.try_lock("run:acme:invoice_paid") as got:
            assert got is True


def test_more_locks_at_once_than_the_store_allows_is_a_clear_error(pg_url: str) -> None:
    with PostgresStore(pg_url, Fernet.generate_key(), max_locks=1, lock_wait_s=0.2) as store:
        with (
            store.lock("run:acme:payment_received"),
            pytest.raises(ConfigError) as caught,
            store.lock("token:acme"),
        ):
            pass
        assert "max_locks" in str(caught.value)
        with store.lock("token:acme"):  # the first released: there is room again
            pass


def _contend(url: str, key: bytes, counter: str, start: Any, rounds: int) -> None:
    with PostgresStore(url, key) as store:
        start.wait(timeout=60)
        for _ in range(rounds):
            with store.lock("token:acme"):
                path = Path(counter)
                path.write_text(str(int(path.read_text()) + 1))


def test_two_processes_exclude_each_other(pg_url: str, tmp_path: Path) -> None:
    key = Fernet.generate_key()
    PostgresStore(pg_url, key).close()
    counter = tmp_path / "counter"
    counter.write_text("0")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_contend, args=(pg_url, key, str(counter), start, 100)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert counter.read_text() == "200"  # a lost update would show as less


def test_store_url_picks_the_store(pg_url: str, tmp_path: Path) -> None:
    key = Fernet.generate_key()
    opened = [
        store_from_url(None, tmp_path / "a.db", key),
        store_from_url(f"sqlite:///{tmp_path}/b.db", tmp_path / "a.db", key),
        store_from_url(pg_url, tmp_path / "a.db", key),
    ]
    for store in opened:
        store.close()
    default, named, pg = opened
    assert isinstance(default, SqliteStore) and default.path == tmp_path / "a.db"
    assert isinstance(named, SqliteStore) and named.path == tmp_path / "b.db"
    assert isinstance(pg, PostgresStore)
    with pytest.raises(ConfigError, match="neither postgresql") as err:
        store_from_url("mysql://x", tmp_path / "a.db", key)
    assert err.value.field == "FORTNOX_CONNECTOR_STORE" and err.value.hint


def test_unreachable_server_names_the_url_without_its_password(tmp_path: Path) -> None:
    from fortnox_connector.runtime.store.localpg import free_port

    url = f"postgresql://svc:hunter2-pw@127.0.0.1:{free_port()}/state"
    with pytest.raises(ConfigError, match="cannot connect to the state database") as err:
        PostgresStore(url, Fernet.generate_key(), connect_timeout_s=2)
    assert "hunter2-pw" not in str(err.value) and "127.0.0.1" in str(err.value)
    assert redact_url(url).startswith("postgresql://svc@127.0.0.1:")


def test_cli_uses_the_store_the_url_names(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = ["--home", str(tmp_path), "--store", pg_url]
    os.environ.setdefault("FORTNOX_CONNECTOR_KEY", Fernet.generate_key().decode())
    try:
        assert main([*env, "tenants", "add", "acme", "--name", "Acme AB"]) == 0
        assert main([*env, "tenants", "list", "--json"]) == 0
    finally:
        os.environ.pop("FORTNOX_CONNECTOR_KEY", None)
    assert '"acme"' in capsys.readouterr().out
    assert not (tmp_path / "state.db").exists()  # nothing went to SQLite
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT id FROM tenants").fetchall() == [("acme",)]


def test_local_server_runs_as_the_postgres_user_when_root(postgres_server: LocalPostgres) -> None:
    with psycopg.connect(postgres_server.url()) as conn:
        row = conn.execute("SELECT current_setting('listen_addresses'), current_setting('fsync')").fetchone()
    assert row == ("127.0.0.1", "off")
