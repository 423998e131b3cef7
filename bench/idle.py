"""``python -m bench.idle --tenants N``: an idle night (issue 17) on loopback, in one runtime process.

N tenants (half of them service accounts) on one sandbox, both triggers: a first night backfills, the
sandbox clock moves a day, then the second night finds nothing. Reported for that idle night, per tenant:
API requests per trigger, token requests, write transactions and SQL statements in the state database
(SQLite), wall time. Run it with the sandbox in-process (the state database is the measured part).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from fortnox_connector.contract.records import Event
from fortnox_connector.contract.state import Token
from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.runtime.catalog import load_catalog
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.scheduler import Scheduler
from fortnox_connector.runtime.settings import RuntimeSettings
from fortnox_connector.runtime.store import SqliteStore
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


def idle_night(tenants: int, *, token_ttl: int = 7 * 86400) -> dict[str, Any]:
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
        store = SqliteStore(settings.db_path, Fernet.generate_key())
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
            _trace(runtime, statements)
            started = time.perf_counter()
            reports = scheduler.run_all()  # the idle night
            wall = time.perf_counter() - started
            api = sandbox.stats.requests - sandbox.stats.token_requests - before_api
            tokens = sandbox.stats.token_requests - before_tokens
        ok = sum(1 for r in reports if not r.error and not r.paused_reason)
        return {
            "tenants": tenants,
            "token_ttl_s": token_ttl,
            "ok": ok,
            "api_requests_per_tenant_per_trigger": round(api / tenants / 2, 3),
            "token_requests": tokens,
            "service_accounts": tenants // 2,
            "write_transactions_per_tenant": round(statements["BEGIN"] / tenants, 2),
            "sql_statements_per_tenant": round(sum(statements.values()) / tenants, 1),
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
    args = parser.parse_args(argv)
    result = idle_night(args.tenants, token_ttl=args.token_ttl)
    print(json.dumps(result, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps({"idle_night": result}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
