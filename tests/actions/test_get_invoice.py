"""get_invoice against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from fortnox_connector.actions import get_invoice
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.context import TenantContext
from fortnox_connector.contract.state import MemoryStateStore
from fortnox_connector.fortnox.errors import MissingScope
from fortnox_connector.sandbox import Sandbox
from tests.actions.support import Recorder, make_client, make_ctx
from tests.actions.test_register_payment import DOC, add


def test_by_document_number_with_payments(ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.2")
    sandbox.add_payment(sandbox_tenant, DOC, AmountCurrency="250.00", PaymentDate="2026-03-01")
    out = get_invoice.run(ctx, {"invoice": {"document_number": str(DOC)}})
    assert out["document_number"] == str(DOC) and out["currency"] == "EUR"
    assert out["total"] == "1000.00" and out["balance"] == "750.00"
    assert out["fully_paid"] is False and out["final_pay_date"] is None
    [payment] = out["payments"]
    assert payment["amount_currency"] == "250.00" and payment["amount"] == "2800.00"
    assert payment["payment_date"] == "2026-03-01"


def test_by_ocr_fully_paid(ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int) -> None:
    inv = add(sandbox, sandbox_tenant, OCR="90019")
    sandbox.add_payment(sandbox_tenant, DOC, Amount="1000.00", PaymentDate="2026-03-02")
    out = get_invoice.run(ctx, {"invoice": {"ocr": inv["OCR"]}})
    assert out["document_number"] == str(DOC) and out["ocr"] == "90019"
    assert out["fully_paid"] is True and out["balance"] == "0.00" and out["final_pay_date"] == "2026-03-02"


def test_cancelled_is_never_fully_paid(ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int) -> None:
    add(sandbox, sandbox_tenant, Cancelled=True, Balance="0")
    out = get_invoice.run(ctx, {"invoice": {"document_number": str(DOC)}})
    assert out["cancelled"] is True and out["fully_paid"] is False


def test_unknown_invoice_and_unknown_ocr(ctx: TenantContext) -> None:
    with pytest.raises(ActionRejected, match="invoice 424242: no such invoice"):
        get_invoice.run(ctx, {"invoice": {"document_number": "424242"}})
    with pytest.raises(ActionRejected, match="no invoice with OCR 11111111115") as info:
        get_invoice.run(ctx, {"invoice": {"ocr": "11111111115"}})
    assert info.value.tenant == ctx.tenant and info.value.hint


def test_bad_input_is_rejected_without_a_request(ctx: TenantContext, recorder: Recorder) -> None:
    bad_inputs: list[dict[str, Any]] = [{}, {"invoice": {}}, {"invoice": {"ocr": "12"}}]
    for bad in bad_inputs:
        with pytest.raises(
            ActionRejected, match=r"at least one|must be an object|not a valid OCR|is required"
        ):
            get_invoice.run(ctx, bad)
    assert recorder.calls == []


def test_missing_invoice_scope_hints_at_reconnecting(
    sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant)
    token = str(sandbox.issue_token(sandbox_tenant, ("payment",))["access_token"])
    with make_client(sandbox.base_url, token, str(sandbox_tenant), recorder) as client:
        ctx = make_ctx(client, MemoryStateStore(), str(sandbox_tenant))
        with pytest.raises(MissingScope, match="scope 'invoice'") as info:
            get_invoice.run(ctx, {"invoice": {"document_number": str(DOC)}})
    assert f"tenant {sandbox_tenant}" in str(info.value)
