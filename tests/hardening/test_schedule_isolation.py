"""Issue 11 item 1: one tenant's impossible schedule never stops the scheduler for the others."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fortnox_connector.declaration.config import parse_config
from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.scheduler import Scheduler
from fortnox_connector.sandbox import Sandbox
from tests.runtime.runtime_support import PAGES, FakeClock, ListSink, add_connected, make_runtime

STHLM = ZoneInfo("Europe/Stockholm")
T0 = datetime(2026, 3, 2, 23, 30, tzinfo=STHLM)


@pytest.fixture
def runtime(sandbox: Sandbox, tmp_path: Path) -> Iterator[Runtime]:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=STHLM))
    with make_runtime(sandbox, tmp_path, store_now=clock) as rt:
        add_connected(rt, sandbox, "acme", sandbox.tenant_ids()[0])
        add_connected(rt, sandbox, "feb30", sandbox.tenant_ids()[1])
        yield rt


@pytest.mark.parametrize("schedule", ["0 23 30 2 *", "0 0 31 4,6,9,11 *", "0 23 * * * * *", "61 23 * * *"])
def test_a_schedule_that_never_fires_or_is_not_five_fields_is_refused_when_set(schedule: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"schedule": schedule}, tenant="acme")
    assert caught.value.field == "schedule" and caught.value.hint
    assert "tenant acme" in str(caught.value) and schedule in str(caught.value)


def test_a_schedule_that_fires_rarely_is_accepted() -> None:
    assert parse_config({"schedule": "0 0 29 2 *"}).schedule == "0 0 29 2 *"  # leap days only


def test_a_stored_impossible_schedule_is_reported_for_its_tenant_and_the_others_run(runtime: Runtime) -> None:
    runtime.store.save_config("feb30", {"schedule": "0 23 30 2 *"})  # stored before the check existed
    scheduler = Scheduler(runtime, ListSink, triggers=[PAGES], clock=lambda: T0)
    reports = {r.tenant: r for r in scheduler.run_due()}
    assert reports["acme"].ok and reports["acme"].results[0].summary.events == 20
    error = reports["feb30"].error
    assert error is not None and error.tenant == "feb30" and "schedule" in str(error) and error.hint
    assert scheduler.next_wakeup(T0) >= T0  # the loop still finds its next wake-up


def test_serve_due_with_an_impossible_schedule_exits_cleanly_and_runs_the_others(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from fortnox_connector.runtime.cli import App, cli
    from fortnox_connector.runtime.context import open_store
    from tests.runtime.runtime_support import sandbox_env, settings_for

    env = sandbox_env(sandbox, tmp_path / "state")
    with open_store(settings_for(sandbox, tmp_path / "state"), env) as store:
        for tenant in ("acme", "feb30"):
            store.add_tenant(tenant, display_name=tenant, auth_mode="authorization_code")
        store.save_config("feb30", {"schedule": "0 23 30 2 *"})
    app = App(env=env, configure_logs=False)
    result = CliRunner().invoke(cli, ["serve", "--due", "--json"], obj=app, catch_exceptions=False)
    assert result.exit_code == 1  # catch_exceptions=False: a traceback would have raised here
    # The stdout sink's events own stdout, so the report is stderr's last line; acme is not due yet.
    [report] = json.loads(result.stderr.strip().splitlines()[-1])
    assert report["tenant"] == "feb30" and "never fires" in report["error"] and "Fix:" in report["error"]
