"""register_payment settling in full: write-offs, the tolerance, currency differences, the day's rate.

Against the sandbox, which keeps the balance and the voucher each payment books (``Sandbox.voucher``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from fortnox_connector.actions import get_invoice, register_payment
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.context import TenantContext
from fortnox_connector.contract.state import MemoryStateStore
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.errors import ConfigError
from fortnox_connector.fortnox.errors import MissingScope
from fortnox_connector.sandbox import Sandbox
from tests.actions.support import CONFIG, Recorder, make_client, make_ctx
from tests.actions.test_register_payment import DOC, add, pay, payments_of
from tests.sandbox.test_schema import check

TOLERANT = replace(CONFIG, payment_tolerance_amount=Decimal("10.00"), payment_tolerance_account=6570)
D0 = Decimal(0)


def with_config(ctx: TenantContext, config: TenantConfig) -> TenantContext:
    return make_ctx(ctx.client, MemoryStateStore(), ctx.tenant, config)


def balance(sandbox: Sandbox, tenant: int) -> Decimal:
    return Decimal(str(sandbox.invoice(tenant, DOC)["Balance"]))


def voucher(sandbox: Sandbox, tenant: int, number: str) -> dict[int, tuple[Decimal, Decimal]]:
    rows = sandbox.voucher(tenant, number)
    assert sum(d for _a, d, _c in rows) == sum(c for _a, _d, c in rows)  # every voucher balances
    return {account: (debit, credit) for account, debit, credit in rows}


def test_a_bank_fee_short_payment_within_tolerance_pays_in_full(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Total="10000.00")
    out = register_payment.run(with_config(ctx, TOLERANT), pay(amount="9995.00"))
    assert out["invoice_balance_after"] == "0.00" and out["amount"] == "9995.00"
    assert out["write_offs"] == [
        {"account": 6570, "amount": "5.00", "currency": "SEK", "description": "Differens inom tolerans",
         "kind": "tolerance"}
    ]  # fmt: skip
    assert balance(sandbox, sandbox_tenant) == 0
    rows = voucher(sandbox, sandbox_tenant, out["payment_number"])
    assert rows == {
        1930: (Decimal("9995.00"), D0),
        1510: (D0, Decimal("10000.00")),
        6570: (Decimal("5.00"), D0),
    }


def test_over_the_tolerance_is_refused_naming_the_difference_and_nothing_is_written(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant, Total="10000.00")
    strict = with_config(ctx, replace(TOLERANT, payment_tolerance_amount=Decimal("2.00")))
    with pytest.raises(ActionRejected, match=r"5\.00 SEK short of the balance 10000\.00 SEK") as info:
        register_payment.run(strict, pay(amount="9995.00", settle_in_full=True))
    assert "tolerance (2.00 SEK)" in info.value.message and "nothing was written" in info.value.message
    assert recorder.posts() == 0 and payments_of(sandbox, sandbox_tenant) == []
    partial = register_payment.run(strict, pay(amount="9995.00", key="partial"))  # not closing: partial
    assert partial["write_offs"] == [] and partial["invoice_balance_after"] == "5.00"


def test_both_limits_apply_when_both_are_set(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Total="1000.00")
    both = with_config(ctx, replace(TOLERANT, payment_tolerance_percent=Decimal("0.1")))  # 10 SEK and 1.00
    with pytest.raises(ActionRejected, match=r"2\.00 SEK short.*10\.00 SEK and 0\.1 % of the balance"):
        register_payment.run(both, pay(amount="998.00", settle_in_full=True))
    out = register_payment.run(both, pay(amount="999.00", settle_in_full=True, key="k2"))
    assert out["invoice_balance_after"] == "0.00"


def test_a_rounded_overpayment_within_tolerance_is_written_back(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Total="1000.00")
    out = register_payment.run(with_config(ctx, TOLERANT), pay(amount="1000.40"))
    assert [w["amount"] for w in out["write_offs"]] == ["-0.40"]
    assert balance(sandbox, sandbox_tenant) == 0
    assert voucher(sandbox, sandbox_tenant, out["payment_number"])[6570] == (D0, Decimal("0.40"))


def test_explicit_write_offs_settle_with_their_account_cost_centre_and_project(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant, Total="1000.00")
    bodies: list[Any] = []
    recorder.before = lambda r: bodies.append(json.loads(r.content)) if r.method == "POST" else None
    fee = {
        "account": 6570,
        "amount": "60.00",
        "description": "Bankavgift",
        "cost_center": "CC1",
        "project": "P7",
    }
    out = register_payment.run(
        ctx, pay(amount="900.00", write_offs=[fee, {"account": "3740", "amount": "40"}])
    )
    assert out["invoice_balance_after"] == "0.00" and balance(sandbox, sandbox_tenant) == 0
    [body] = bodies
    check("fortnox_Kf_InvoicePaymentSinglePayloadItem_Wrap", body)
    assert body["InvoicePayment"]["WriteOffs"][0] == {
        "AccountNumber": 6570, "Amount": 60, "Currency": "SEK", "Description": "Bankavgift",
        "CostCenter": "CC1", "Project": "P7",
    }  # fmt: skip
    [stored] = payments_of(sandbox, sandbox_tenant)
    assert [w["AccountNumber"] for w in stored["WriteOffs"]] == [6570, 3740]


def test_write_offs_beyond_the_balance_are_refused(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant, Total="1000.00")
    with pytest.raises(ActionRejected, match=r"above the invoice's balance.*50\.00 SEK over"):
        register_payment.run(ctx, pay(amount="1000.00", write_offs=[{"account": 6570, "amount": "50.00"}]))
    assert recorder.posts() == 0


def test_a_tolerance_without_an_account_is_a_config_error(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Total="1000.00")
    with pytest.raises(ConfigError, match="no account") as info:
        register_payment.run(
            with_config(ctx, replace(TOLERANT, payment_tolerance_account=None)), pay(amount="999")
        )
    assert info.value.field == "payment_tolerance_account"


def test_a_eur_invoice_paid_at_another_days_rate_ends_at_zero_with_the_gain_booked(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.00", Total="100.00")
    out = register_payment.run(ctx, pay(amount="100.00", currency="EUR", currency_rate="11.5"))
    assert (
        out["amount"] == "1150.00" and out["currency_difference"] == "50.00" and out["rate_source"] == "input"
    )
    assert out["write_offs"] == [
        {"account": 3960, "amount": "-50.00", "currency": "SEK", "description": "Valutakursvinst",
         "kind": "currency_difference"}
    ]  # fmt: skip
    assert balance(sandbox, sandbox_tenant) == 0
    rows = voucher(sandbox, sandbox_tenant, out["payment_number"])
    assert rows == {
        1930: (Decimal("1150.00"), D0),
        1510: (D0, Decimal("1100.00")),
        3960: (D0, Decimal("50.00")),
    }


def test_the_sek_the_bank_booked_gives_the_rate_and_a_loss(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.00", Total="100.00")
    losses = with_config(ctx, replace(CONFIG, currency_loss_account=7961))
    out = register_payment.run(
        losses, pay(amount="100.00", currency="EUR", amount_company_currency="1080.37")
    )
    assert out["amount"] == "1080.37" and out["currency_rate"] == "10.803700" and out["rate_source"] == "bank"
    assert out["currency_difference"] == "-19.63"
    assert balance(sandbox, sandbox_tenant) == 0
    rows = voucher(sandbox, sandbox_tenant, out["payment_number"])
    assert rows[7961] == (Decimal("19.63"), D0) and rows[1510] == (D0, Decimal("1100.00"))


def test_left_to_fortnox_the_difference_lands_on_the_companys_accounts(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.00", Total="100.00")
    bodies: list[Any] = []
    recorder.before = lambda r: bodies.append(json.loads(r.content)) if r.method == "POST" else None
    fortnox = with_config(ctx, replace(CONFIG, currency_difference_booking="fortnox"))
    out = register_payment.run(fortnox, pay(amount="100.00", currency="EUR", currency_rate="11.5"))
    assert out["write_offs"] == [] and out["currency_difference"] == "50.00"
    assert "WriteOffs" not in bodies[0]["InvoicePayment"]
    assert voucher(sandbox, sandbox_tenant, out["payment_number"])[3960] == (D0, Decimal("50.00"))


def test_a_eur_write_off_and_the_currency_difference_together(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.00", Total="100.00")
    out = register_payment.run(
        with_config(ctx, TOLERANT), pay(amount="99.50", currency="EUR", currency_rate="10.80")
    )  # 0.50 EUR short = 5.40 SEK at the day's rate: within 10 SEK
    assert [(w["account"], w["amount"], w["currency"]) for w in out["write_offs"]] == [
        (6570, "0.50", "EUR"),
        (7960, "19.90", "SEK"),  # 99.50 EUR at 10.80 = 1074.60 SEK, invoiced at 1094.50
    ]
    assert balance(sandbox, sandbox_tenant) == 0
    rows = voucher(sandbox, sandbox_tenant, out["payment_number"])
    assert rows[1510] == (D0, Decimal("1100.00")) and rows[6570] == (Decimal("5.50"), D0)
    assert rows[7960] == (Decimal("19.90"), D0) and 3960 not in rows


@pytest.fixture
def day_rates(sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder) -> Any:
    token = str(sandbox.issue_token(sandbox_tenant, ("invoice", "payment", "currency"))["access_token"])
    with make_client(sandbox.base_url, token, str(sandbox_tenant), recorder) as client:
        yield make_ctx(
            client, MemoryStateStore(), str(sandbox_tenant), replace(CONFIG, default_currency_rate="fortnox")
        )


def test_fortnox_rate_of_the_payment_day(
    day_rates: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.00", Total="100.00")
    sandbox.set_currency_rate(sandbox_tenant, "EUR", "11.75", day=date(2026, 2, 27))  # a Friday
    out = register_payment.run(day_rates, pay(amount="100.00", currency="EUR", payment_date="2026-03-01"))
    assert (
        out["rate_source"] == "fortnox"
        and out["amount"] == "1175.00"
        and out["currency_difference"] == "75.00"
    )
    assert balance(sandbox, sandbox_tenant) == 0


def test_a_stale_fortnox_rate_is_refused(
    day_rates: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.00", Total="100.00")
    sandbox.set_currency_rate(sandbox_tenant, "EUR", "11.75", day=date(2026, 2, 20))
    with pytest.raises(ActionRejected, match=r"EUR rate is of 2026-02-20, not of the payment day 2026-03-01"):
        register_payment.run(day_rates, pay(amount="100.00", currency="EUR", payment_date="2026-03-01"))
    assert recorder.posts() == 0


def test_fortnox_rate_without_the_currency_scope_says_what_to_grant(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.00", Total="100.00")
    wants = with_config(ctx, replace(CONFIG, default_currency_rate="fortnox"))
    with pytest.raises(MissingScope) as info:
        register_payment.run(wants, pay(amount="100.00", currency="EUR"))
    assert "'currency'" in (info.value.hint or "") and "currency_rate" in (info.value.hint or "")


def test_a_lost_answer_after_a_payment_with_write_offs_is_recognised_not_reposted(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant, Total="10000.00")
    tolerant = with_config(ctx, TOLERANT)
    sandbox.inject_fault("drop_response", count=1, path_prefix="/3/invoicepayments", method="POST")
    out = register_payment.run(tolerant, pay(amount="9995.00"))
    [stored] = payments_of(sandbox, sandbox_tenant)
    assert out["payment_number"] == str(stored["Number"]) and recorder.posts() == 1
    assert balance(sandbox, sandbox_tenant) == 0 and stored["WriteOffs"][0]["AccountNumber"] == 6570
    again = register_payment.run(tolerant, pay(amount="9995.00"))
    assert again["idempotent_replay"] is True and recorder.posts() == 1


def test_get_invoice_shows_the_write_offs_of_its_payments(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Total="10000.00")
    register_payment.run(with_config(ctx, TOLERANT), pay(amount="9995.00"))
    [payment] = get_invoice.run(ctx, {"invoice": {"document_number": str(DOC)}})["payments"]
    assert payment["write_offs"] == [
        {"account": 6570, "amount": "5.00", "currency": "SEK", "description": "Differens inom tolerans"}
    ]
