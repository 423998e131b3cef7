"""parse_config: defaults, env-string coercion by the schema's types, errors naming field and tenant."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from fortnox_connector.declaration import TenantConfig, load_schema, parse_config
from fortnox_connector.errors import ConfigError


def test_defaults_and_schema_agree_with_tenant_config() -> None:
    properties = load_schema("config.json")["properties"]
    fields = {f.name: f.default for f in dataclasses.fields(TenantConfig)}
    assert set(properties) == set(fields)
    assert {name: spec.get("default") for name, spec in properties.items()} == fields
    assert parse_config({}) == TenantConfig()


def test_json_values() -> None:
    config = parse_config(
        {
            "backfill_days": 7,
            "ignore_payments_before": "2026-01-01",
            "default_mode_of_payment": "BG",
            "default_mode_of_payment_account": 1930,
            "emit_unbooked_payments": True,
            "schedule": "*/30 6-18 * * 1-5",
            "timezone": "UTC",
        },
        tenant="acme",
    )
    assert config.backfill_days == 7 and config.ignore_payments_before == date(2026, 1, 1)
    assert config.default_mode_of_payment_account == 1930 and config.emit_unbooked_payments is True
    assert config.schedule == "*/30 6-18 * * 1-5" and config.timezone == "UTC"
    assert parse_config({"ignore_payments_before": date(2026, 2, 1)}).ignore_payments_before == date(
        2026, 2, 1
    )


def test_env_strings_are_coerced_by_the_schema_types() -> None:
    config = parse_config(
        {
            "BACKFILL_DAYS": " 14 ",
            "ignore_payments_before": "2026-02-01",
            "Ignore_Invoice_Numbers_Below": "1000",
            "emit_unbooked_payments": "yes",
            "bookkeep_payments": "false",
            "allow_overpayment": "1",
            "default_mode_of_payment": "BG",
            "default_mode_of_payment_account": "",  # empty: not set
            "lastmodified_overlap_minutes": "",
        },
        tenant="acme",
        from_strings=True,
    )
    assert config == TenantConfig(
        backfill_days=14,
        ignore_payments_before=date(2026, 2, 1),
        ignore_invoice_numbers_below=1000,
        emit_unbooked_payments=True,
        bookkeep_payments=False,
        allow_overpayment=True,
        default_mode_of_payment="BG",
    )


@pytest.mark.parametrize(
    ("data", "from_strings", "field", "reason"),
    [
        ({"backfill_days": "ten"}, True, "backfill_days", "'ten' is not a whole number"),
        ({"bookkeep_payments": "maybe"}, True, "bookkeep_payments", "'maybe' is not true or false"),
        ({"ignore_payments_before": "2026-13-01"}, True, "ignore_payments_before", "2026-13-01"),
        ({"backfill_days": -1}, False, "backfill_days", "less than the minimum of 0"),
        ({"backfill_days": "30"}, False, "backfill_days", "is not of type 'integer'"),
        ({"default_mode_of_payment_account": 42}, False, "default_mode_of_payment_account", "42"),
        ({"backfil_days": 3}, False, "backfil_days", "is not a known field"),
        ({"schedule": "every night"}, False, "schedule", "is not in the expected form"),
        ({"schedule": "0 24 * * *"}, False, "schedule", "is not a cron expression"),
        ({"timezone": "Mars/Olympus"}, False, "timezone", "is not a known timezone"),
    ],
)
def test_errors_name_the_field_the_tenant_and_the_fix(
    data: dict[str, Any], from_strings: bool, field: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data, tenant="acme", from_strings=from_strings)
    assert err.value.field == field and err.value.tenant == "acme"
    message = str(err.value)
    assert message.startswith("tenant acme: ") and reason in message, message
    assert err.value.hint and "Fix: " in message


def test_a_config_that_is_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match="must be a mapping") as err:
        parse_config(["backfill_days"], tenant="acme")  # type: ignore[arg-type]
    assert err.value.tenant == "acme"


def test_whole_floats_for_integer_settings_become_ints() -> None:
    """JSON Schema counts 30.0 as an integer; the config must hold ints, e.g. for a bookkeeping account."""
    config = parse_config({"backfill_days": 30.0, "default_mode_of_payment_account": 1930.0})
    assert config.backfill_days == 30 and type(config.backfill_days) is int
    assert type(config.default_mode_of_payment_account) is int
