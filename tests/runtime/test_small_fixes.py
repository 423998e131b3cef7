"""Issue 11 item 9 (runtime): history after a failed run, pause reasons, check's auth, no doubled words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fortnox_connector.contract.state import Token
from fortnox_connector.runtime.check import check_tenant
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.jobs import run_tenant_trigger
from fortnox_connector.runtime.report import tenant_run_json
from fortnox_connector.runtime.scheduler import Scheduler
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret
from tests.runtime.runtime_support import PAGES, ListSink, add_connected, add_disconnected, make_runtime


@pytest.fixture
def runtime(sandbox: Sandbox, tmp_path: Path) -> Iterator[Runtime]:
    with make_runtime(sandbox, tmp_path) as rt:
        yield rt


def _doubled(text: str) -> bool:
    return text.count("Fix:") > 1 or "not polled: not polled" in text or text.count("tenant acme:") > 1


def test_run_history_keeps_the_figures_of_a_run_whose_delivery_failed(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    add_connected(runtime, sandbox, "acme", sandbox.tenant_ids()[0])
    result = run_tenant_trigger(runtime, "acme", runtime.catalog.trigger(PAGES), ListSink(fail_on=2))
    assert result.error is not None and result.summary.pages == 2 and result.summary.events == 10
    [run] = runtime.store.list_runs("acme")
    assert run.summary is not None
    assert (run.summary["pages"], run.summary["events"], run.summary["delivered"]) == (2, 10, 5)
    assert run.summary["requests"] >= 2


def test_serve_json_gives_the_reason_of_a_tenant_paused_in_that_run(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    add_disconnected(runtime, sandbox, "acme", sandbox.tenant_ids()[0])
    [report] = Scheduler(runtime, ListSink, triggers=[PAGES]).run_all()
    shown = tenant_run_json(report)
    assert shown["paused"] is True and shown["paused_reason"]
    assert "invalid_grant" in shown["paused_reason"] or "refresh" in shown["paused_reason"]
    stored = runtime.store.require_tenant("acme").paused_reason or ""
    assert "Fix:" not in stored and not stored.startswith("tenant ")  # the reason alone
    [again] = Scheduler(runtime, ListSink, triggers=[PAGES]).run_all()  # paused before this run
    assert tenant_run_json(again)["paused_reason"] == stored
    skipped = run_tenant_trigger(runtime, "acme", runtime.catalog.trigger(PAGES), ListSink())
    assert skipped.skipped and not _doubled(str(skipped.error))


def test_check_never_says_auth_ok_when_the_refresh_gets_invalid_grant(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    runtime.store.add_tenant("acme", display_name="acme", auth_mode="authorization_code")
    token = Token(  # locally still valid, but Fortnox knows neither token
        access_token=Secret("revoked-access-token"),
        refresh_token=Secret("revoked-refresh-token"),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        scope=frozenset({"invoice", "payment", "companyinformation", "settings"}),
    )
    assert runtime.store.swap_token("acme", None, token)
    items = check_tenant(runtime, "acme")
    auth = [i for i in items if i.name == "auth"]
    assert len(auth) == 1 and not auth[0].ok and auth[0].hint
    assert not any(i.name.startswith("scope") for i in items)  # no "auth ok" beside scopes failing on it
