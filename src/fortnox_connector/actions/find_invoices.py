"""Action ``find_invoices``: search a tenant's customer invoices, so a host can choose what to pay.

Filters map to Fortnox's list filters (``GET /3/invoices``): ``customer_number`` → ``customernumber``,
``ocr``, ``external_reference`` → ``externalinvoicereference1``, ``status`` ``unpaid`` → ``filter=unpaid``,
``overdue`` → ``filter=unpaidoverdue`` (``paid`` → ``fullypaid``, ``cancelled``), ``from_date``/``to_date``
(invoice date) → ``fromdate``/``todate``, ``currency``. Every filter given is also checked on each invoice
returned, so a Fortnox that ignores or loosens one never widens the answer (the rule of ``lookup``).
Paged as Fortnox pages: ``page`` (from 1) and ``limit`` (1-500, default 100); ``more`` says whether
another page exists. An OCR is checked for its check digit as in ``lookup`` (``ocr_check_digit``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.inputs import check_input
from fortnox_connector.actions.lookup import explained
from fortnox_connector.actions.money import money_text
from fortnox_connector.actions.ocr import ocr_problem
from fortnox_connector.fortnox.records import Invoice

if TYPE_CHECKING:
    from fortnox_connector.context import TenantContext

SCHEMA = "actions/find_invoices.input.json"
STATUS_FILTERS = {
    "unpaid": "unpaid",
    "overdue": "unpaidoverdue",
    "paid": "fullypaid",
    "cancelled": "cancelled",
}
DEFAULT_LIMIT = 100


def run(ctx: TenantContext, input: Mapping[str, Any]) -> Mapping[str, Any]:
    """Invoices matching every filter given (module docstring); output: find_invoices.output.json."""
    data = check_input(input, SCHEMA, ctx.tenant)
    query = _query(data, ctx.tenant, ctx.config.ocr_check_digit)
    today = ctx.now().date()
    with explained(ctx.tenant, "search", "invoice"):
        page = ctx.client.list_invoices(
            filter=STATUS_FILTERS.get(str(data.get("status") or "")),
            ocr=query.get("ocr"),
            external_reference=query.get("external_reference"),
            customer_number=query.get("customer_number"),
            currency=query.get("currency"),
            from_date=query.get("from_date"),
            to_date=query.get("to_date"),
            page=int(data.get("page") or 1),
            limit=int(data.get("limit") or DEFAULT_LIMIT),
        )
    keep = _matcher(query, str(data.get("status") or "all"), today)
    invoices = [_summary(i, today) for i in page.items if keep(i)]
    return {
        "invoices": invoices,
        "page": page.current_page,
        "total_pages": page.total_pages,
        "total_resources": page.total_resources,
        "more": not page.last,
    }


def _query(data: Mapping[str, Any], tenant: str, check_digit: bool) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for name in ("customer_number", "ocr", "external_reference"):
        value = str(data.get(name) or "").strip()
        if value:
            query[name] = value
    if data.get("currency"):
        query["currency"] = str(data["currency"]).strip().upper()
    for name in ("from_date", "to_date"):
        if data.get(name):
            query[name] = date.fromisoformat(str(data[name]).strip())
    ocr = query.get("ocr")
    if ocr is not None and check_digit:
        problem = ocr_problem(ocr)
        if problem is not None:
            raise ActionRejected(
                f"OCR {ocr} is not a valid OCR number: {problem}",
                tenant=tenant,
                hint="check the OCR for a typing error, or turn off ocr_check_digit",
            )
    start, end = query.get("from_date"), query.get("to_date")
    if start is not None and end is not None and start > end:
        raise ActionRejected(
            f"from_date {start} is after to_date {end}", tenant=tenant, hint="swap or correct the dates"
        )
    return query


def _matcher(query: Mapping[str, Any], status: str, today: date) -> Callable[[Invoice], bool]:
    """Each filter again, on the invoice itself: never wider than asked."""

    def keep(i: Invoice) -> bool:
        checks = (
            query.get("customer_number") in (None, i.customer_number),
            query.get("ocr") in (None, i.ocr),
            query.get("external_reference") in (None, i.external_invoice_reference1),
            query.get("currency") in (None, i.currency.upper()),
            _in_range(i.invoice_date, query.get("from_date"), query.get("to_date")),
            _status(i, status, today),
        )
        return all(checks)

    return keep


def _in_range(day: date | None, start: date | None, end: date | None) -> bool:
    if start is None and end is None:
        return True
    if day is None:
        return False
    return (start is None or day >= start) and (end is None or day <= end)


def _status(i: Invoice, status: str, today: date) -> bool:
    unpaid = not i.cancelled and i.balance != 0
    return {
        "unpaid": unpaid,
        "overdue": unpaid and i.due_date is not None and i.due_date < today,
        "paid": i.fully_paid,
        "cancelled": i.cancelled,
    }.get(status, True)


def _summary(i: Invoice, today: date) -> dict[str, Any]:
    return {
        "document_number": i.document_number,
        "ocr": i.ocr,
        "customer_number": i.customer_number,
        "customer_name": i.customer_name,
        "invoice_date": i.invoice_date.isoformat() if i.invoice_date else None,
        "due_date": i.due_date.isoformat() if i.due_date else None,
        "currency": i.currency,
        "currency_rate": str(i.currency_rate),
        "total": money_text(i.total),
        "balance": money_text(i.balance),
        "fully_paid": i.fully_paid,
        "overdue": not i.cancelled and i.balance != 0 and i.due_date is not None and i.due_date < today,
        "booked": i.booked,
        "cancelled": i.cancelled,
        "credit": i.credit,
        "external_invoice_reference1": i.external_invoice_reference1,
        "external_invoice_reference2": i.external_invoice_reference2,
        "credit_invoice_reference": i.credit_invoice_reference,
    }
