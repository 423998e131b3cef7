"""Pure parts: money rounding, input checks, fingerprints (no client)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.inputs import fingerprint, read_payment_request
from fortnox_connector.actions.money import company_amount, parse_decimal, to_ore
from fortnox_connector.declaration.config import TenantConfig
from tests.actions.support import CONFIG

BASE: dict[str, Any] = {
    "invoice": {"document_number": "5"},
    "amount": "10.00",
    "currency": "sek",
    "payment_date": "2026-03-01",
    "idempotency_key": "k",
}


def test_rounding_is_half_up_to_the_ore() -> None:
    assert to_ore(Decimal("0.505")) == Decimal("0.51")  # banker's rounding would give 0.50
    assert to_ore(Decimal("-0.505")) == Decimal("-0.51")
    assert company_amount(Decimal("0.50"), Decimal("1.01"), Decimal(1)) == Decimal("0.51")
    assert company_amount(Decimal("100.00"), Decimal("1250.5"), Decimal(100)) == Decimal(
        "1250.50"
    )  # JPY-style unit


def test_decimals_never_from_floats() -> None:
    assert parse_decimal("12.30") == Decimal("12.30")
    assert parse_decimal(12.3) is None and parse_decimal(True) is None
    assert parse_decimal("NaN") is None and parse_decimal("abc") is None


def test_defaults_come_from_the_tenant_config() -> None:
    req = read_payment_request(BASE, CONFIG, "t1")
    assert (req.mode_of_payment, req.mode_of_payment_account) == ("BG", 1930)
    assert req.bookkeep is True and req.allow_overpayment is False and req.currency == "SEK"
    own = read_payment_request(
        {**BASE, "bookkeep": False, "mode_of_payment": "PG", "mode_of_payment_account": "1920"},
        TenantConfig(allow_overpayment=True),
        "t1",
    )
    assert own.bookkeep is False and own.allow_overpayment is True
    assert (own.mode_of_payment, own.mode_of_payment_account) == ("PG", 1920)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "-1"},
        {"amount": "1.001"},
        {"amount": 1.5},
        {"currency": "kronor"},
        {"currency_rate": "0"},
        {"payment_date": "1 March"},
        {"idempotency_key": " "},
        {"mode_of_payment_account": 42},
        {"bookkeep": "yes"},
    ],
)
def test_bad_inputs_are_rejected_naming_the_field(change: dict[str, Any]) -> None:
    with pytest.raises(ActionRejected) as info:
        read_payment_request({**BASE, **change}, CONFIG, "t1")
    assert next(iter(change)) in str(info.value) and info.value.tenant == "t1"


def test_fingerprint_ignores_the_key_and_number_spelling() -> None:
    assert fingerprint(BASE) == fingerprint({**BASE, "amount": "10", "idempotency_key": "other"})
    assert fingerprint(BASE) != fingerprint({**BASE, "amount": "10.01"})
    assert fingerprint(BASE) != fingerprint({**BASE, "invoice": {"document_number": "6"}})
