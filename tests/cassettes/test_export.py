"""The export actions over recorded HTTP: a customer upserted, an EUR invoice exported once, then paid."""

from __future__ import annotations

import pytest

from fortnox_connector.actions import export_invoice, export_paid_invoice, upsert_customer
from fortnox_connector.contract.state import MemoryStateStore
from tests.cassettes.target import Target
from tests.cassettes.test_actions import make_ctx

pytestmark = pytest.mark.vcr

CUSTOMER = {
    "source_id": "cassette-cust-1",
    "name": "Cassette Kund GmbH",
    "organisation_number": "DE987654321",
    "vat_type": "EUVAT",
    "email": "ap@cassette.example",
    "country_code": "DE",
    "currency": "EUR",
}
INVOICE = {
    "idempotency_key": "cassette-export-1",
    "source_invoice_number": "CAS-1001",
    "invoice_date": "2026-03-01",
    "currency": "EUR",
    "currency_rate": "11.4567",
    "rows": [
        {"description": "Licence", "quantity": "2", "price": "100.00", "vat": "25", "account": 3001},
        {"description": "Support hours", "quantity": "3", "price": "33.33", "vat": "25", "account": 3001},
        {"description": "Booklet", "quantity": "1", "price": "0.50", "vat": "12", "account": 3002},
    ],
    "total": "375.55",
    "total_vat": "75.06",
}


def test_upsert_customer_then_export_invoice_once(target: Target) -> None:
    target.sandbox_only("creates a customer and an invoice in the company")
    state = MemoryStateStore()
    with target.client() as client:
        ctx = make_ctx(client, state)
        customer = upsert_customer.run(ctx, CUSTOMER)
        again = upsert_customer.run(ctx, CUSTOMER)
        request = {**INVOICE, "customer": {"customer_number": customer["customer_number"]}}
        out = export_invoice.run(ctx, request)
        sent = client.requests_sent
        replay = export_invoice.run(ctx, request)
        assert client.requests_sent == sent  # a completed key answers from the store
    assert customer["created"] is True and again["created"] is False
    assert out["created"] is True and out["total"] == "375.55" and out["total_vat"] == "75.06"
    assert replay["idempotent_replay"] is True and replay["document_number"] == out["document_number"]


def test_export_paid_invoice_books_and_pays_it(target: Target) -> None:
    target.sandbox_only("creates and pays an invoice in the company")
    request = {
        **INVOICE,
        "idempotency_key": "cassette-paid-1",
        "source_invoice_number": "CAS-2001",
        "customer": {"customer_number": "1"},
        "payments": [{"amount": "375.55", "payment_date": "2026-03-02"}],
    }
    with target.client() as client:
        out = export_paid_invoice.run(make_ctx(client, MemoryStateStore()), request)
    assert out["invoice"]["booked"] is True and out["fully_paid"] is True
    [payment] = out["payments"]
    assert payment["amount_currency"] == "375.55" and payment["amount"] == "4302.56"  # x 11.4567
