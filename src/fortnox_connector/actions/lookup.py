"""Finding the invoice a request names, and its payments, with errors that name the fix.

The rule: **the invoice found must match everything that was asked, never a fallback.** Fortnox's list
filters (``ocr``, ``externalinvoicereference1``) are narrowed again here to exact matches, and the
invoice read in full is checked once more: a Fortnox that ignored or loosened a filter would otherwise
hand back somebody else's invoice, and ``register_payment`` would pay it. Every refusal names what was
asked and what Fortnox had. An OCR must pass its modulus-10 check digit (``ocr_check_digit``), invoices
numbered below ``ignore_invoice_numbers_below`` are refused, and with ``require_ocr_and_invoice_number``
a request must name both numbers and both must match.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.inputs import InvoiceRef
from fortnox_connector.actions.ocr import ocr_problem
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.fortnox.errors import FortnoxError, MissingLicence, MissingScope, NotFound
from fortnox_connector.fortnox.records import Invoice, InvoicePayment

if TYPE_CHECKING:
    from fortnox_connector.fortnox.client import FortnoxClient

_SCOPE_HINTS = {
    "invoice": "reconnect the tenant granting the Fortnox scope 'invoice' (and check its licence)",
    "payment": "reconnect the tenant granting the Fortnox scope 'payment' (and check its licence)",
    "currency": "reconnect the tenant granting the Fortnox scope 'currency', or pass 'currency_rate'",
}
_MAX_NAMED = 10  # at most this many other invoices are named in a refusal


class InvoiceNotFound(ActionRejected):
    """No invoice matches the request; ``code``/``fortnox_message`` keep Fortnox's answer when it gave one."""

    def __init__(
        self,
        reason: str,
        *,
        tenant: str | None,
        invoice: str | None,
        hint: str | None,
        code: int | None = None,
        fortnox_message: str | None = None,
    ) -> None:
        super().__init__(reason, tenant=tenant, invoice=invoice, hint=hint)
        self.code = code
        self.fortnox_message = fortnox_message


@contextmanager
def explained(tenant: str, invoice: InvoiceRef | str, scope: str) -> Iterator[None]:
    """Re-raise Fortnox errors naming the tenant, the invoice and the fix; Fortnox's code is kept."""
    try:
        yield
    except NotFound as exc:
        said = f" (Fortnox: {exc.code} {exc.fortnox_message or ''})".rstrip() if exc.code else ""
        raise InvoiceNotFound(
            f"no such invoice in Fortnox{said.rstrip()}",
            tenant=tenant,
            invoice=str(invoice),
            hint="check the invoice's document number or OCR; it may have been deleted",
            code=exc.code,
            fortnox_message=exc.fortnox_message,
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


def find_invoice(
    client: FortnoxClient, ref: InvoiceRef, tenant: str, config: TenantConfig | None = None
) -> Invoice:
    """The one invoice matching everything ``ref`` asks for, read in full; else ``ActionRejected``."""
    config = config or TenantConfig()
    _check_request(ref, tenant, config)
    with explained(tenant, ref, "invoice"):
        if ref.document_number is not None:
            invoice = client.get_invoice(ref.document_number)
        else:
            number = _one_listed(client, ref, tenant)
            invoice = client.get_invoice(number)
    _check_match(invoice, ref, tenant, config)
    return invoice


def _check_request(ref: InvoiceRef, tenant: str, config: TenantConfig) -> None:
    """Refuse before any request what can never be right: a bad OCR, a missing half, a number too low."""
    if config.require_ocr_and_invoice_number and (ref.document_number is None or ref.ocr is None):
        raise ActionRejected(
            f"the tenant requires both the invoice number and the OCR, but only {ref.asked()} was given",
            tenant=tenant,
            invoice=str(ref),
            hint="pass both 'document_number' and 'ocr', or turn off require_ocr_and_invoice_number",
        )
    if ref.ocr is not None and config.ocr_check_digit:
        problem = ocr_problem(ref.ocr)
        if problem is not None:
            raise ActionRejected(
                f"OCR {ref.ocr} is not a valid OCR number: {problem}",
                tenant=tenant,
                invoice=str(ref),
                hint="check the OCR for a typing error; if the tenant's OCRs carry no check digit, "
                "turn off ocr_check_digit",
            )
    if ref.document_number is not None:
        _check_floor(ref.document_number, ref, tenant, config)


def _check_floor(number: str, ref: InvoiceRef, tenant: str, config: TenantConfig) -> None:
    floor = config.ignore_invoice_numbers_below
    if floor and number.isdigit() and int(number) < floor:
        raise ActionRejected(
            f"invoice number {number} is below the tenant's ignore_invoice_numbers_below ({floor})",
            tenant=tenant,
            invoice=str(ref),
            hint="invoices below that number are handled outside the connector; check the number "
            "or lower ignore_invoice_numbers_below",
        )


def _one_listed(client: FortnoxClient, ref: InvoiceRef, tenant: str) -> str:
    """The document number of the one listed invoice whose OCR / reference equals the one asked for."""
    if ref.ocr is not None:
        what, listed = f"OCR {ref.ocr}", _listed(client, ocr=ref.ocr)
        matches = [i for i in listed if i.ocr == ref.ocr]
    else:
        reference = ref.external_reference
        what = f"external reference {reference!r}"
        listed = _listed(client, external_reference=reference)
        matches = [i for i in listed if i.external_invoice_reference1 == reference]
        if not matches:
            listed = _listed(client, external_reference2=reference)
            matches = [i for i in listed if i.external_invoice_reference2 == reference]
    if not matches:
        raise InvoiceNotFound(
            f"no invoice with {what} in Fortnox{_others(listed)}",
            tenant=tenant,
            invoice=str(ref),
            hint="check the reference, or name the invoice by its document number",
        )
    if len(matches) > 1:
        numbers = ", ".join(i.document_number for i in matches[:_MAX_NAMED])
        raise ActionRejected(
            f"several invoices have {what} ({numbers})",
            tenant=tenant,
            invoice=str(ref),
            hint="name the invoice by its document number",
        )
    return matches[0].document_number


def _listed(
    client: FortnoxClient,
    *,
    ocr: str | None = None,
    external_reference: str | None = None,
    external_reference2: str | None = None,
) -> list[Invoice]:
    """The first page of invoices Fortnox lists for a filter (a filter that works lists at most a few)."""
    page = client.list_invoices(
        ocr=ocr, external_reference=external_reference, external_reference2=external_reference2
    )
    return list(page.items)


def _others(listed: list[Invoice]) -> str:
    if not listed:
        return ""
    shown = ", ".join(f"{i.document_number} (OCR {i.ocr})" for i in listed[:_MAX_NAMED])
    return f"; Fortnox's filter answered with other invoices only: {shown}"


def _check_match(invoice: Invoice, ref: InvoiceRef, tenant: str, config: TenantConfig) -> None:
    """The invoice read in full must carry every number asked for, and be at or above the floor."""
    had = (
        f"Fortnox has invoice {invoice.document_number} with OCR {invoice.ocr or '(none)'} and external "
        f"reference {invoice.external_invoice_reference1 or '(none)'}"
    )
    if ref.document_number is not None and invoice.document_number != ref.document_number:
        raise _mismatch(ref, tenant, had)
    if ref.ocr is not None and invoice.ocr != ref.ocr:
        raise _mismatch(ref, tenant, had)
    reference = ref.external_reference
    if reference is not None and reference not in (
        invoice.external_invoice_reference1,
        invoice.external_invoice_reference2,
    ):
        raise _mismatch(ref, tenant, had)
    _check_floor(invoice.document_number, ref, tenant, config)


def _mismatch(ref: InvoiceRef, tenant: str, had: str) -> ActionRejected:
    return ActionRejected(
        f"asked for the invoice with {ref.asked()}, but {had}",
        tenant=tenant,
        invoice=str(ref),
        hint="check which of the numbers is wrong; nothing was written",
    )


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
