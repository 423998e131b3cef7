"""find_invoices against the sandbox: every filter narrows, never widens; paging as Fortnox pages."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from fortnox_connector.actions import find_invoices
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.context import TenantContext
from fortnox_connector.declaration.schemas import load_schema
from fortnox_connector.sandbox import Sandbox
from tests.actions.support import Recorder

OUTPUT = Draft202012Validator(
    load_schema("actions/find_invoices.output.json"), format_checker=FormatChecker()
)


def find(ctx: TenantContext, **query: Any) -> dict[str, Any]:
    out = dict(find_invoices.run(ctx, query))
    OUTPUT.validate(out)
    return out


def docs(out: dict[str, Any]) -> list[str]:
    return [i["document_number"] for i in out["invoices"]]


@pytest.fixture
def book(sandbox: Sandbox, sandbox_tenant: int) -> None:
    add = sandbox.add_invoice
    add(
        sandbox_tenant,
        DocumentNumber=9001,
        CustomerNumber="K9",
        InvoiceDate="2026-01-10",
        DueDate="2026-02-09",
        Total="100.00",
        OCR="90019",
        ExternalInvoiceReference1="OPT-1",
    )
    add(
        sandbox_tenant,
        DocumentNumber=9002,
        CustomerNumber="K9",
        InvoiceDate="2026-02-20",
        DueDate="2026-03-22",
        Total="200.00",
        Currency="EUR",
        CurrencyRate="11.0",
    )
    add(sandbox_tenant, DocumentNumber=9003, CustomerNumber="K9", InvoiceDate="2026-02-25", Total="300.00")
    sandbox.add_payment(sandbox_tenant, 9003, PaymentDate="2026-02-26")  # paid in full
    add(sandbox_tenant, DocumentNumber=9004, CustomerNumber="K8", InvoiceDate="2026-02-25", Total="50.00")


@pytest.mark.usefixtures("book")
def test_by_customer_status_currency_and_dates(ctx: TenantContext) -> None:
    assert docs(find(ctx, customer_number="K9")) == ["9001", "9002", "9003"]
    assert docs(find(ctx, customer_number="K9", status="unpaid")) == ["9001", "9002"]
    overdue = find(ctx, customer_number="K9", status="overdue")  # the sandbox's today is 2026-03-02
    assert docs(overdue) == ["9001"] and overdue["invoices"][0]["overdue"] is True
    assert docs(find(ctx, customer_number="K9", status="paid")) == ["9003"]
    assert docs(find(ctx, customer_number="K9", currency="eur")) == ["9002"]
    assert docs(find(ctx, customer_number="K9", from_date="2026-02-01", to_date="2026-02-24")) == ["9002"]
    assert docs(find(ctx, external_reference="OPT-1")) == ["9001"]


@pytest.mark.usefixtures("book")
def test_an_ocr_search_finds_only_that_ocr(ctx: TenantContext) -> None:
    assert docs(find(ctx, ocr="90019")) == ["9001"]
    assert find(ctx, ocr="11111111115")["invoices"] == []


def test_paging(ctx: TenantContext) -> None:
    first = find(ctx, limit=7)
    assert first["page"] == 1 and first["more"] is True and len(first["invoices"]) == 7
    rest: list[str] = []
    page = 2
    while True:
        out = find(ctx, limit=7, page=page)
        rest += docs(out)
        if not out["more"]:
            break
        page += 1
    assert len(docs(first) + rest) == first["total_resources"]
    assert len(set(docs(first) + rest)) == first["total_resources"]


def test_refusals_before_any_request(ctx: TenantContext, recorder: Recorder) -> None:
    for bad, match in (
        ({"ocr": "90018"}, "not a valid OCR"),
        ({"from_date": "2026-03-01", "to_date": "2026-02-01"}, "after to_date"),
        ({"status": "open"}, "status"),
        ({"limit": 501}, "limit"),
        ({"customer": "K9"}, "customer"),
    ):
        with pytest.raises(ActionRejected, match=match):
            find_invoices.run(ctx, bad)
    assert recorder.calls == []
