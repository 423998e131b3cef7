"""register_payment against an in-memory fake client: thin list items and near-miss look-alikes."""

from __future__ import annotations

import json
from typing import Any

from fortnox_connector.actions import register_payment
from fortnox_connector.contract.state import MemoryStateStore
from fortnox_connector.fortnox.errors import AmbiguousWrite
from fortnox_connector.fortnox.records import Invoice, InvoicePayment, Page
from tests.actions.support import make_ctx


class FakeClient:
    """The FortnoxClient methods the actions use. ``lose_post`` stores the payment, then loses the answer."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.invoice = {"DocumentNumber": "7", "Total": "500", "Balance": "500", "InvoiceDate": "2026-02-01"}
        self.payments: list[dict[str, Any]] = []
        self.lose_post = False

    def get_invoice(self, document_number: str) -> Invoice:
        self.calls.append("get_invoice")
        return Invoice.parse(self.invoice)

    def list_invoice_payments(self, *, invoice_number: str, page: int = 1) -> Page[InvoicePayment]:
        self.calls.append("list_invoice_payments")
        thin = [{k: v for k, v in p.items() if k not in ("ModeOfPayment",)} for p in self.payments]
        return Page(tuple(InvoicePayment.parse(p) for p in thin), 1, 1, len(thin))

    def get_invoice_payment(self, number: str) -> InvoicePayment:
        self.calls.append("get_invoice_payment")
        return InvoicePayment.parse(next(p for p in self.payments if p["Number"] == number))

    def create_invoice_payment(self, payment: dict[str, Any]) -> InvoicePayment:
        self.calls.append("create_invoice_payment")
        wire = json.loads(json.dumps(payment, default=str))  # Decimal and date as Fortnox sends them
        stored = {**wire, "Number": str(len(self.payments) + 1), "Booked": False}
        self.payments.append(stored)
        if self.lose_post:
            raise AmbiguousWrite("lost", method="POST", path="/3/invoicepayments")
        return InvoicePayment.parse(stored)

    def bookkeep_invoice_payment(self, number: str) -> InvoicePayment:
        self.calls.append("bookkeep_invoice_payment")
        stored = next(p for p in self.payments if p["Number"] == number)
        stored["Booked"] = True
        return InvoicePayment.parse(stored)


def look_alike(number: str, **change: Any) -> dict[str, Any]:
    base = {"Number": number, "InvoiceNumber": 7, "Amount": "100.00", "AmountCurrency": "100.00"}
    mode = {"ModeOfPayment": "BG", "ModeOfPaymentAccount": 1930}
    return {**base, **mode, "PaymentDate": "2026-03-01", **change}


def test_lost_answer_recognised_among_thin_items_and_near_misses() -> None:
    fake = FakeClient()
    ctx = make_ctx(fake, MemoryStateStore(), "t9")  # type: ignore[arg-type]
    fake.lose_post = True
    data = {
        "invoice": {"document_number": "7"},
        "amount": "100.00",
        "currency": "SEK",
        "payment_date": "2026-03-01",
        "idempotency_key": "x",
    }
    # Appear between the snapshot and the POST: other dates, modes and amounts must not be taken for ours.
    original = fake.create_invoice_payment

    def create(payment: dict[str, Any]) -> InvoicePayment:
        fake.payments += [
            look_alike("1", PaymentDate="2026-03-02"),
            look_alike("2", ModeOfPayment="PG"),
            look_alike("3", AmountCurrency="100.01", Amount="100.01"),
        ]
        return original(payment)

    fake.create_invoice_payment = create  # type: ignore[method-assign]
    out = register_payment.run(ctx, data)
    assert out["payment_number"] == "4" and out["booked"] is True
    assert fake.calls.count("create_invoice_payment") == 1
    assert fake.calls.count("get_invoice_payment") == 2  # thin items 2 and 4 fetched whole to see the mode
