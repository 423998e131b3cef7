"""Properties over amounts, rates, units and tolerances: Fortnox's balance ends at exactly 0, or the
refusal names the difference; never a float anywhere in the money path.

The connector's real planning (``actions.plan.plan_payment``) feeds the sandbox's real payment rules
(``sandbox.store.Store.add_payment``, the model of Fortnox used by every other test), in process: no HTTP,
so hypothesis can try hundreds of cases in a second or two.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.inputs import InvoiceRef, PaymentRequest
from fortnox_connector.actions.money import money_text, to_ore
from fortnox_connector.actions.plan import PlannedPayment, plan_payment
from fortnox_connector.actions.settle import WriteOffLine
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.fortnox.records import Invoice
from fortnox_connector.sandbox.clock import STOCKHOLM
from fortnox_connector.sandbox.settlement import voucher_rows
from fortnox_connector.sandbox.store import Store

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=STOCKHOLM)
CENT = Decimal("0.01")

money = st.integers(min_value=1, max_value=10**9).map(lambda n: Decimal(n) * CENT)  # 0.01 .. 10 million
rates = st.integers(min_value=5000, max_value=200000).map(lambda n: Decimal(n) / 10000)  # 0.5 .. 20
units = st.sampled_from([Decimal(1), Decimal(100)])
percent = st.one_of(st.none(), st.integers(min_value=0, max_value=500).map(lambda n: Decimal(n) / 100))
absolute = st.one_of(st.none(), st.integers(min_value=0, max_value=10000).map(lambda n: Decimal(n) * CENT))


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(st.sampled_from(["SEK", "EUR", "JPY"]))
    balance = draw(money)
    invoice_rate = Decimal(1) if currency == "SEK" else draw(rates)
    unit = Decimal(100) if currency == "JPY" else Decimal(1)
    # the day's rate within the tenant's band (50 %) of the invoice's
    drift = draw(st.integers(min_value=-4000, max_value=4000))
    day_rate = invoice_rate if currency == "SEK" else max(invoice_rate * (10000 + drift) / 10000, CENT)
    delta = draw(st.one_of(st.just(Decimal(0)), st.integers(-5000, 5000).map(lambda n: Decimal(n) * CENT)))
    amount = balance - delta
    explicit = draw(st.lists(st.integers(1, 2000).map(lambda n: Decimal(n) * CENT), max_size=2))
    return {
        "currency": currency,
        "balance": balance,
        "invoice_rate": invoice_rate,
        "unit": unit,
        "day_rate": day_rate.quantize(Decimal("0.0001")),
        "amount": amount,
        "explicit": explicit if sum(explicit, Decimal(0)) < balance else [],
        "tolerance_amount": draw(absolute),
        "tolerance_percent": draw(percent),
        "settle_in_full": draw(st.booleans()),
        "booking": draw(st.sampled_from(["write_off", "fortnox"])),
    }


def request(case: dict[str, Any]) -> PaymentRequest:
    lines = tuple(WriteOffLine(6570, a, case["currency"], "fee") for a in case["explicit"])
    return PaymentRequest(
        invoice=InvoiceRef(document_number="1"),
        amount=case["amount"],
        currency=case["currency"],
        currency_rate=case["day_rate"],
        payment_date=date(2026, 3, 1),
        mode_of_payment="BG",
        mode_of_payment_account=1930,
        bookkeep=False,
        allow_overpayment=False,
        move_date_to_invoice_date=False,
        idempotency_key="k",
        fingerprint="f",
        write_offs=lines,
        settle_in_full=case["settle_in_full"],
    )


def invoice(case: dict[str, Any]) -> Invoice:
    return Invoice(
        document_number="1",
        invoice_date=date(2026, 2, 1),
        currency=case["currency"],
        currency_rate=case["invoice_rate"],
        currency_unit=case["unit"],
        total=case["balance"],
        balance=case["balance"],
    )


def config(case: dict[str, Any]) -> TenantConfig:
    return replace(
        TenantConfig(),
        payment_tolerance_amount=case["tolerance_amount"],
        payment_tolerance_percent=case["tolerance_percent"],
        payment_tolerance_account=3740,
        currency_difference_booking=case["booking"],
    )


def fortnox_after(case: dict[str, Any], planned: PlannedPayment) -> tuple[Decimal, list[Any]]:
    """Post the planned payment to the sandbox's Fortnox model; its balance after and the voucher."""
    store = Store(seed=1)
    tenant = store.add_tenant(100001, "Prop AB")
    store.add_invoice(
        tenant,
        NOW,
        DocumentNumber=1,
        Total=case["balance"],
        Currency=case["currency"],
        CurrencyRate=case["invoice_rate"],
        CurrencyUnit=case["unit"],
        InvoiceDate=date(2026, 2, 1),
    )
    body = planned.body()
    body.pop("InvoiceNumber")
    pay = store.add_payment(tenant, 1, NOW, **body)
    inv = store.invoice(tenant, 1)
    rows = voucher_rows(
        pay.amount,
        pay.amount_currency,
        pay.write_offs,
        inv.currency,
        inv.currency_rate,
        inv.currency_unit,
        1930,
    )
    return inv.balance, rows


def _plan_or_refusal(case: dict[str, Any]) -> PlannedPayment | ActionRejected:
    try:
        return plan_payment(request(case), invoice(case), "t1", config(case))
    except ActionRejected as refused:
        return refused


def no_floats(value: Any) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, dict):
        return all(no_floats(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(no_floats(v) for v in value)
    return True


@settings(max_examples=400, deadline=None)
@given(cases())
def test_the_balance_ends_at_zero_or_the_refusal_names_the_difference(case: dict[str, Any]) -> None:
    assume(case["amount"] > 0)  # the input's schema refuses anything else
    open_amount = case["balance"] - case["amount"] - sum(case["explicit"], Decimal(0))
    planned = _plan_or_refusal(case)
    if isinstance(planned, ActionRejected):
        if "rounds to 0.00" in planned.message:
            return  # a foreign amount too small to be worth an öre: refused by the bounds, nothing written
        assert open_amount != 0
        assert money_text(abs(open_amount)) in planned.message  # the difference, to the öre
        event("refused, naming the difference")
        return
    assert no_floats(planned.body()) and no_floats(planned.to_json())
    assert planned.amount == to_ore(planned.amount) and planned.amount_currency == case["amount"]
    balance, rows = fortnox_after(case, planned)
    debit = sum((d for _a, d, _c in rows), Decimal(0))
    credit = sum((c for _a, _d, c in rows), Decimal(0))
    assert debit == credit  # every voucher balances
    written = [w for w in planned.write_offs if w.kind == "tolerance"]
    if written or case["settle_in_full"]:
        assert balance == 0  # paid in full: exactly zero, never 0.01 left
        event("paid in full" + (" within the tolerance" if written else ""))
    else:
        event("partial payment")
        assert balance == open_amount  # a partial payment leaves exactly what was not paid
    if case["currency"] != "SEK" and not case["explicit"] and not written:  # either booking mode
        gain_loss = {a: d - c for a, d, c in rows if a in (3960, 7960)}
        assert sum(gain_loss.values(), Decimal(0)) == -planned.currency_difference  # to the öre


@settings(max_examples=200, deadline=None)
@given(money, rates, units)
def test_company_amounts_are_exact_to_the_ore_and_round_half_up(
    amount: Decimal, rate: Decimal, unit: Decimal
) -> None:
    from fortnox_connector.actions.money import company_amount

    sek = company_amount(amount, rate, unit)
    exact = amount * rate / unit
    assert isinstance(sek, Decimal) and sek == sek.quantize(CENT)
    assert abs(sek - exact) <= Decimal("0.005")
    if abs(sek - exact) == Decimal("0.005"):
        assert abs(sek) > abs(exact)  # halves away from zero
