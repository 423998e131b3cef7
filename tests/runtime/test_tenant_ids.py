"""Issue 11 item 8: tenant ids are checked; a service account's id is digits and must be the company's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.cli import App, cli
from fortnox_connector.runtime.connect import connect_service_account
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.store.sqlite import SqliteStore
from fortnox_connector.runtime.tenant_ids import check_same_database_number, check_tenant_id
from fortnox_connector.sandbox import Sandbox
from tests.runtime.runtime_support import make_runtime


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "state.db", Fernet.generate_key()) as s:
        yield s


@pytest.mark.parametrize(
    "tenant",
    [
        "",
        "x" * 5000,
        "acme\nINFO tenant=beta forged",
        "acme\r",
        " acme",
        "acme\u2028",
        "ac\x00me",
        "a\u200bb",
    ],
)
def test_a_bad_tenant_id_is_refused_before_anything_is_stored(store: SqliteStore, tenant: str) -> None:
    with pytest.raises(ConfigError) as caught:
        store.add_tenant(tenant, display_name="x", auth_mode="authorization_code")
    assert caught.value.field == "tenant" and caught.value.hint
    assert "\n" not in str(caught.value)  # the refusal cannot forge a log line either
    assert store.list_tenants() == []


@pytest.mark.parametrize("tenant", ["acme", "Acme-AB_2.se", "företag", "100001", "x" * 100])
def test_ordinary_tenant_ids_are_accepted(tenant: str) -> None:
    assert check_tenant_id(tenant) == tenant


@pytest.mark.parametrize("number", ["abc", "-5", "12 34", "0", "1e5", "\u0661\u0662", "1234567890123"])
def test_a_service_account_id_that_is_not_a_database_number_is_refused(
    store: SqliteStore, number: str
) -> None:
    with pytest.raises(ConfigError, match="not a DatabaseNumber") as caught:
        store.add_tenant("svc", display_name="svc", auth_mode="client_credentials", fortnox_tenant_id=number)
    assert caught.value.field == "fortnox_tenant_id"


def test_the_cli_refuses_a_bad_id_in_one_line(tmp_path: Path) -> None:
    env = {"FORTNOX_CONNECTOR_HOME": str(tmp_path), "FORTNOX_CONNECTOR_KEY": Fernet.generate_key().decode()}
    runner = CliRunner()
    app = App(env=env, configure_logs=False)
    result = runner.invoke(cli, ["tenants", "add", "acme\nforged"], obj=app)
    assert result.exit_code == 1 and "control character" in result.stderr and "Fix:" in result.stderr
    result = runner.invoke(
        cli, ["tenants", "add", "svc", "--service-account", "--fortnox-tenant-id", "abc"], obj=app
    )
    assert result.exit_code == 1 and "not a DatabaseNumber" in result.stderr


def test_a_database_number_other_than_the_one_given_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        check_same_database_number("100001", "100002", tenant="svc")
    assert "100001" in str(caught.value) and "100002" in str(caught.value)
    assert "--fortnox-tenant-id 100002" in (caught.value.hint or "")


def test_a_service_account_connect_with_a_bad_id_leaves_no_tenant(sandbox: Sandbox, tmp_path: Path) -> None:
    runtime: Runtime
    with make_runtime(sandbox, tmp_path) as runtime:
        with pytest.raises(ConfigError, match="not a DatabaseNumber"):
            connect_service_account(runtime, "svc", "-5")
        assert runtime.store.get_tenant("svc") is None
        connected = connect_service_account(runtime, "svc", str(sandbox.tenant_ids()[0]))
        assert connected.fortnox_tenant_id == str(sandbox.tenant_ids()[0])
