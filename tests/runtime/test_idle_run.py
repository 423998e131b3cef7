"""Idle nights cost what they must (issue #17): a run that finds nothing makes one write transaction.

Counted on the real stores, with the real Fortnox trigger (its cursor is a time, so it moves every night):
SQLite by tracing every statement of the store's connection (``BEGIN IMMEDIATE`` opens a write
transaction), PostgreSQL by asking the server, before each transaction commits, whether it was given a
transaction id (``pg_current_xact_id_if_assigned()``: only a transaction that writes gets one).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.fernet import Fernet

from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import Event, PollResult, RunSummary, TriggerSpec
from fortnox_connector.errors import ConnectorError
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.plugin import connector as fortnox_connector
from fortnox_connector.runtime.catalog import StaticCatalog
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.jobs import run_tenant_trigger
from fortnox_connector.runtime.settings import RuntimeSettings
from fortnox_connector.runtime.store import RuntimeStore, SqliteStore
from fortnox_connector.runtime.store.postgres import Conn, PostgresStore
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret
from tests.runtime.runtime_support import ListSink, add_connected, settings_for
from tests.runtime.store_support import STORE_KINDS

TRIGGER = "payment_received"


class WritesOfSqlite:
    """The write transactions of a ``SqliteStore`` used from this thread: the statements of each."""

    def __init__(self, store: SqliteStore) -> None:
        self.transactions: list[list[str]] = []
        self._open: list[str] | None = None
        store._conn().set_trace_callback(self._seen)

    def _seen(self, sql: str) -> None:
        verb = sql.split(" ", 1)[0]
        if verb == "BEGIN":
            self._open = []
            self.transactions.append(self._open)
        elif verb in ("COMMIT", "ROLLBACK"):
            self._open = None
        elif self._open is not None:
            self._open.append(sql)


class WritesOfPostgres(PostgresStore):
    """The real ``PostgresStore``; each transaction that was given a transaction id (it wrote) counts."""

    transactions = 0

    @contextmanager
    def _tx(self) -> Iterator[Conn]:
        with super()._tx() as conn:
            yield conn
            row = conn.execute("SELECT pg_current_xact_id_if_assigned()").fetchone()
            if row is not None and row[0] is not None:
                self.transactions += 1


@pytest.fixture(params=STORE_KINDS)
def runtime(request: pytest.FixtureRequest, sandbox: Sandbox, tmp_path: Path) -> Iterator[Runtime]:
    key = Fernet.generate_key()
    settings = settings_for(sandbox, tmp_path)
    store: RuntimeStore
    if request.param == "postgres":
        store = cast(RuntimeStore, WritesOfPostgres(request.getfixturevalue("pg_url"), key))
    else:
        store = SqliteStore(settings.db_path, key)
    catalog = StaticCatalog(fortnox_connector())
    with Runtime(settings=settings, store=store, catalog=catalog, pacers=PacerRegistry()) as rt:
        add_connected(rt, sandbox, "acme", sandbox.tenant_ids()[0])
        rt.store.save_config("acme", {"backfill_days": 400})
        yield rt


def _write_transactions(store: RuntimeStore) -> WritesOfSqlite | None:
    return WritesOfSqlite(store) if isinstance(store, SqliteStore) else None


def _count(store: RuntimeStore, sqlite_writes: WritesOfSqlite | None) -> int:
    if sqlite_writes is not None:
        return len(sqlite_writes.transactions)
    assert isinstance(store, WritesOfPostgres)
    return store.transactions


# A token refresh is a write an idle night may need (a token lives an hour): not what is counted here.
@pytest.mark.sandbox(token_ttl=7 * 86400)
def test_an_idle_run_makes_one_write_transaction_its_record_with_the_cursor(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    store = runtime.store
    spec = runtime.catalog.trigger(TRIGGER)
    first = run_tenant_trigger(runtime, "acme", spec, ListSink())  # the first night backfills
    assert first.ok and first.delivered > 0
    night_one = store.load_cursor("acme", TRIGGER)
    sandbox.advance(24 * 3600)
    writes = _write_transactions(store)
    before = _count(store, writes)

    idle = run_tenant_trigger(runtime, "acme", spec, ListSink())

    assert idle.ok and idle.complete and idle.summary.events == 0 and idle.delivered == 0
    assert _count(store, writes) - before == 1
    if writes is not None:  # what that one transaction wrote: the run's record and its cursor
        [statements] = writes.transactions[-1:]
        assert [s.split(" (", 1)[0] for s in statements] == ["INSERT INTO runs", "INSERT INTO cursors"]
    cursor = store.load_cursor("acme", TRIGGER)
    assert cursor is not None and cursor != night_one and idle.cursor == cursor  # the idle cursor moved
    latest = store.list_runs("acme", limit=1)[0]
    assert latest.id == idle.run_id and latest.finished_at is not None and latest.error is None
    assert latest.started_at <= latest.finished_at and latest.summary is not None
    assert latest.summary["events"] == 0 and latest.summary["pages"] == 1
    assert sum(s.running for s in store.run_stats()) == 0


def test_a_run_that_finds_events_records_its_start_before_it_sends_them(runtime: Runtime) -> None:
    """A run doing work shows as running while it delivers (and stays visible if it is killed)."""
    store = runtime.store
    seen: list[list[bool]] = []  # at each delivery: is each run of the history finished?

    class Watching(ListSink):
        def deliver(self, events: Any) -> None:
            seen.append([r.finished_at is not None for r in store.list_runs("acme")])
            super().deliver(events)

    result = run_tenant_trigger(runtime, "acme", runtime.catalog.trigger(TRIGGER), Watching())
    assert result.ok and result.delivered > 0
    assert seen and seen[0] == [False]  # one record, not finished, before the first delivery
    [run] = store.list_runs("acme")
    assert run.id == result.run_id and run.finished_at is not None


def _empty_then(failure: BaseException) -> TriggerSpec[Any]:
    """Page 1: no events (cursor "1"); page 2: ``failure``."""

    def poll(ctx: TenantContext, cursor: str | None) -> PollResult:
        if cursor == "1":
            raise failure
        return PollResult([], "1", True, RunSummary(pages=1))

    return TriggerSpec("empty-then", "test", {}, poll)


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [
        (ConnectorError("Fortnox answered 503", hint="try later"), "Fortnox answered 503"),
        (KeyboardInterrupt(), "crashed: KeyboardInterrupt"),
    ],
)
def test_a_run_stopped_after_a_page_without_events_records_that_pages_cursor_with_its_end(
    runtime: Runtime, failure: BaseException, outcome: str
) -> None:
    """The held cursor led past no undelivered event: saving it with the record skips nothing."""
    store = runtime.store
    spec = _empty_then(failure)
    if isinstance(failure, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            run_tenant_trigger(runtime, "acme", spec, ListSink())
    else:
        result = run_tenant_trigger(runtime, "acme", spec, ListSink())
        assert result.error is not None and result.cursor == "1"
    assert store.load_cursor("acme", "empty-then") == "1"
    [run] = store.list_runs("acme")
    assert run.finished_at is not None and run.error is not None and outcome in run.error


def _killed_poll(ctx: TenantContext, cursor: str | None) -> PollResult:
    """Page 1: no events (cursor "1"); page 2 (after an idle page): the process dies."""
    if cursor == "1":
        os._exit(3)  # killed: no record written, no cleanup
    return PollResult([], "1", True, RunSummary(pages=1))


class _KilledWhileDelivering(ListSink):
    def deliver(self, events: Any) -> None:
        os._exit(3)


def _run_and_die(home: str, key: bytes, delivering: bool) -> None:
    """Child process: run a trigger that is killed after an idle page, or while delivering events."""
    settings = RuntimeSettings(home=Path(home), client_id="app", client_secret=Secret("app-secret"))
    store = SqliteStore(settings.db_path, key)
    catalog = StaticCatalog(fortnox_connector())
    runtime = Runtime(settings=settings, store=store, catalog=catalog, pacers=PacerRegistry())
    if delivering:
        spec: TriggerSpec[Any] = TriggerSpec(
            "killed", "test", {}, lambda ctx, c: PollResult([Event("killed", "acme", "k", {})], "1", False)
        )
        run_tenant_trigger(runtime, "acme", spec, _KilledWhileDelivering())
    else:
        run_tenant_trigger(runtime, "acme", TriggerSpec("killed", "test", {}, _killed_poll), ListSink())
    os._exit(0)  # not reached


@pytest.mark.parametrize("delivering", [False, True], ids=["after-an-idle-page", "while-delivering"])
def test_a_killed_run_keeps_the_committed_cursor_and_shows_only_if_it_had_events(
    tmp_path: Path, delivering: bool
) -> None:
    """Killed (SIGKILL, OOM, power): the held cursor is lost, never skipped past; an idle run leaves no
    record (it changed nothing), a run that had events in hand stays visible as never finished."""
    key = Fernet.generate_key()
    settings = RuntimeSettings(home=tmp_path, client_id="app", client_secret=Secret("app-secret"))
    with SqliteStore(settings.db_path, key) as store:
        store.add_tenant("acme", display_name="acme", auth_mode="authorization_code")
        store.commit_cursor("acme", "killed", "0")
    child = multiprocessing.get_context("spawn").Process(
        target=_run_and_die, args=(str(tmp_path), key, delivering)
    )
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 3
    with SqliteStore(settings.db_path, key) as store:
        assert store.load_cursor("acme", "killed") == "0"  # the next run polls the same window again
        runs = store.list_runs("acme")
        if delivering:
            [run] = runs
            assert run.finished_at is None and [s.running for s in store.run_stats()] == [1]
            assert [e.event.dedup_key for e in store.pending("acme", "killed")] == ["k"]
        else:
            assert runs == []
