"""invoice_paid says how an invoice was settled: payments, a credit note, write-offs, or a mix."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from fortnox_connector.actions import register_payment
from fortnox_connector.sandbox import Sandbox
from tests.triggers.support import INVOICES, Host

DOC = 9001
PAYS = {"default_mode_of_payment": "BG", "default_mode_of_payment_account": 1930}


def invoice(sandbox: Sandbox, tenant: int, **fields: Any) -> None:
    fields.setdefault("DocumentNumber", DOC)
    fields.setdefault("InvoiceDate", "2026-02-01")
    sandbox.add_invoice(tenant, **fields)


def announced(host: Host, doc: int = DOC) -> Mapping[str, Any]:
    host.run(INVOICES)
    [payload] = [p for p in host.payloads() if p["document_number"] == str(doc)]
    return payload


def pay(host: Host, amount: str, key: str, **extra: Any) -> Mapping[str, Any]:
    data = {
        "invoice": {"document_number": str(DOC)},
        "amount": amount,
        "currency": extra.pop("currency", "SEK"),
        "payment_date": "2026-03-01",
        "idempotency_key": key,
        **extra,
    }
    return register_payment.run(host.ctx, data)


def test_a_bank_fee_within_tolerance_is_announced_as_payments_and_a_write_off(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    invoice(sandbox, sandbox_tenant, Total="10000.00")
    host = make_host(**PAYS, payment_tolerance_amount=Decimal("10.00"), payment_tolerance_account=6570)
    pay(host, "9995.00", "bank-1")
    event = announced(host)
    assert event["settled_by"] == "mixed"
    assert event["settlement"] == {"payments": "9995.00", "credit_note": "0.00", "write_off": "5.00"}


def test_money_alone_is_payments(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    invoice(sandbox, sandbox_tenant, Total="800.00")
    host = make_host(**PAYS)
    pay(host, "300.00", "a")
    pay(host, "500.00", "b")
    event = announced(host)
    assert event["settled_by"] == "payments" and event["settlement"]["payments"] == "800.00"
    assert event["credit_invoice_reference"] is None


def test_a_credit_note_settlement_is_announced_as_credit_note(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    invoice(sandbox, sandbox_tenant, Total="1250.00")
    note = sandbox.credit_invoice(sandbox_tenant, DOC)
    event = announced(make_host())
    assert (
        event["settled_by"] == "credit_note" and event["credit_invoice_reference"] == note["DocumentNumber"]
    )
    assert event["settlement"] == {"payments": "0.00", "credit_note": "1250.00", "write_off": "0.00"}
    assert all(p["document_number"] != note["DocumentNumber"] for p in make_host().payloads())


def test_part_credited_part_paid_is_mixed(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    invoice(sandbox, sandbox_tenant, Total="1000.00")
    sandbox.credit_invoice(sandbox_tenant, DOC, "200.00")
    host = make_host(**PAYS)
    pay(host, "800.00", "rest")
    event = announced(host)
    assert event["settled_by"] == "mixed"
    assert event["settlement"] == {"payments": "800.00", "credit_note": "200.00", "write_off": "0.00"}


def test_credit_note_only_settlements_can_be_filtered_out(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    invoice(sandbox, sandbox_tenant, Total="1250.00")
    sandbox.credit_invoice(sandbox_tenant, DOC)
    host = make_host(emit_credit_note_settlements=False)
    outcome = host.run(INVOICES)
    assert all(p["document_number"] != str(DOC) for p in host.payloads())
    assert outcome.summary.skipped >= 1
    again = host.run(INVOICES)  # a later run does not ask about it again: it is decided
    assert all(p["document_number"] != str(DOC) for p in host.payloads()) and again.summary.events == 0


def test_a_eur_invoice_paid_at_another_rate_is_payments_only(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    invoice(sandbox, sandbox_tenant, Total="100.00", Currency="EUR", CurrencyRate="11.00")
    host = make_host(**PAYS)
    pay(host, "100.00", "eur", currency="EUR", currency_rate="11.50")  # the SEK row settles nothing
    event = announced(host)
    assert event["settled_by"] == "payments" and event["settlement"]["payments"] == "100.00"
