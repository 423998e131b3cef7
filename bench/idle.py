"""``python -m bench.idle --tenants N``: an idle night (issue 17) on loopback, in one runtime process.

N tenants (half of them service accounts) on one sandbox, both triggers: a first night backfills, the
sandbox clock moves a day, then the second night finds nothing. Reported for that idle night, per tenant:
API requests per trigger, token requests, write transactions and SQL statements in the state database
(SQLite), wall time. Run it with the sandbox in-process (the state database is the measured part).
``--postgres`` runs the same night on a throwaway local PostgreSQL (``LocalPostgres``, ``fsync=off``: its wall
time is not a production figure) and counts its transactions, and among them the write transactions (those
the server gave a transaction id, asked before each commit).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from cryptography.fernet import Fernet

from fortnox_connector.contract.records import Event
from fortnox_connector.contract.state import Token
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.runtime.catalog import load_catalog
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.scheduler import Scheduler
from fortnox_connector.runtime.settings import RuntimeSettings
from fortnox_connector.runtime.store import RuntimeStore, SqliteStore
from fortnox_connector.runtime.store.localpg import LocalPostgres
from fortnox_connector.runtime.store.postgres import Conn, PostgresStore
from fortnox_connector.sandbox import Sandbox, SandboxOptions
from fortnox_connector.secrets import Secret


class NullSink:
    def deliver(self, events: Sequence[Event]) -> None:
        return None

    def close(self) -> None:
        return None


def _add_tenants(runtime: Runtime, sandbox: Sandbox) -> None:
    for i, company in enumerate(sandbox.tenant_ids()):
        name = f"t{i:04d}"
        if i % 2:
            runtime.store.add_tenant(
                name, display_name=name, auth_mode="client_credentials", fortnox_tenant_id=str(company)
            )
            continue
        runtime.store.add_tenant(name, display_name=name, auth_mode="authorization_code")
        answer = sandbox.issue_token(company)
        token = Token(
            access_token=Secret(str(answer["access_token"])),
            refresh_token=Secret(str(answer["refresh_token"])),
            expires_at=datetime.now(UTC) + timedelta(seconds=int(answer["expires_in"])),
            scope=frozenset(str(answer["scope"]).split()),
        )
        runtime.store.swap_token(name, None, token)


class _CountingPostgres(PostgresStore):
    """The real ``PostgresStore``; once ``counting``, each transaction counts, and each that wrote."""

    counting = False
    transactions = 0
    writes = 0
    _counts = threading.Lock()  # the scheduler's worker threads count into one total

    @contextmanager
    def _tx(self) -> Iterator[Conn]:
        with super()._tx() as conn:
            yield conn
            if self.counting:
                row = conn.execute("SELECT pg_current_xact_id_if_assigned()").fetchone()
                with self._counts:
                    self.transactions += 1
                    self.writes += 1 if row is not None and row[0] is not None else 0


def _open_store(settings: RuntimeSettings, postgres: LocalPostgres | None) -> RuntimeStore:
    if postgres is None:
        return SqliteStore(settings.db_path, Fernet.generate_key())
    return cast(RuntimeStore, _CountingPostgres(postgres.create_database("idle"), Fernet.generate_key()))


def idle_night(tenants: int, *, token_ttl: int = 7 * 86400, postgres: bool = False) -> dict[str, Any]:
    with ExitStack() as stack:
        server = stack.enter_context(LocalPostgres()) if postgres else None
        return _idle_night(tenants, token_ttl=token_ttl, server=server)


def _idle_night(tenants: int, *, token_ttl: int, server: LocalPostgres | None) -> dict[str, Any]:
    """The idle night's figures. ``token_ttl`` under a day (Fortnox's access tokens live an hour) makes every
    token expire between the nights: each authorization-code tenant refreshes (a durable write) and each
    service account fetches a new token."""
    options = SandboxOptions(
        rate_limit=False, tenants=tenants, invoices_per_tenant=3, payments_per_tenant=2, token_ttl=token_ttl
    )
    with Sandbox.start(options) as sandbox, tempfile.TemporaryDirectory() as home:
        settings = RuntimeSettings(
            home=Path(home),
            client_id=sandbox.client_id,
            client_secret=Secret(sandbox.client_secret),
            api_url=sandbox.base_url,
            auth_url=sandbox.base_url,
        )
        store = _open_store(settings, server)
        night = [timedelta(0)]  # the runtime's clock moves with the sandbox's: tokens expire for both

        def now() -> datetime:
            return datetime.now(UTC) + night[0]

        runtime = Runtime(
            settings=settings, store=store, catalog=load_catalog(), now=now, pacers=PacerRegistry()
        )
        with runtime:
            _add_tenants(runtime, sandbox)
            scheduler = Scheduler(runtime, lambda: NullSink(), triggers=["payment_received", "invoice_paid"])
            scheduler.run_all()  # the first night: backfills
            sandbox.advance(24 * 3600)
            night[0] = timedelta(hours=24)
            statements: Counter[str] = Counter()
            before_api = sandbox.stats.requests - sandbox.stats.token_requests
            before_tokens = sandbox.stats.token_requests
            if isinstance(store, _CountingPostgres):
                store.counting = True
            else:
                _trace(runtime, statements)
            started = time.perf_counter()
            reports = scheduler.run_all()  # the idle night
            wall = time.perf_counter() - started
            api = sandbox.stats.requests - sandbox.stats.token_requests - before_api
            tokens = sandbox.stats.token_requests - before_tokens
        ok = sum(1 for r in reports if not r.error and not r.paused_reason)
        if isinstance(store, _CountingPostgres):
            counted = {
                "store": "postgresql",
                "write_transactions_per_tenant": round(store.writes / tenants, 2),
                "transactions_per_tenant": round(store.transactions / tenants, 1),
            }
        else:
            counted = {
                "store": "sqlite",
                "write_transactions_per_tenant": round(statements["BEGIN"] / tenants, 2),
                "sql_statements_per_tenant": round(sum(statements.values()) / tenants, 1),
            }
        return {
            "tenants": tenants,
            "token_ttl_s": token_ttl,
            "ok": ok,
            "api_requests_per_tenant_per_trigger": round(api / tenants / 2, 3),
            "token_requests": tokens,
            "service_accounts": tenants // 2,
            **counted,
            "wall_s": round(wall, 2),
            "wall_ms_per_tenant": round(wall / tenants * 1000, 2),
        }


def _trace(runtime: Runtime, statements: Counter[str]) -> None:
    """Count SQL statements on every connection the store opens from now on (threads included)."""
    store = runtime.store
    assert isinstance(store, SqliteStore)
    opened = store._conn

    def traced() -> sqlite3.Connection:
        conn = opened()
        conn.set_trace_callback(lambda sql: statements.update([sql.split(" ", 1)[0]]))
        return conn

    store._conn = traced  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle")
    parser.add_argument("--tenants", type=int, default=200, help="tenants (half service accounts); 200")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON to OUT")
    parser.add_argument(
        "--token-ttl",
        type=int,
        default=7 * 86400,
        help="the sandbox's token lifetime in seconds; 3600 (Fortnox's) makes every token expire before the "
        "idle night, as in real life (default: 7 days, tokens outlive the night)",
    )
    parser.add_argument(
        "--postgres", action="store_true", help="the state in a throwaway local PostgreSQL instead of SQLite"
    )
    args = parser.parse_args(argv)
    result = idle_night(args.tenants, token_ttl=args.token_ttl, postgres=args.postgres)
    print(json.dumps(result, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps({"idle_night": result}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
