"""``serve`` with 50 tenants on one sandbox (rate limit on, Fortnox's real window) plus one lapsed tenant.

Every connected tenant's run finishes (half of them refresh their token first), tenants run concurrently,
and each stays within its own rate limit: the sandbox counts no 429 at all. The tenant whose refresh
token is dead is paused and reported; the others are not held up by it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from fortnox_connector.fortnox.pacing import PacerRegistry
from fortnox_connector.runtime.cli import App, cli
from fortnox_connector.runtime.context import Runtime, open_store
from fortnox_connector.sandbox import Sandbox
from tests.runtime.runtime_support import add_connected, add_disconnected, sandbox_env, settings_for

TENANTS = 50


@pytest.mark.sandbox(
    start=None,  # the runtime reads the real clock for its change windows
    frozen_clock=False,
    rate_limit=True,
    tenants=TENANTS,
    invoices_per_tenant=6,
    payments_per_tenant=4,
)
def test_serve_runs_fifty_tenants_within_their_rate_limits(sandbox: Sandbox, tmp_path: Path) -> None:
    home = tmp_path / "state"
    env = sandbox_env(sandbox, home)
    companies = sandbox.tenant_ids()
    assert len(companies) == TENANTS
    settings = settings_for(sandbox, home)
    with Runtime(settings=settings, store=open_store(settings, env)) as runtime:
        for i, company in enumerate(companies):
            # every other tenant's token is about to expire: its run refreshes it first (rotating token)
            add_connected(runtime, sandbox, f"t{i:02}", company, expires_in=60 if i % 2 else None)
            runtime.store.save_config(f"t{i:02}", {"emit_unbooked_payments": True})
        add_disconnected(runtime, sandbox, "lapsed", companies[0])

    token_requests_before = sandbox.stats.token_requests
    events = tmp_path / "events.jsonl"
    app = App(env=env, pacers=PacerRegistry(), configure_logs=False)
    result = CliRunner().invoke(
        cli,
        ["serve", "--once", "--workers", "8", "--json", "--sink", "file", "--sink-option", f"path={events}"],
        obj=app,
        catch_exceptions=False,
    )
    assert result.exit_code == 3, result.stderr  # 3: a tenant must reconnect; everything else finished
    reports = {r["tenant"]: r for r in json.loads(result.stdout)}
    assert len(reports) == TENANTS + 1

    lapsed = reports.pop("lapsed")
    assert lapsed["paused"] and "reconnect" in lapsed["error"]
    for tenant, report in reports.items():
        assert report["ok"], (tenant, report)
        assert [r["trigger"] for r in report["runs"]] == ["payment_received", "invoice_paid"]
        assert all(r["complete"] for r in report["runs"])

    delivered = Counter(json.loads(line)["tenant"] for line in events.read_text().splitlines())
    for i, company in enumerate(companies):
        assert delivered[f"t{i:02}"] >= len(sandbox.payments(company)) > 0  # payments, plus paid invoices
    assert sandbox.stats.rate_limited == 0  # no tenant went over 25 requests / 5 s
    assert sandbox.stats.by_status.get(429, 0) == 0
    # 25 refreshes, plus the lapsed tenant's one refused attempt
    assert sandbox.stats.token_requests - token_requests_before == TENANTS // 2 + 1
    with Runtime(settings=settings, store=open_store(settings, env)) as runtime:
        assert runtime.store.require_tenant("lapsed").paused
        assert not any(r.paused for r in runtime.store.list_tenants() if r.id != "lapsed")
