"""Both stores (SQLite, PostgreSQL): tenants, config, secrets, token CAS, cursors, idempotency, runs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from fortnox_connector.contract.records import RunSummary
from fortnox_connector.contract.state import IdempotencyRecord, Token
from fortnox_connector.errors import ConfigError, ConnectorError, UnknownTenant
from fortnox_connector.runtime.store import RuntimeStore, SqliteStore
from fortnox_connector.secrets import Secret
from tests.runtime.store_support import STORE_KINDS, open_store

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def key() -> bytes:
    return Fernet.generate_key()


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, key: bytes) -> Iterator[RuntimeStore]:
    s = open_store(request, tmp_path, key, now=lambda: NOW)
    try:
        yield s
    finally:
        s.close()


def _token(access: str, refresh: str | None) -> Token:
    return Token(
        Secret(access),
        NOW + timedelta(hours=1),
        frozenset({"payment", "invoice"}),
        Secret(refresh) if refresh else None,
    )


def test_is_a_runtime_store(store: RuntimeStore) -> None:
    typed: RuntimeStore = store  # mypy checks the protocol
    assert typed is store


def test_tenants_round_trip(store: RuntimeStore) -> None:
    added = store.add_tenant(
        "acme", display_name="Acme AB", auth_mode="client_credentials", fortnox_tenant_id="29302"
    )
    assert added.created_at == NOW and not added.paused
    store.add_tenant("beta", display_name="Beta", auth_mode="authorization_code")
    assert [t.id for t in store.list_tenants()] == ["acme", "beta"]
    updated = store.update_tenant("beta", fortnox_tenant_id="7")
    assert updated.fortnox_tenant_id == "7" and updated.display_name == "Beta"
    assert store.get_tenant("nobody") is None
    with pytest.raises(UnknownTenant) as err:
        store.require_tenant("nobody")
    assert "nobody" in str(err.value) and err.value.hint
    with pytest.raises(ConfigError, match="exists already"):
        store.add_tenant("acme", display_name="again", auth_mode="host_managed")
    with pytest.raises(ConfigError, match="unknown auth mode"):
        store.add_tenant("gamma", display_name="G", auth_mode="password")  # type: ignore[arg-type]


def test_pause_and_resume(store: RuntimeStore) -> None:
    store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
    store.pause_tenant("acme", "refresh token rejected: reconnect")
    paused = store.require_tenant("acme")
    assert (
        paused.paused
        and paused.paused_reason == "refresh token rejected: reconnect"
        and paused.paused_at == NOW
    )
    store.resume_tenant("acme")
    assert not store.require_tenant("acme").paused
    with pytest.raises(UnknownTenant):
        store.pause_tenant("nobody", "x")


def test_config_and_secrets(store: RuntimeStore) -> None:
    store.add_tenant("acme", display_name="Acme", auth_mode="client_credentials")
    assert store.load_config("acme") is None
    store.save_config("acme", {"backfill_days": 10, "default_mode_of_payment": "BG"})
    store.save_config("acme", {"backfill_days": 20})
    assert store.load_config("acme") == {"backfill_days": 20}
    store.save_secret("acme", "client_secret", Secret("s3cr3t-value"))
    assert store.load_secret("acme", "client_secret") == Secret("s3cr3t-value")
    assert store.load_secret("acme", "other") is None
    store.delete_secret("acme", "client_secret")
    assert store.load_secret("acme", "client_secret") is None
    with pytest.raises(UnknownTenant):
        store.save_secret("nobody", "client_secret", Secret("x"))


def test_remove_tenant_forgets_everything(store: RuntimeStore) -> None:
    store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
    store.save_config("acme", {"a": 1})
    store.save_secret("acme", "s", Secret("value"))
    assert store.swap_token("acme", None, _token("at", "rt"))
    store.commit_cursor("acme", "payment_received", "c1")
    store.remove_tenant("acme")
    assert store.get_tenant("acme") is None
    assert store.load_config("acme") is None and store.load_secret("acme", "s") is None
    assert store.load_token("acme") is None and store.load_cursor("acme", "payment_received") is None


def test_token_compare_and_swap(store: RuntimeStore) -> None:
    assert store.load_token("acme") is None
    assert store.swap_token("acme", Secret("rt-none"), _token("at0", "rt0")) is False  # nothing stored yet
    assert store.load_token("acme") is None
    assert store.swap_token("acme", None, _token("at1", "rt1"))
    assert store.swap_token("acme", None, _token("at-x", "rt-x")) is False  # a refresh token is stored

    assert store.swap_token("acme", Secret("rt-stale"), _token("at2", "rt2")) is False
    kept = store.load_token("acme")
    assert kept is not None and kept.access_token == Secret("at1") and kept.refresh_token == Secret("rt1")

    assert store.swap_token("acme", Secret("rt1"), _token("at2", "rt2"))
    now = store.load_token("acme")
    assert now == _token("at2", "rt2")
    assert store.swap_token("acme", Secret("rt1"), _token("at3", "rt3")) is False  # rt1 was used up


def test_token_without_refresh_token(store: RuntimeStore) -> None:
    """client_credentials tokens have no refresh token: ``expected=None`` replaces them."""
    assert store.swap_token("svc", None, _token("at1", None))
    assert store.swap_token("svc", None, _token("at2", None))
    token = store.load_token("svc")
    assert token is not None and token.access_token == Secret("at2") and token.refresh_token is None
    store.delete_token("svc")
    assert store.load_token("svc") is None


def test_concurrent_swaps_only_one_wins(store: RuntimeStore) -> None:
    assert store.swap_token("acme", None, _token("at0", "rt0"))
    start = threading.Barrier(8)
    wins: list[bool] = []

    def contend(i: int) -> None:
        start.wait()
        wins.append(store.swap_token("acme", Secret("rt0"), _token(f"at{i + 1}", f"rt{i + 1}")))

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_cursors(store: RuntimeStore) -> None:
    assert store.load_cursor("acme", "invoice_paid") is None
    store.commit_cursor("acme", "invoice_paid", "2026-11-01")
    store.commit_cursor("acme", "invoice_paid", "2026-11-02")
    store.commit_cursor("acme", "payment_received", "p")
    assert store.load_cursor("acme", "invoice_paid") == "2026-11-02"
    assert store.load_cursor("beta", "invoice_paid") is None


def test_idempotency(store: RuntimeStore) -> None:
    assert store.load_idempotency("acme", "k1") is None
    store.save_idempotency("acme", IdempotencyRecord("k1", "fp", "pending"))
    store.save_idempotency(
        "acme", IdempotencyRecord("k1", "fp", "completed", {"Number": 7, "Amount": "10.50"}, 2)
    )
    assert store.load_idempotency("acme", "k1") == IdempotencyRecord(
        "k1", "fp", "completed", {"Number": 7, "Amount": "10.50"}, 2
    )
    assert store.load_idempotency("beta", "k1") is None


def test_run_history(store: RuntimeStore) -> None:
    first = store.start_run("acme", "payment_received")
    second = store.start_run("beta", "invoice_paid")
    store.finish_run(first, summary=RunSummary(pages=2, events=5))
    store.finish_run(second, error="tenant beta: Fortnox answered 503.")
    runs = store.list_runs()
    assert [r.id for r in runs] == [second, first]
    assert runs[0].error == "tenant beta: Fortnox answered 503." and runs[0].finished_at == NOW
    assert runs[1].summary is not None and runs[1].summary["events"] == 5
    assert [r.trigger for r in store.list_runs("acme")] == ["payment_received"]
    running = store.start_run("acme", "invoice_paid")
    assert (
        store.list_runs("acme", limit=1)[0].id == running and store.list_runs("acme")[0].finished_at is None
    )


def test_a_run_recorded_once_at_its_end_carries_its_start_and_a_cursor(store: RuntimeStore) -> None:
    began = NOW - timedelta(seconds=3)
    assert store.now() == NOW
    idle = store.record_run(
        "acme", "payment_received", started_at=began, summary=RunSummary(pages=1), cursor="since:22"
    )
    [run] = store.list_runs("acme")
    assert (run.id, run.started_at, run.finished_at, run.error) == (idle, began, NOW, None)
    assert run.summary is not None and run.summary["pages"] == 1
    assert store.load_cursor("acme", "payment_received") == "since:22"
    started = store.start_run("acme", "invoice_paid", started_at=began)
    assert store.list_runs("acme", limit=1)[0].finished_at is None
    failed = store.record_run(
        "acme", "invoice_paid", started_at=began, run_id=started, error="tenant acme: Fortnox answered 503."
    )
    assert failed == started
    latest = store.list_runs("acme", limit=1)[0]
    assert (latest.id, latest.started_at, latest.finished_at) == (started, began, NOW)
    assert latest.error == "tenant acme: Fortnox answered 503."
    assert store.load_cursor("acme", "invoice_paid") is None  # no cursor given: none committed
    assert store.load_cursor("acme", "payment_received") == "since:22"
    assert [(s.runs, s.failed, s.running) for s in store.run_stats()] == [(1, 1, 0), (1, 0, 0)]


def test_secrets_encrypted_at_rest_and_never_shown(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret, access, refresh = "client-secret-4f9a1c", "access-token-8d2e7b", "refresh-token-3c6f0a"
    path = tmp_path / "state.db"
    store = SqliteStore(path, key)
    store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
    store.save_secret("acme", "client_secret", Secret(secret))
    assert store.swap_token("acme", None, _token(access, refresh))
    # While open (WAL in use) and after close (checkpointed into the main file): no clear text anywhere.
    for _phase in ("open", "closed"):
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert any(p.name == "state.db" for p in files)
        for p in files:
            data = p.read_bytes()
            for value in (secret, access, refresh, key.decode()):
                assert value.encode() not in data, f"{value} found in {p.name}"
        store.close()
    shown = repr(store) + caplog.text + repr(store._cipher)
    for value in (secret, access, refresh, key.decode()):
        assert value not in shown


def test_wrong_key_is_a_clear_error(tmp_path: Path, key: bytes) -> None:
    with SqliteStore(tmp_path / "state.db", key) as store:
        store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
        store.save_secret("acme", "client_secret", Secret("value-1234"))
    other = Fernet.generate_key()
    with SqliteStore(tmp_path / "state.db", other) as store, pytest.raises(ConfigError) as err:
        store.load_secret("acme", "client_secret")
    text = str(err.value)
    assert "tenant acme" in text and "FORTNOX_CONNECTOR_KEY" in text
    assert key.decode() not in text and other.decode() not in text


def test_sealed_rows_cannot_be_moved_between_tenants(tmp_path: Path, key: bytes) -> None:
    import sqlite3

    with SqliteStore(tmp_path / "state.db", key) as store:
        for tenant in ("acme", "evil"):
            store.add_tenant(tenant, display_name=tenant, auth_mode="authorization_code")
        store.save_secret("acme", "client_secret", Secret("acme-secret"))
        store.save_secret("evil", "client_secret", Secret("evil-secret"))
    with sqlite3.connect(tmp_path / "state.db") as conn:
        conn.execute(
            "UPDATE secrets SET sealed = (SELECT sealed FROM secrets WHERE tenant = 'acme')"
            " WHERE tenant = 'evil'"
        )
    conn.close()
    with SqliteStore(tmp_path / "state.db", key) as store, pytest.raises(ConfigError, match="another record"):
        store.load_secret("evil", "client_secret")


def test_invalid_key_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a valid key"):
        SqliteStore(tmp_path / "state.db", b"short-and-wrong")


def test_store_is_shared_by_threads_each_with_a_connection(store: RuntimeStore) -> None:
    store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait()
            for n in range(25):
                store.commit_cursor("acme", f"t{i}", str(n))
                store.start_run("acme", f"t{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [store.load_cursor("acme", f"t{i}") for i in range(4)] == ["24"] * 4
    assert len(store.list_runs("acme", limit=1000)) == 100


def test_closed_store_refuses_work(tmp_path: Path, key: bytes) -> None:
    store = SqliteStore(tmp_path / "state.db", key)
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.load_cursor("acme", "t")


def test_a_long_foreign_write_lock_is_a_clear_error(tmp_path: Path, key: bytes) -> None:
    import sqlite3

    path = tmp_path / "state.db"
    with SqliteStore(path, key, busy_timeout_ms=50) as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        try:
            with pytest.raises(ConnectorError, match="stayed locked") as err:
                store.commit_cursor("acme", "t", "1")
            assert err.value.hint
            assert store.load_cursor("acme", "t") is None  # reads still work under WAL
        finally:
            other.execute("ROLLBACK")
            other.close()
        store.commit_cursor("acme", "t", "1")  # and the store is usable again
        assert store.load_cursor("acme", "t") == "1"


def test_key_rotation_reseals_everything(tmp_path: Path, key: bytes) -> None:
    path = tmp_path / "state.db"
    with SqliteStore(path, key) as store:
        store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
        store.save_secret("acme", "client_secret", Secret("cs-value"))
        assert store.swap_token("acme", None, _token("at1", "rt1"))
    new = Fernet.generate_key()
    with SqliteStore(path, new, previous_keys=[key]) as store:
        assert store.load_secret("acme", "client_secret") == Secret("cs-value")
    with SqliteStore(path, new) as store:  # the old key is no longer needed
        assert store.load_secret("acme", "client_secret") == Secret("cs-value")
        assert store.swap_token("acme", Secret("rt1"), _token("at2", "rt2"))  # CAS works under the new key
        assert store.load_token("acme") == _token("at2", "rt2")
    with SqliteStore(path, key) as store, pytest.raises(ConfigError, match="cannot be decrypted"):
        store.load_secret("acme", "client_secret")


def test_run_stats_and_token_age(store: RuntimeStore) -> None:
    assert store.token_rotated_at("acme") is None
    assert store.swap_token("acme", None, _token("at1", "rt1"))
    assert store.token_rotated_at("acme") == NOW
    ok = store.start_run("acme", "payment_received")
    store.finish_run(ok, summary={"delivered": 3, "events": 3, "requests": 2, "duration_s": 0.5})
    failed = store.start_run("acme", "payment_received")
    store.finish_run(
        failed,
        summary={
            "delivered": 1,
            "events": 1,
            "requests": 4,
            "rate_limited": 1,
            "retries": 2,
            "token_refreshes": 1,
        },
        error="x",
    )
    store.start_run("acme", "payment_received")
    [stats] = store.run_stats()
    assert (stats.tenant, stats.trigger, stats.runs, stats.failed, stats.running) == (
        "acme",
        "payment_received",
        3,
        1,
        1,
    )
    assert (stats.delivered, stats.events, stats.requests, stats.rate_limited) == (4, 4, 6, 1)
    assert (stats.retries, stats.token_refreshes) == (2, 1)  # a summary without them counts 0
    assert stats.duration_s == 0.5
