"""Action ``get_invoice``: an invoice by document number or OCR, with its paid state and its payments."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from fortnox_connector.actions.inputs import GET_INVOICE_SCHEMA, check_input, invoice_ref
from fortnox_connector.actions.lookup import find_invoice, invoice_payments
from fortnox_connector.actions.money import money_text
from fortnox_connector.fortnox.records import Invoice, InvoicePayment

if TYPE_CHECKING:
    from fortnox_connector.context import TenantContext


def run(ctx: TenantContext, input: Mapping[str, Any]) -> Mapping[str, Any]:
    """``input``: ``{"invoice": {"document_number": …} | {"ocr": …}}``. Output: see docs/actions.md."""
    ref = invoice_ref(check_input(input, GET_INVOICE_SCHEMA, ctx.tenant), ctx.tenant)
    invoice = find_invoice(ctx.client, ref, ctx.tenant, ctx.config)
    payments = invoice_payments(ctx.client, invoice.document_number, ctx.tenant)
    return invoice_json(invoice, payments)


def invoice_json(invoice: Invoice, payments: list[InvoicePayment]) -> dict[str, Any]:
    """The action's output: money as decimal strings, dates ISO 8601."""
    return {
        "document_number": invoice.document_number,
        "ocr": invoice.ocr,
        "customer_number": invoice.customer_number,
        "customer_name": invoice.customer_name,
        "invoice_date": _day(invoice.invoice_date),
        "due_date": _day(invoice.due_date),
        "currency": invoice.currency,
        "currency_rate": str(invoice.currency_rate),
        "total": money_text(invoice.total),
        "total_to_pay": money_text(invoice.total_to_pay) if invoice.total_to_pay is not None else None,
        "balance": money_text(invoice.balance),
        "fully_paid": invoice.fully_paid,
        "final_pay_date": _day(invoice.final_pay_date),
        "booked": invoice.booked,
        "cancelled": invoice.cancelled,
        "credit": invoice.credit,
        "payments": [_payment(p) for p in payments],
    }


def _payment(p: InvoicePayment) -> dict[str, Any]:
    return {
        "number": p.number,
        "amount": money_text(p.amount),
        "amount_currency": money_text(p.amount_currency) if p.amount_currency is not None else None,
        "currency": p.currency,
        "currency_rate": str(p.currency_rate),
        "payment_date": p.payment_date.isoformat(),
        "booked": p.booked,
        "mode_of_payment": p.mode_of_payment,
        "source": p.source,
        "write_offs": [
            {
                "account": w.account_number,
                "amount": money_text(w.amount),
                "currency": w.currency,
                "description": w.description,
            }
            for w in p.write_offs
        ],
    }


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None
