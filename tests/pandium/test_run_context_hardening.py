"""Issue 11 item 9 (Pandium): no tenant id is a config error; a lost metadata file is said aloud."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fortnox_connector.runtime.pandium import EXIT_CONFIG, EXIT_OK
from fortnox_connector.sandbox import Sandbox
from tests.pandium.helpers import FakeSource, pandium_env, run_pandium, specs

Token = Callable[..., str]


@pytest.fixture
def env(sandbox: Sandbox, sandbox_token: Token) -> dict[str, str]:
    return pandium_env(sandbox, sandbox_token())


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_run_without_a_tenant_id_exits_2_and_never_shares_a_made_up_tenant(
    env: dict[str, str], value: str | None
) -> None:
    if value is None:
        del env["PAN_CTX_TENANT_ID"]
    else:
        env["PAN_CTX_TENANT_ID"] = value
    source = FakeSource("payment_received", [1])
    result = run_pandium(env, triggers=specs(source))
    assert result.code == EXIT_CONFIG and result.stdout == "" and source.polls == 0
    assert "PAN_CTX_TENANT_ID is not set" in result.stderr and "Fix:" in result.stderr
    assert "pandium-tenant" not in result.stderr


def test_a_tenant_id_with_a_newline_exits_2(env: dict[str, str]) -> None:
    env["PAN_CTX_TENANT_ID"] = "4711\nERROR tenant=other forged"
    result = run_pandium(env, triggers=specs(FakeSource("payment_received", [1])))
    assert result.code == EXIT_CONFIG and "control character" in result.stderr


def test_a_missing_metadata_file_warns_before_the_run_backfills(env: dict[str, str], tmp_path: Path) -> None:
    env["PAN_CTX_TENANT_METADATA_FILE"] = str(tmp_path / "gone" / "metadata.json")
    result = run_pandium(env, triggers=specs(FakeSource("payment_received", [1])))
    assert result.code == EXIT_OK
    assert "metadata.json" in result.stderr and "does not exist" in result.stderr
    assert "backfill window" in result.stderr
