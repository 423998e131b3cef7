"""``PAN_CFG_*`` strings become a typed config by ``schemas/config.json``: every type, blanks, case,
Pandium's dynamic-config placeholders, and refusals that name the setting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.runtime.pandium import EXIT_CONFIG, EXIT_OK
from fortnox_connector.runtime.pandium.config import PLACEHOLDERS
from fortnox_connector.sandbox import Sandbox
from tests.pandium.helpers import FakeSource, pandium_env, run_pandium, specs

Token = Callable[..., str]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(sandbox: Sandbox, sandbox_token: Token) -> dict[str, str]:
    base = pandium_env(sandbox, sandbox_token())
    return {k: v for k, v in base.items() if not k.startswith("PAN_CFG_") or k == "PAN_CFG_EVENT_DELIVERY"}


def _config(env: dict[str, str]) -> Any:
    source = FakeSource("payment_received", [1])
    result = run_pandium(env, triggers=specs(source))
    assert result.code == EXIT_OK, result.stderr
    return source.configs[0]


def test_every_setting_type_is_coerced_from_its_string(env: dict[str, str]) -> None:
    env.update(
        PAN_CFG_BACKFILL_DAYS=" 14 ",
        PAN_CFG_IGNORE_PAYMENTS_BEFORE="2026-01-01",
        PAN_CFG_IGNORE_INVOICE_NUMBERS_BELOW="1000",
        PAN_CFG_EMIT_UNBOOKED_PAYMENTS="True",  # as a form or a Python-minded operator writes it
        PAN_CFG_LASTMODIFIED_OVERLAP_MINUTES="120",
        PAN_CFG_DEFAULT_MODE_OF_PAYMENT="BG",
        PAN_CFG_DEFAULT_MODE_OF_PAYMENT_ACCOUNT="1930",
        PAN_CFG_BOOKKEEP_PAYMENTS="no",
        PAN_CFG_ALLOW_OVERPAYMENT="1",
    )
    assert _config(env) == TenantConfig(
        backfill_days=14,
        ignore_payments_before=date(2026, 1, 1),
        ignore_invoice_numbers_below=1000,
        emit_unbooked_payments=True,
        lastmodified_overlap_minutes=120,
        default_mode_of_payment="BG",
        default_mode_of_payment_account=1930,
        bookkeep_payments=False,
        allow_overpayment=True,
    )


def test_blank_or_absent_settings_take_the_defaults(env: dict[str, str]) -> None:
    env.update(
        PAN_CFG_BACKFILL_DAYS="",
        PAN_CFG_IGNORE_PAYMENTS_BEFORE="  ",
        PAN_CFG_EMIT_UNBOOKED_PAYMENTS="",
        PAN_CFG_DEFAULT_MODE_OF_PAYMENT_ACCOUNT="",
    )
    assert _config(env) == TenantConfig()


def test_the_dynamic_placeholders_saved_before_an_init_run_mean_not_chosen(env: dict[str, str]) -> None:
    env.update(PAN_CFG_DEFAULT_MODE_OF_PAYMENT="placeholder", PAN_CFG_DEFAULT_MODE_OF_PAYMENT_ACCOUNT="0")
    config = _config(env)
    assert config.default_mode_of_payment is None and config.default_mode_of_payment_account is None


def test_the_placeholders_are_the_ones_pandium_yaml_declares() -> None:
    manifest = yaml.safe_load((ROOT / "PANDIUM.yaml").read_text(encoding="utf-8"))
    properties = manifest["configs"]["schema"]["properties"]
    definitions = manifest["configs"]["schema"]["definitions"]
    for setting, placeholder in PLACEHOLDERS.items():
        ref = properties[setting]["$ref"].rsplit("/", 1)[1]
        consts = [str(choice["const"]) for choice in definitions[ref]["oneOf"]]
        assert consts == [placeholder], setting


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("PAN_CFG_BACKFILL_DAYS", "30.5"),
        ("PAN_CFG_BACKFILL_DAYS", "-1"),
        ("PAN_CFG_IGNORE_PAYMENTS_BEFORE", "2026-13-01"),
        ("PAN_CFG_EMIT_UNBOOKED_PAYMENTS", "maybe"),
        ("PAN_CFG_DEFAULT_MODE_OF_PAYMENT_ACCOUNT", "42"),
        ("PAN_CFG_NO_SUCH_SETTING", "1"),
    ],
)
def test_a_bad_setting_exits_2_naming_it_and_the_fix(env: dict[str, str], setting: str, value: str) -> None:
    env[setting] = value
    source = FakeSource("payment_received", [1])
    result = run_pandium(env, triggers=specs(source))
    assert result.code == EXIT_CONFIG
    assert result.stdout == "" and source.polls == 0
    assert setting.removeprefix("PAN_CFG_").lower() in result.stderr
    assert "Fix:" in result.stderr


@pytest.mark.parametrize("variable", ["FORTNOX_CONNECTOR_LOG_LEVEL", "FORTNOX_LOG_LEVEL"])
def test_an_unknown_log_level_exits_2_naming_it_and_the_fix(env: dict[str, str], variable: str) -> None:
    env[variable] = "chatty"
    source = FakeSource("payment_received", [1])
    result = run_pandium(env, triggers=specs(source))
    assert result.code == EXIT_CONFIG
    assert result.stdout == "" and source.polls == 0
    assert f"{variable}=" in result.stderr and "Fix:" in result.stderr
    assert f"tenant={env['PAN_CTX_TENANT_ID']}" in result.stderr
