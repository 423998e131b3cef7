"""``check TENANT`` tells each failure apart, with its fix: a scope the token lacks, a licence the company
lacks, a token of another company, a clock out of step with Fortnox's, a tenant never connected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fortnox_connector.auth.oauth import utc_now
from fortnox_connector.checks import MAX_SKEW_S
from fortnox_connector.contract.state import Token
from fortnox_connector.runtime.check import CheckItem, check_tenant
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.secrets import Secret
from tests.runtime.runtime_support import add_connected, make_runtime


@pytest.fixture
def runtime(sandbox: Sandbox, tmp_path: Path) -> Iterator[Runtime]:
    with make_runtime(sandbox, tmp_path) as rt:
        yield rt


def _by_name(items: list[CheckItem]) -> dict[str, CheckItem]:
    return {i.name: i for i in items}


def _failed(items: list[CheckItem]) -> list[str]:
    return [i.name for i in items if not i.ok]


def test_a_connected_tenant_passes_every_check(runtime: Runtime, sandbox: Sandbox) -> None:
    add_connected(runtime, sandbox, "acme", sandbox.tenant_ids()[0])
    items = check_tenant(runtime, "acme")
    assert _failed(items) == []
    assert [i.name for i in items] == [
        "auth",
        "scope companyinformation",
        "scope invoice",
        "scope payment",
        "scope settings",
        "scope customer",
        "company",
        "clock",
    ]


def test_a_scope_the_token_lacks_fails_with_reconnect_as_the_fix(runtime: Runtime, sandbox: Sandbox) -> None:
    company = sandbox.tenant_ids()[0]
    runtime.store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
    answer = sandbox.issue_token(
        company, ("companyinformation", "invoice", "payment", "customer")
    )  # no settings
    token = Token(
        access_token=Secret(str(answer["access_token"])),
        refresh_token=Secret(str(answer["refresh_token"])),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        scope=frozenset(str(answer["scope"]).split()),
    )
    assert runtime.store.swap_token("acme", None, token)
    items = check_tenant(runtime, "acme")
    assert _failed(items) == ["scope settings"]
    failed = _by_name(items)["scope settings"]
    assert failed.hint is not None and "settings" in failed.hint


def test_a_licence_the_company_lacks_is_told_apart_from_a_scope(runtime: Runtime, sandbox: Sandbox) -> None:
    company = sandbox.tenant_ids()[0]
    add_connected(runtime, sandbox, "acme", company)
    sandbox.set_licences(company, ("companyinformation", "invoice", "settings", "customer"))  # no payment
    items = check_tenant(runtime, "acme")
    assert _failed(items) == ["licence payment"]
    assert _by_name(items)["licence payment"].detail == (
        "the company has no licence (needed by register_payment, get_invoice, export_paid_invoice)"
    )


def test_a_missing_customer_scope_names_the_export_actions_that_need_it(
    runtime: Runtime, sandbox: Sandbox
) -> None:
    company = sandbox.tenant_ids()[0]
    runtime.store.add_tenant("acme", display_name="Acme", auth_mode="authorization_code")
    answer = sandbox.issue_token(company, ("companyinformation", "invoice", "payment", "settings"))
    token = Token(
        access_token=Secret(str(answer["access_token"])),
        refresh_token=Secret(str(answer["refresh_token"])),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
        scope=frozenset(str(answer["scope"]).split()),
    )
    assert runtime.store.swap_token("acme", None, token)
    items = check_tenant(runtime, "acme")
    assert _failed(items) == ["scope customer"]
    failed = _by_name(items)["scope customer"]
    assert failed.detail == "not granted (needed by upsert_customer, export_invoice, export_paid_invoice)"
    assert failed.hint is not None and "'customer'" in failed.hint


def test_a_token_of_another_company_fails_the_company_check(runtime: Runtime, sandbox: Sandbox) -> None:
    add_connected(runtime, sandbox, "acme", sandbox.tenant_ids()[0])
    runtime.store.update_tenant("acme", fortnox_tenant_id=str(sandbox.tenant_ids()[1]))  # recorded at connect
    items = check_tenant(runtime, "acme")
    assert _failed(items) == ["company"]
    assert "reconnect" in (_by_name(items)["company"].hint or "")
    # the fix names the command and the company to pick (connect refuses any other)
    assert "fortnox-connector connect acme" in (_by_name(items)["company"].hint or "")
    assert str(sandbox.tenant_ids()[1]) in (_by_name(items)["company"].hint or "")


@pytest.mark.parametrize("skew", [timedelta(minutes=5), -timedelta(minutes=5)])
def test_a_clock_out_of_step_with_fortnox_fails(runtime: Runtime, sandbox: Sandbox, skew: timedelta) -> None:
    add_connected(runtime, sandbox, "acme", sandbox.tenant_ids()[0])
    runtime.now = lambda: utc_now() + skew  # ours, against the Date header of the API's answer
    items = check_tenant(runtime, "acme")
    assert _failed(items) == ["clock"]
    clock = _by_name(items)["clock"]
    assert abs(skew.total_seconds()) > MAX_SKEW_S
    measured = float(clock.detail.split()[2])  # "ours is -299 s from Fortnox's": Date has whole seconds
    assert abs(measured - skew.total_seconds()) <= 2
    assert clock.hint is not None and "NTP" in clock.hint


def test_a_small_skew_passes(runtime: Runtime, sandbox: Sandbox) -> None:
    add_connected(runtime, sandbox, "acme", sandbox.tenant_ids()[0])
    runtime.now = lambda: utc_now() + timedelta(seconds=20)
    assert _failed(check_tenant(runtime, "acme")) == []


def test_a_tenant_never_connected_stops_at_auth(runtime: Runtime) -> None:
    runtime.store.add_tenant("new", display_name="New", auth_mode="authorization_code")
    items = check_tenant(runtime, "new")
    assert [i.name for i in items] == ["auth"] and not items[0].ok
    assert "connect new" in (items[0].hint or "")


def test_a_paused_tenant_is_told_the_command_that_resumes_it(runtime: Runtime, sandbox: Sandbox) -> None:
    add_connected(runtime, sandbox, "acme", sandbox.tenant_ids()[0])
    runtime.store.pause_tenant("acme", "Fortnox refused the refresh token")
    paused = _by_name(check_tenant(runtime, "acme"))["paused"]
    assert not paused.ok and "refresh token" in paused.detail
    assert "fortnox-connector connect acme" in (paused.hint or "")
