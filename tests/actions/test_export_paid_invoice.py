"""export_paid_invoice in one process: customer, invoice, bookkeeping and payments, each once."""

from __future__ import annotations

from typing import Any

import pytest

from fortnox_connector.actions import export_paid_invoice
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.context import TenantContext
from fortnox_connector.sandbox import Sandbox
from tests.actions.support import Recorder


def paid(key: str = "paid-1", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "idempotency_key": key,
        "source_invoice_number": "SF-2001",
        "customer": {
            "source_id": "sf-cust-9",
            "name": "Rörmokare Berg AB",
            "organisation_number": "556677-8899",
            "email": "ekonomi@berg.example",
        },
        "invoice_date": "2026-03-01",
        "currency": "EUR",
        "currency_rate": "11.50",
        "rows": [
            {"description": "Plan", "quantity": "1", "price": "80.00", "vat": "25"},
            {"description": "Seats", "quantity": "4", "price": "5.00", "vat": "25"},
        ],
        "total": "125.00",
        "payments": [
            {"amount": "25.00", "payment_date": "2026-03-01"},
            {"amount": "100.00", "payment_date": "2026-03-02"},
        ],
    }
    data.update(extra)
    return data


def test_a_paid_invoice_is_exported_booked_and_paid_in_full(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    out = export_paid_invoice.run(ctx, paid())
    number = out["invoice"]["document_number"]
    stored = sandbox.invoice(sandbox_tenant, number)
    assert (
        stored["Booked"] is True
        and stored["Balance"] == 0
        and stored["ExternalInvoiceReference1"] == "SF-2001"
    )
    assert out["customer"]["created"] is True and out["invoice"]["created"] is True and out["booked_now"]
    assert [p["amount_currency"] for p in out["payments"]] == ["25.00", "100.00"]
    assert [p["amount"] for p in out["payments"]] == ["287.50", "1150.00"]  # x 11.50, the invoice's rate
    assert all(p["booked"] for p in out["payments"]) and out["fully_paid"] is True
    pays = [p for p in sandbox.payments(sandbox_tenant) if str(p["InvoiceNumber"]) == number]
    assert len(pays) == 2


def test_running_it_again_returns_the_same_without_a_request(ctx: TenantContext, recorder: Recorder) -> None:
    first = export_paid_invoice.run(ctx, paid())
    calls = len(recorder.calls)
    again = export_paid_invoice.run(ctx, paid())
    assert len(recorder.calls) == calls and again["idempotent_replay"] is True
    assert again["invoice"]["document_number"] == first["invoice"]["document_number"]


def test_a_credit_note_is_not_a_paid_invoice(ctx: TenantContext) -> None:
    with pytest.raises(ActionRejected, match="credit_of"):  # the schema knows no credit note here
        export_paid_invoice.run(ctx, paid(credit_of={"document_number": "1"}))
