"""Finding an invoice (by document number or OCR) and its payments, with errors that name the fix."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.inputs import InvoiceRef
from fortnox_connector.fortnox.errors import FortnoxError, MissingLicence, MissingScope, NotFound
from fortnox_connector.fortnox.records import Invoice, InvoicePayment

if TYPE_CHECKING:
    from fortnox_connector.fortnox.client import FortnoxClient

_SCOPE_HINTS = {
    "invoice": "reconnect the tenant granting the Fortnox scope 'invoice' (and check its licence)",
    "payment": "reconnect the tenant granting the Fortnox scope 'payment' (and check its licence)",
}


@contextmanager
def explained(tenant: str, invoice: InvoiceRef | str, scope: str) -> Iterator[None]:
    """Re-raise Fortnox errors naming the tenant, the invoice and the fix."""
    try:
        yield
    except NotFound as exc:
        raise ActionRejected(
            "no such invoice in Fortnox",
            tenant=tenant,
            invoice=str(invoice),
            hint="check the invoice's document number or OCR; it may have been deleted",
        ) from exc
    except (MissingScope, MissingLicence) as exc:
        exc.with_tenant(tenant)
        exc.message = f"invoice {invoice}: {exc.message}"
        if isinstance(exc, MissingScope):
            exc.hint = _SCOPE_HINTS[scope]
        raise
    except FortnoxError as exc:
        exc.with_tenant(tenant)
        exc.message = f"invoice {invoice}: {exc.message}"
        raise


def find_invoice(client: FortnoxClient, ref: InvoiceRef, tenant: str) -> Invoice:
    """The invoice by document number (GET) or by OCR (list filtered by ``ocr``; must match exactly one)."""
    with explained(tenant, ref, "invoice"):
        if ref.document_number is not None:
            return client.get_invoice(ref.document_number)
        page = client.list_invoices(ocr=ref.ocr)
    matches = [i for i in page.items if i.ocr == ref.ocr] or list(page.items)
    if not matches:
        raise ActionRejected(
            "no invoice has this OCR in Fortnox",
            tenant=tenant,
            invoice=str(ref),
            hint="check the OCR number, or name the invoice by its document number",
        )
    if len(matches) > 1:
        numbers = ", ".join(i.document_number for i in matches)
        raise ActionRejected(
            f"several invoices have this OCR ({numbers})",
            tenant=tenant,
            invoice=str(ref),
            hint="name the invoice by its document number",
        )
    with explained(tenant, ref, "invoice"):
        return client.get_invoice(matches[0].document_number)


def invoice_payments(client: FortnoxClient, document_number: str, tenant: str) -> list[InvoicePayment]:
    """Every payment of the invoice (all pages), oldest number first."""
    payments: list[InvoicePayment] = []
    page_number = 1
    with explained(tenant, document_number, "payment"):
        while True:
            page = client.list_invoice_payments(invoice_number=document_number, page=page_number)
            payments.extend(p for p in page.items if str(p.invoice_number) == document_number)
            if page.last or page_number >= page.total_pages:
                break
            page_number += 1
    return sorted(payments, key=lambda p: (len(p.number), p.number))
