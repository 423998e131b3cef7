"""The actions over recorded HTTP: get_invoice and register_payment (exactly once per key)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from fortnox_connector.actions import get_invoice, register_payment
from fortnox_connector.context import TenantContext
from fortnox_connector.contract.state import MemoryStateStore
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.fortnox.client import FortnoxClient
from tests.cassettes.recorded import recorded
from tests.cassettes.target import TEST_INVOICE_DATE, Target

pytestmark = pytest.mark.vcr

CONFIG = TenantConfig(default_mode_of_payment="BG", default_mode_of_payment_account=1930)


def make_ctx(client: FortnoxClient, state: MemoryStateStore) -> TenantContext:
    return TenantContext(
        tenant="cassette",
        config=CONFIG,
        client=client,
        state=state,
        now=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        log=logging.LoggerAdapter(logging.getLogger("tests.cassettes"), {"tenant": "cassette"}),
    )


def test_get_invoice(target: Target) -> None:
    invoice = target.test_invoice()
    with target.client() as client:
        out = get_invoice.run(make_ctx(client, MemoryStateStore()), {"invoice": {"document_number": invoice}})
    assert out["document_number"] == invoice
    assert out["currency"] == "SEK" and out["invoice_date"] == TEST_INVOICE_DATE.isoformat()
    assert out["payments"] == []
    # The values the cassette carries, read from its YAML, and pinned: a changed Total/Balance fails here.
    [(total, balance, to_pay)] = recorded(
        "test_actions/test_get_invoice", "Invoice", "DocumentNumber", ("Total", "Balance", "TotalToPay")
    ).values()
    assert (out["total"], out["balance"], out["total_to_pay"]) == (total, balance, to_pay)
    assert (out["total"], out["balance"]) == ("1000.00", "1000.00") and out["fully_paid"] is False


def test_register_payment_once_per_key(target: Target) -> None:
    invoice = target.test_invoice()
    state = MemoryStateStore()
    request = {
        "invoice": {"document_number": invoice},
        "amount": "400.10",
        "currency": "SEK",
        "payment_date": "2026-03-01",
        "idempotency_key": "cassette-payment-1",
    }
    with target.client() as client:
        ctx = make_ctx(client, state)
        out = register_payment.run(ctx, request)
        sent = client.requests_sent
        again = register_payment.run(ctx, request)
        assert client.requests_sent == sent  # a completed key answers from the store
        shown = get_invoice.run(ctx, {"invoice": {"document_number": invoice}})
    assert out["amount"] == out["amount_currency"] == "400.10" and out["booked"] is True
    assert out["idempotent_replay"] is False and again["idempotent_replay"] is True
    assert again["payment_number"] == out["payment_number"]
    assert [p["number"] for p in shown["payments"]] == [out["payment_number"]]


def test_register_payment_writes_off_a_bank_fee_within_tolerance(target: Target) -> None:
    invoice = target.test_invoice()  # 1000.00 SEK
    tolerant = replace(CONFIG, payment_tolerance_amount=Decimal("10.00"), payment_tolerance_account=6570)
    request = {
        "invoice": {"document_number": invoice},
        "amount": "995.00",
        "currency": "SEK",
        "payment_date": "2026-03-01",
        "settle_in_full": True,
        "idempotency_key": "cassette-payment-fee",
    }
    with target.client() as client:
        ctx = make_ctx(client, MemoryStateStore())
        ctx = replace(ctx, config=tolerant)
        out = register_payment.run(ctx, request)
        shown = get_invoice.run(ctx, {"invoice": {"document_number": invoice}})
    assert out["invoice_balance_after"] == "0.00" and out["amount"] == "995.00"
    assert [(w["account"], w["amount"], w["kind"]) for w in out["write_offs"]] == [
        (6570, "5.00", "tolerance")
    ]
    assert shown["balance"] == "0.00" and shown["fully_paid"] is True
