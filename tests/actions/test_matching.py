"""Finding the invoice: it must match everything asked, never a fallback; refusals name both sides."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from fortnox_connector.actions import get_invoice, register_payment
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.lookup import InvoiceNotFound
from fortnox_connector.context import TenantContext
from fortnox_connector.contract.state import MemoryStateStore
from fortnox_connector.sandbox import Sandbox
from tests.actions.support import CONFIG, Recorder, make_client, make_ctx
from tests.actions.test_register_payment import DOC, add, pay, payments_of


class IgnoresFilters(httpx.BaseTransport):
    """A Fortnox that ignores the invoice list's filters (answers every invoice), as the issue saw."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.rstrip("/") == "/3/invoices":
            kept = [(k, v) for k, v in request.url.params.multi_items() if k in ("limit", "page")]
            request = httpx.Request(
                request.method, request.url.copy_with(params=kept), headers=request.headers
            )
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def loose(sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder) -> Iterator[TenantContext]:
    """A context whose Fortnox ignores the invoice list's filters."""
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    recorder.inner = IgnoresFilters(httpx.HTTPTransport())
    with make_client(sandbox.base_url, token, str(sandbox_tenant), recorder) as client:
        yield make_ctx(client, MemoryStateStore(), str(sandbox_tenant))


def test_an_ocr_no_invoice_has_is_refused_even_when_fortnox_ignores_the_filter(
    sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder, loose: TenantContext
) -> None:
    add(sandbox, sandbox_tenant, OCR="90019")
    with pytest.raises(InvoiceNotFound, match="no invoice with OCR 11111111115") as info:
        register_payment.run(loose, pay(invoice={"ocr": "11111111115"}))
    assert "other invoices only" in info.value.message  # what Fortnox had is named
    assert recorder.posts() == 0 and payments_of(sandbox, sandbox_tenant) == []


def test_the_one_invoice_with_the_ocr_is_found_among_unfiltered_answers(
    sandbox: Sandbox, sandbox_tenant: int, loose: TenantContext
) -> None:
    add(sandbox, sandbox_tenant, OCR="90019")
    out = register_payment.run(loose, pay(invoice={"ocr": "90019"}))
    assert out["invoice_number"] == str(DOC)


def test_a_mistyped_ocr_is_refused_before_any_request(ctx: TenantContext, recorder: Recorder) -> None:
    with pytest.raises(ActionRejected, match=r"OCR 90018 is not a valid OCR number: its check digit is 8"):
        register_payment.run(ctx, pay(invoice={"ocr": "90018"}))
    assert recorder.calls == []


def test_without_the_check_digit_rule_a_non_luhn_ocr_is_looked_up(
    sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder, ctx: TenantContext
) -> None:
    add(sandbox, sandbox_tenant, OCR="90018")
    loose = make_ctx(ctx.client, MemoryStateStore(), ctx.tenant, replace(CONFIG, ocr_check_digit=False))
    out = get_invoice.run(loose, {"invoice": {"ocr": "90018"}})
    assert out["document_number"] == str(DOC)


def test_invoice_numbers_below_the_floor_are_refused(
    sandbox: Sandbox, sandbox_tenant: int, ctx: TenantContext, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant, OCR="90019")
    floor = make_ctx(
        ctx.client, MemoryStateStore(), ctx.tenant, replace(CONFIG, ignore_invoice_numbers_below=10_000)
    )
    with pytest.raises(ActionRejected, match=r"9001 is below the tenant's ignore_invoice_numbers_below"):
        register_payment.run(floor, pay())
    assert recorder.calls == []
    with pytest.raises(ActionRejected, match=r"9001 is below"):  # found by OCR: refused all the same
        register_payment.run(floor, pay(invoice={"ocr": "90019"}))
    assert recorder.posts() == 0


def test_ocr_and_number_must_both_match_when_the_tenant_asks(
    sandbox: Sandbox, sandbox_tenant: int, ctx: TenantContext, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant, OCR="90019")
    both = make_ctx(
        ctx.client, MemoryStateStore(), ctx.tenant, replace(CONFIG, require_ocr_and_invoice_number=True)
    )
    with pytest.raises(ActionRejected, match="requires both the invoice number and the OCR"):
        register_payment.run(both, pay())
    with pytest.raises(ActionRejected, match=r"asked for the invoice with number 9001 and OCR 10009") as info:
        register_payment.run(both, pay(invoice={"document_number": str(DOC), "ocr": "10009"}))
    assert "Fortnox has invoice 9001 with OCR 90019" in info.value.message
    out = register_payment.run(both, pay(invoice={"document_number": str(DOC), "ocr": "90019"}))
    assert out["invoice_number"] == str(DOC) and recorder.posts() == 1


def test_by_external_reference(sandbox: Sandbox, sandbox_tenant: int, ctx: TenantContext) -> None:
    add(sandbox, sandbox_tenant, ExternalInvoiceReference1="OPTER-77")
    add(sandbox, sandbox_tenant, DocumentNumber=9002, ExternalInvoiceReference2="OPTER-78")
    assert get_invoice.run(ctx, {"invoice": {"external_reference": "OPTER-77"}})["document_number"] == "9001"
    assert get_invoice.run(ctx, {"invoice": {"external_reference": "OPTER-78"}})["document_number"] == "9002"
    with pytest.raises(InvoiceNotFound, match="no invoice with external reference 'OPTER-79'"):
        get_invoice.run(ctx, {"invoice": {"external_reference": "OPTER-79"}})


def test_a_missing_invoice_keeps_fortnox_code_and_message(ctx: TenantContext) -> None:
    with pytest.raises(InvoiceNotFound, match="no such invoice in Fortnox") as info:
        get_invoice.run(ctx, {"invoice": {"document_number": "424242"}})
    assert info.value.code == 2000434 and info.value.fortnox_message
    assert "2000434" in str(info.value)
