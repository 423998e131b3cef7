"""export_invoice against the sandbox: Fortnox's totals, exactly once per key, lost answers, credit notes."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from fortnox_connector.actions import export_invoice
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.export_invoice import TotalsMismatch
from fortnox_connector.context import TenantContext
from fortnox_connector.fortnox.errors import AmbiguousWrite, FortnoxValidationError
from fortnox_connector.sandbox import Sandbox
from tests.actions.support import CONFIG, Recorder

EUR_ROWS = [
    {"description": "Licence", "quantity": "2", "price": "100.00", "vat": "25", "account": 3001},
    {"description": "Support hours", "quantity": "3", "price": "33.33", "vat": "25", "account": 3001},
    {"description": "Booklet", "quantity": "1", "price": "0.50", "vat": "12", "account": 3002},
]


def invoice(key: str = "exp-1", number: str = "SF-1001", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "idempotency_key": key,
        "source_invoice_number": number,
        "customer": {"customer_number": "1"},
        "invoice_date": "2026-03-01",
        "currency": "EUR",
        "currency_rate": "11.4567",
        "rows": EUR_ROWS,
        "total": "375.55",
        "total_vat": "75.06",
    }
    data.update(extra)
    return data


def with_reference(sandbox: Sandbox, tenant: int, reference: str) -> list[dict[str, Any]]:
    return [i for i in sandbox.invoices(tenant) if i["ExternalInvoiceReference1"] == reference]


def test_three_eur_rows_give_fortnox_totals_equal_to_the_source_to_the_ore(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    out = export_invoice.run(ctx, invoice())
    [stored] = with_reference(sandbox, sandbox_tenant, "SF-1001")
    assert Decimal(str(stored["Total"])) == Decimal("375.55")
    assert Decimal(str(stored["TotalVAT"])) == Decimal("75.06")
    assert stored["Currency"] == "EUR" and Decimal(str(stored["CurrencyRate"])) == Decimal("11.4567")
    assert len(stored["InvoiceRows"]) == 3
    assert out["document_number"] == stored["DocumentNumber"] and out["ocr"] == stored["OCR"]
    assert (out["total"], out["total_vat"], out["net"], out["round_off"]) == (
        "375.55",
        "75.06",
        "300.49",
        "0.00",
    )
    assert out["created"] is True and out["booked"] is False and out["credit"] is False


def test_the_same_key_again_returns_the_same_invoice_without_a_request(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    first = export_invoice.run(ctx, invoice())
    calls = len(recorder.calls)
    again = export_invoice.run(ctx, invoice())
    assert len(recorder.calls) == calls and recorder.posts() == 1
    assert again["document_number"] == first["document_number"]
    assert again["idempotent_replay"] is True and again["created"] is False
    assert len(with_reference(sandbox, sandbox_tenant, "SF-1001")) == 1


def test_a_dropped_answer_to_the_post_is_recognised_and_leaves_one_invoice(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    sandbox.inject_fault("drop_response", count=1, path_prefix="/3/invoices", method="POST")
    out = export_invoice.run(ctx, invoice())
    [stored] = with_reference(sandbox, sandbox_tenant, "SF-1001")
    assert out["document_number"] == stored["DocumentNumber"] and out["total"] == "375.55"
    assert recorder.posts() == 1


def test_an_answer_lost_before_fortnox_stored_it_posts_on_the_next_run_once(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    sandbox.inject_fault("drop", count=1, path_prefix="/3/invoices", method="POST")
    with pytest.raises(AmbiguousWrite) as caught:
        export_invoice.run(ctx, invoice())
    assert "same idempotency key" in (caught.value.hint or "")
    assert with_reference(sandbox, sandbox_tenant, "SF-1001") == []
    export_invoice.run(ctx, invoice())
    export_invoice.run(ctx, invoice())
    assert len(with_reference(sandbox, sandbox_tenant, "SF-1001")) == 1 and recorder.posts() == 2


def test_a_crash_after_the_post_is_resolved_by_the_reference_on_the_rerun(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    def crash(request: httpx.Request) -> None:
        if request.method == "POST":
            raise KeyboardInterrupt  # the process dies after Fortnox stored the invoice

    recorder.after = crash
    with pytest.raises(KeyboardInterrupt):
        export_invoice.run(ctx, invoice())
    recorder.after = None
    out = export_invoice.run(ctx, invoice())
    [stored] = with_reference(sandbox, sandbox_tenant, "SF-1001")
    assert out["document_number"] == stored["DocumentNumber"] and out["created"] is False
    assert recorder.posts() == 1


def test_a_new_key_for_an_exported_source_number_finds_the_invoice_and_posts_nothing(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    first = export_invoice.run(ctx, invoice(key="a"))
    second = export_invoice.run(ctx, invoice(key="b"))
    assert second["document_number"] == first["document_number"] and second["created"] is False
    assert recorder.posts() == 1


def test_a_reference_is_matched_exactly_though_fortnox_searches_substrings(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    export_invoice.run(ctx, invoice(key="a", number="SF-10011"))
    out = export_invoice.run(ctx, invoice(key="b", number="SF-1001"))
    assert out["created"] is True
    assert len(with_reference(sandbox, sandbox_tenant, "SF-1001")) == 1


def test_the_same_key_with_another_invoice_is_refused(ctx: TenantContext) -> None:
    export_invoice.run(ctx, invoice())
    with pytest.raises(ActionRejected, match="already used for a different invoice"):
        export_invoice.run(ctx, invoice(total="1.00"))


def test_a_sek_invoice_is_rounded_to_whole_kronor_and_still_matches_the_source(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    rows = [{"description": "Fika", "quantity": "1", "price": "80.32", "vat": "25"}]
    out = export_invoice.run(ctx, invoice(currency="SEK", rows=rows, total="100.40", total_vat="20.08"))
    assert (out["total"], out["round_off"], out["currency_rate"]) == ("100.00", "-0.40", "1")


def test_without_a_rate_fortnox_uses_the_companys_rate_of_the_day(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    sandbox.set_currency_rate(sandbox_tenant, "EUR", "11.7777", date(2026, 3, 1))
    data = invoice()
    del data["currency_rate"]
    out = export_invoice.run(ctx, data)
    assert out["currency_rate"] == "11.7777" and out["total"] == "375.55"


def test_totals_that_differ_from_fortnox_name_both_and_book_nothing(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    with pytest.raises(TotalsMismatch) as caught:
        export_invoice.run(ctx, invoice(total="375.60", total_vat=None, bookkeep=True))
    message = str(caught.value)
    assert "375.55 EUR" in message and "375.60 EUR" in message and "not booked" in message
    [stored] = with_reference(sandbox, sandbox_tenant, "SF-1001")
    assert stored["Booked"] is False


def test_bookkeep_books_the_invoice(ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int) -> None:
    out = export_invoice.run(ctx, invoice(bookkeep=True))
    assert out["booked"] is True
    [stored] = with_reference(sandbox, sandbox_tenant, "SF-1001")
    assert stored["Booked"] is True and stored["VoucherSeries"] == "B"


def test_a_credit_note_references_the_original_with_negative_rows(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    original = export_invoice.run(ctx, invoice())
    credit = export_invoice.run(
        ctx,
        invoice(
            key="cr-1",
            number="SF-CR-1",
            credit_of={"document_number": original["document_number"]},
            total="-375.55",
            total_vat="-75.06",
        ),
    )
    assert credit["credit"] is True and credit["total"] == "-375.55"
    assert credit["credit_invoice_reference"] == original["document_number"]
    [stored] = with_reference(sandbox, sandbox_tenant, "SF-CR-1")
    assert all(Decimal(str(r["DeliveredQuantity"])) < 0 for r in stored["InvoiceRows"])
    debit = sandbox.invoice(sandbox_tenant, original["document_number"])
    assert debit["CreditInvoiceReference"] == credit["document_number"] and debit["Balance"] == 0


def test_negative_rows_without_the_original_are_refused(ctx: TenantContext) -> None:
    rows = [{"description": "Refund", "quantity": "-1", "price": "10.00", "vat": "25"}]
    with pytest.raises(ActionRejected, match="credit_of"):
        export_invoice.run(ctx, invoice(rows=rows, total=None, total_vat=None))


def test_source_numbering_makes_the_source_number_fortnoxs(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    numbered = dataclasses.replace(ctx, config=dataclasses.replace(CONFIG, invoice_numbering="source"))
    out = export_invoice.run(numbered, invoice(number="77001"))
    assert out["document_number"] == "77001"
    assert sandbox.invoice(sandbox_tenant, 77001)["ExternalInvoiceReference1"] == "77001"
    assert recorder.calls == ["POST /3/invoices"]  # Fortnox refuses a second 77001 itself: no look-up


def test_an_unknown_customer_is_refused_naming_the_fix(ctx: TenantContext) -> None:
    with pytest.raises(ActionRejected, match="no customer 999") as caught:
        export_invoice.run(ctx, invoice(customer={"customer_number": "999"}))
    assert "upsert_customer" in (caught.value.hint or "")


def test_an_unknown_account_is_fortnoxs_error_with_the_source_number(ctx: TenantContext) -> None:
    rows = [{"description": "x", "quantity": "1", "price": "1.00", "vat": "25", "account": 9999}]
    with pytest.raises(FortnoxValidationError) as caught:
        export_invoice.run(ctx, invoice(rows=rows, total=None, total_vat=None))
    assert caught.value.code == 2000423 and "source invoice SF-1001" in str(caught.value)


def test_send_email_books_then_sends_once(ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int) -> None:
    sandbox.add_customer(sandbox_tenant, CustomerNumber="77", Name="Mejl AB", Email="ap@mejl.example")
    out = export_invoice.run(ctx, invoice(customer={"customer_number": "77"}, bookkeep=True, send="email"))
    assert out["booked"] is True and out["sent"] is True
    [stored] = with_reference(sandbox, sandbox_tenant, "SF-1001")
    assert stored["Sent"] is True


def test_sending_to_a_customer_without_email_is_fortnoxs_refusal(ctx: TenantContext) -> None:
    with pytest.raises(FortnoxValidationError, match="e-postadress"):
        export_invoice.run(ctx, invoice(send="email"))


def test_with_source_numbering_a_new_key_for_an_exported_number_adopts_the_invoice(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    numbered = dataclasses.replace(ctx, config=dataclasses.replace(CONFIG, invoice_numbering="source"))
    first = export_invoice.run(numbered, invoice(key="a", number="77002"))
    second = export_invoice.run(numbered, invoice(key="b", number="77002"))
    assert second["document_number"] == first["document_number"] == "77002" and second["created"] is False
    assert len(with_reference(sandbox, sandbox_tenant, "77002")) == 1 and recorder.posts() == 2
