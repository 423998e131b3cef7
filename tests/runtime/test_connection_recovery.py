"""Issue 11 items 3, 4: a dead connection recovers with its cursors; a failed connect leaves nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fortnox_connector.errors import AuthError
from fortnox_connector.runtime.browser import approve
from fortnox_connector.runtime.cli import App, cli
from fortnox_connector.runtime.connect import adopt_connection, connect
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.jobs import run_tenant_trigger
from fortnox_connector.runtime.scheduler import Scheduler
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret
from tests.runtime.runtime_support import (
    PAGES,
    ListSink,
    add_connected,
    add_disconnected,
    make_runtime,
    sandbox_env,
)


@pytest.fixture
def runtime(sandbox: Sandbox, tmp_path: Path) -> Iterator[Runtime]:
    with make_runtime(sandbox, tmp_path) as rt:
        yield rt


def _seed(sandbox: Sandbox, company: int) -> Secret:
    return Secret(str(sandbox.issue_token(company)["refresh_token"]))


@pytest.mark.parametrize("paused", [True, False], ids=["paused", "not-yet-paused"])
def test_adopting_a_new_refresh_token_replaces_a_dead_one_and_keeps_the_cursors(
    runtime: Runtime, sandbox: Sandbox, paused: bool
) -> None:
    company = sandbox.tenant_ids()[0]
    add_disconnected(runtime, sandbox, "acme", company)
    runtime.store.update_tenant("acme", fortnox_tenant_id=str(company))
    runtime.store.commit_cursor("acme", PAGES, "3")
    if paused:
        runtime.store.pause_tenant("acme", "Fortnox said invalid_grant")
    connected, adoption = adopt_connection(runtime, "acme", _seed(sandbox, company))
    assert adoption.seed_used and adoption.replaced_dead and connected.fortnox_tenant_id == str(company)
    assert not runtime.store.require_tenant("acme").paused
    assert runtime.store.load_cursor("acme", PAGES) == "3"  # never `tenants remove` to recover
    result = run_tenant_trigger(runtime, "acme", runtime.catalog.trigger(PAGES), ListSink())
    assert result.ok and not result.paused  # the next run does not pause it again


def test_a_live_connection_is_kept_and_the_seed_not_used(runtime: Runtime, sandbox: Sandbox) -> None:
    company = sandbox.tenant_ids()[0]
    add_connected(runtime, sandbox, "acme", company)
    before = runtime.store.load_token("acme")
    _, adoption = adopt_connection(runtime, "acme", _seed(sandbox, company))
    assert not adoption.seed_used and not adoption.replaced_dead
    assert runtime.store.load_token("acme") == before


def test_the_cli_says_a_dead_connection_was_replaced(sandbox: Sandbox, tmp_path: Path) -> None:
    company = sandbox.tenant_ids()[0]
    env = {
        **sandbox_env(sandbox, tmp_path / "state"),
        "FORTNOX_OAUTH_REFRESH_TOKEN": _seed(sandbox, company).reveal(),
    }
    app = App(env=env, configure_logs=False)
    add_disconnected(app.runtime(), sandbox, "acme", company)
    app.runtime().store.pause_tenant("acme", "Fortnox said invalid_grant")
    runner = CliRunner()
    listed = runner.invoke(cli, ["tenants", "list", "--json"], obj=app, catch_exceptions=False)
    [row] = json.loads(listed.stdout)
    assert row["must_reconnect"] and "fortnox-connector tenants reconnect acme" in row["fix"]
    assert "--adopt-refresh-token" in row["fix"]
    shown = runner.invoke(cli, ["tenants", "show", "acme"], obj=app, catch_exceptions=False)
    assert "must reconnect" in shown.stdout
    app.runtime().store.commit_cursor("acme", "payment_received", "a-cursor")
    adopted = runner.invoke(
        cli,
        ["tenants", "reconnect", "acme", "--adopt-refresh-token", "--json"],
        obj=app,
        catch_exceptions=False,
    )
    assert adopted.exit_code == 0, adopted.stderr
    out = json.loads(adopted.stdout)
    assert out["seed_used"] is True and out["replaced_dead_token"] is True
    assert app.runtime().store.load_cursor("acme", "payment_received") == "a-cursor"
    assert not app.runtime().store.require_tenant("acme").paused
    unknown = runner.invoke(cli, ["tenants", "reconnect", "nobody"], obj=app)
    assert unknown.exit_code == 1 and "nobody" in unknown.stderr  # never adds a tenant


def test_a_failed_connect_of_a_new_tenant_leaves_no_tenant_behind(runtime: Runtime, sandbox: Sandbox) -> None:
    company = sandbox.tenant_ids()[0]
    with pytest.raises(AuthError, match="access_denied"):
        connect(runtime, "newco", open_url=lambda url: approve(url, company=company, allow=False), timeout=5)
    assert runtime.store.get_tenant("newco") is None


def test_a_failed_adopt_of_a_new_tenant_leaves_no_tenant_behind(runtime: Runtime) -> None:
    with pytest.raises(AuthError):
        adopt_connection(runtime, "newco", Secret("not-a-refresh-token-fortnox-knows"))
    assert runtime.store.get_tenant("newco") is None


def test_a_failed_reconnect_of_an_existing_tenant_keeps_it(runtime: Runtime, sandbox: Sandbox) -> None:
    company = sandbox.tenant_ids()[0]
    add_connected(runtime, sandbox, "acme", company)
    with pytest.raises(AuthError):
        connect(runtime, "acme", open_url=lambda url: approve(url, company=company, allow=False), timeout=5)
    assert runtime.store.get_tenant("acme") is not None and runtime.store.load_token("acme") is not None


def test_serve_once_after_a_failed_connect_runs_the_others_unpaused(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    add_connected(runtime, sandbox, "acme", sandbox.tenant_ids()[0])
    add_connected(runtime, sandbox, "beta", sandbox.tenant_ids()[1])
    with pytest.raises(AuthError):
        connect(runtime, "newco", open_url=lambda url: approve(url, allow=False), timeout=5)
    reports = Scheduler(runtime, ListSink, triggers=[PAGES]).run_all()
    assert sorted(r.tenant for r in reports) == ["acme", "beta"]
    assert all(r.ok and not r.paused for r in reports)
    assert not any(t.paused for t in runtime.store.list_tenants())
