"""Issue 11 items 2 and 5: input is checked by its schema, then parsed strictly; nothing unasked is booked."""

from __future__ import annotations

from typing import Any

import pytest

from fortnox_connector.actions import get_invoice, register_payment
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.inputs import read_payment_request
from fortnox_connector.context import TenantContext
from fortnox_connector.declaration.config import parse_config
from fortnox_connector.errors import ConfigError
from fortnox_connector.sandbox import Sandbox
from tests.actions.support import CONFIG, Recorder
from tests.actions.test_register_payment import add, pay, payments_of


def test_a_misspelled_bookkeep_is_refused_and_nothing_is_posted(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant)
    with pytest.raises(ActionRejected) as caught:
        register_payment.run(ctx, pay(bookeep=False))  # once dropped silently: the payment was booked
    assert "bookeep" in str(caught.value) and "bookkeep" in (caught.value.hint or "")
    assert recorder.posts() == 0 and payments_of(sandbox, sandbox_tenant) == []


def test_a_misspelled_account_key_never_falls_back_to_the_default_account(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant)
    with pytest.raises(ActionRejected, match="mode_of_payment_acount: is not a known field"):
        register_payment.run(ctx, pay(mode_of_payment_acount="1920"))
    assert recorder.posts() == 0


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "1E+1"},
        {"amount": "1_0"},
        {"amount": "\u0661\u0660"},  # Arabic-Indic digits: Decimal() reads them as 10
        {"amount": "1e-2"},
        {"amount": "1e30"},
        {"amount": "9" * 5000},
        {"amount": 10**30},
        {"amount": "0.00"},
        {"amount": "999999999999.99" + "9"},
        {"payment_date": "20261125"},
        {"payment_date": "2026-W48-3"},
        {"payment_date": "9999-12-31"},
        {"payment_date": "2026-02-30"},
        {"currency_rate": "1e-10"},
        {"currency_rate": "Infinity"},
        {"idempotency_key": "retry\nINFO forged log line"},
        {"idempotency_key": "k" * 201},
        {"invoice": {"document_number": "5", "ocr_number": "5"}},
        {"invoice": {"document_number": "five"}},
        {"mode_of_payment": "BG\r\n"},
    ],
)
def test_what_the_schema_or_the_bounds_refuse_is_a_clear_rejection(change: dict[str, Any]) -> None:
    field = next(iter(change))
    with pytest.raises(ActionRejected) as caught:
        read_payment_request({**pay(), **change}, CONFIG, "t1")
    assert field in str(caught.value) and caught.value.tenant == "t1" and caught.value.hint


def test_a_rate_far_from_the_invoices_is_refused_before_any_post(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.50", Total="100.00")
    for rate in ("0.0000000001", "1.15", "30"):  # 1e-10 once booked 0.00 SEK for 10.00 EUR
        with pytest.raises(ActionRejected, match=r"currency_rate.*away from the invoice's rate"):
            register_payment.run(ctx, pay(amount="10.00", currency="EUR", currency_rate=rate, key=rate))
    assert recorder.posts() == 0
    out = register_payment.run(ctx, pay(amount="10.00", currency="EUR", currency_rate="12.00", key="ok"))
    assert out["amount"] == "120.00"


def test_the_rate_band_is_the_tenants_to_set() -> None:
    assert parse_config({}).currency_rate_band_percent == 50
    assert parse_config({"currency_rate_band_percent": 200}).currency_rate_band_percent == 200
    with pytest.raises(ConfigError, match="currency_rate_band_percent"):
        parse_config({"currency_rate_band_percent": 0})


def test_get_invoice_refuses_unknown_keys(ctx: TenantContext, recorder: Recorder) -> None:
    with pytest.raises(ActionRejected, match="documentnumber: is not a known field"):
        get_invoice.run(ctx, {"invoice": {"documentnumber": "1"}})
    with pytest.raises(ActionRejected, match="include: is not a known field"):
        get_invoice.run(ctx, {"invoice": {"document_number": "1"}, "include": "all"})
    assert recorder.calls == []
