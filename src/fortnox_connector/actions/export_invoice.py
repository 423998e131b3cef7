"""Action ``export_invoice``: create a source system's invoice in Fortnox exactly once per idempotency key.

Fortnox has no idempotency key for ``POST /3/invoices``. The source's invoice number goes into
``ExternalInvoiceReference1`` and is how the connector recognises its own invoice. Under the lock
``idempotency:{tenant}:{key}``:

1. A completed key returns its stored result without a request; the same key with other input is refused.
   Then the lock ``export:{tenant}:{source number}`` too, so two keys for one source invoice never post
   side by side.
2. Fresh key: the customer is resolved (by number, or ``upsert_customer``), the invoices carrying the
   reference are looked up (with Fortnox numbering; with the source's numbering Fortnox itself refuses a
   second invoice of that number) — one found is the invoice, not a reason to post again. A ``pending``
   record is saved BEFORE the POST.
3. The POST's answer lost (``AmbiguousWrite``), or a ``pending`` record found (an attempt crashed): the
   invoices carrying the reference are looked up before anything is posted again; found → carry on; not
   found after a lost answer → the error says to run again (nothing is posted twice in one call).
4. The document number is saved as soon as it is known. Fortnox's totals are checked against the
   source's (``total`` with VAT, before öresutjämning; ``total_vat``; else the rows' own arithmetic): a
   difference is ``TotalsMismatch`` naming both, and nothing is booked.
5. Optionally bookkept (a booked invoice is not booked again) and e-mailed by Fortnox (``send: email``; an
   invoice marked ``Sent`` is not sent again); then the record is ``completed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from fortnox_connector.actions import upsert_customer
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.export_input import InvoiceRequest, read_invoice
from fortnox_connector.actions.money import ORE, money_text
from fortnox_connector.actions.once import Call, once
from fortnox_connector.fortnox import invoicing
from fortnox_connector.fortnox.errors import AmbiguousWrite, FortnoxError, FortnoxValidationError, NotFound

if TYPE_CHECKING:
    from fortnox_connector.context import TenantContext


class TotalsMismatch(ActionRejected):
    """Fortnox computed other totals than the source has: the invoice exists but is left unbooked."""


@dataclass
class _Export:
    call: Call
    req: InvoiceRequest
    customer: dict[str, Any] | None = None

    @property
    def ctx(self) -> TenantContext:
        return self.call.ctx

    @property
    def tenant(self) -> str:
        return self.call.tenant

    @property
    def what(self) -> str:
        return f"source invoice {self.req.source_invoice_number}"

    def save(self, status: str, result: Mapping[str, Any]) -> None:
        self.call.save(status, result)


def run(ctx: TenantContext, input: Mapping[str, Any]) -> Mapping[str, Any]:
    """Export the invoice ``input`` describes (docs/export.md) and return what Fortnox made of it."""
    return export(ctx, read_invoice(input, ctx.tenant))


def export(ctx: TenantContext, req: InvoiceRequest) -> dict[str, Any]:
    return once(
        ctx,
        req.idempotency_key,
        req.fingerprint,
        reused=lambda: ActionRejected(
            f"the idempotency key {req.idempotency_key!r} was already used for a different invoice",
            tenant=ctx.tenant,
            invoice=f"source {req.source_invoice_number}",
            hint="use a new idempotency key for a new invoice; reuse a key only to retry",
        ),
        run=lambda call: _locked(_Export(call, req), call.pending),
        replay=lambda result: {
            **result,
            "created": False,
            "customer_created": False,
            "idempotent_replay": True,
        },
    )


def _locked(at: _Export, pending: dict[str, Any] | None) -> dict[str, Any]:
    """One export of a source number at a time, whatever the key (always taken after the key's lock)."""
    ctx = at.ctx
    try:
        with ctx.state.lock(f"export:{ctx.tenant}:{at.req.source_invoice_number}"):
            return _export(at, pending)
    except FortnoxError as exc:
        if not isinstance(exc, ActionRejected):
            exc.with_tenant(ctx.tenant)
            exc.message = f"{at.what}: {exc.message}"
        raise


def _export(at: _Export, pending: dict[str, Any] | None) -> dict[str, Any]:
    customer_number = _customer_number(at, pending)
    numbering = _numbering(at)
    created = False
    number: str | None = (pending or {}).get("document_number")
    if number is None and (pending is not None or numbering == "fortnox"):
        number = _existing(at)
    if number is None:
        at.save("pending", {"customer_number": customer_number})
        invoice, created = _post(at, customer_number, numbering)
    else:
        invoice = _get(at, number)
    at.save("pending", {"customer_number": customer_number, "document_number": invoice.document_number})
    _check_totals(at, invoice)
    if at.req.bookkeep and not invoice.invoice.booked:
        invoice = invoicing.bookkeep_invoice(at.ctx.client, invoice.document_number)
    if at.req.send == "email" and not invoice.sent:
        invoice = invoicing.email_invoice(at.ctx.client, invoice.document_number)
    result = _result(at, invoice, customer_number, created)
    at.save("completed", result)
    return result


def _numbering(at: _Export) -> str:
    """``source``: Fortnox's document number is the source's (Opter needs them to match)."""
    return at.ctx.config.invoice_numbering


def _customer_number(at: _Export, pending: dict[str, Any] | None) -> str:
    if pending is not None and pending.get("customer_number"):
        return str(pending["customer_number"])  # resolved by an earlier attempt
    if at.req.customer_number is not None:
        return at.req.customer_number
    if at.req.customer is None:  # read_invoice gives one of the two
        raise ValueError("an invoice request without a customer")
    at.customer = upsert_customer.upsert(at.ctx, at.req.customer)
    return str(at.customer["customer_number"])


def _existing(at: _Export) -> str | None:
    """The invoice already carrying the source's number, if exactly one does."""
    found = invoicing.invoices_by_reference(at.ctx.client, at.req.source_invoice_number)
    if len(found) > 1:
        raise ActionRejected(
            f"several Fortnox invoices ({', '.join(found)}) carry ExternalInvoiceReference1 "
            f"{at.req.source_invoice_number!r}",
            tenant=at.tenant,
            invoice=f"source {at.req.source_invoice_number}",
            hint="cancel or credit the duplicates in Fortnox, then run again with the same key",
        )
    if found:
        at.ctx.log.info("Fortnox invoice %s already carries this source number; not posting", found[0])
    return found[0] if found else None


def _post(at: _Export, customer_number: str, numbering: str) -> tuple[invoicing.CreatedInvoice, bool]:
    """The invoice and whether this POST created it (False: Fortnox had it under the source's number)."""
    document_number = at.req.source_invoice_number if numbering == "source" else None
    if document_number is not None and not document_number.isdigit():
        raise ActionRejected(
            f"the tenant numbers invoices as the source does, but {document_number!r} is not a number",
            tenant=at.tenant,
            invoice=f"source {document_number}",
            hint="Fortnox document numbers are digits: set invoice_numbering to fortnox or send digits",
        )
    try:
        return invoicing.create_invoice(at.ctx.client, at.req.body(customer_number, document_number)), True
    except AmbiguousWrite as exc:
        at.ctx.log.warning("the invoice's POST got no clear answer; looking for it by its source number")
        number = _existing(at)
        if number is not None:
            return _get(at, number), True
        exc.hint = (
            "no invoice carries the source number yet; run the action again with the same idempotency key "
            "(it looks again before posting, so the invoice is created at most once)"
        )
        raise
    except FortnoxValidationError:
        # With the source's numbering, Fortnox refusing the number (its code for a taken number is not
        # documented) may mean another key exported this source invoice already: adopt it if it carries
        # the reference, else the refusal stands.
        number = _existing(at) if document_number is not None else None
        if number is None:
            raise
        return _get(at, number), False
    except NotFound as exc:
        raise ActionRejected(
            f"Fortnox has no customer {customer_number} or no invoice {at.req.credit_of} to credit",
            tenant=at.tenant,
            invoice=f"source {at.req.source_invoice_number}",
            hint="check the customer number (or export the customer with upsert_customer) and 'credit_of'",
        ) from exc


def _get(at: _Export, number: str) -> invoicing.CreatedInvoice:
    try:
        return invoicing.get_created_invoice(at.ctx.client, number)
    except NotFound as exc:
        raise ActionRejected(
            f"invoice {number}, created by an earlier attempt with this key, is gone from Fortnox",
            tenant=at.tenant,
            invoice=number,
            hint="check the invoice in Fortnox; to export it again use a new idempotency key",
        ) from exc


def expected_totals(req: InvoiceRequest) -> tuple[Decimal, Decimal | None]:
    """Net and VAT by the rows: each row's amount and VAT rounded to the öre, half up (None: VAT unknown)."""
    sign = Decimal(-1) if req.credit and all(r.quantity > 0 for r in req.rows) else Decimal(1)
    net = Decimal(0)
    vat: Decimal | None = Decimal(0)
    for row in req.rows:
        amount = (sign * row.quantity * row.price).quantize(ORE, rounding=ROUND_HALF_UP)
        net += amount
        if row.vat is None or vat is None:
            vat = None
        else:
            vat += (amount * row.vat / 100).quantize(ORE, rounding=ROUND_HALF_UP)
    return net, vat


def _check_totals(at: _Export, invoice: invoicing.CreatedInvoice) -> None:
    """The source's total (with VAT) against Fortnox's total before öresutjämning, then VAT, then net."""
    net, vat = expected_totals(at.req)
    theirs_total = invoice.invoice.total - invoice.round_off
    checks: list[tuple[str, Decimal | None, Decimal | None]] = [
        ("total", at.req.total if at.req.total is not None else _sum(net, vat), theirs_total),
        ("VAT", at.req.total_vat if at.req.total_vat is not None else vat, invoice.total_vat),
        ("net", net, invoice.net),
    ]
    for name, ours, theirs in checks:
        if ours is None or theirs is None or ours == theirs:
            continue
        currency = invoice.invoice.currency
        raise TotalsMismatch(
            f"Fortnox computed the {name} as {money_text(theirs)} {currency} but the source has "
            f"{money_text(ours)} {currency} (Fortnox invoice {invoice.document_number}, not booked)",
            tenant=at.tenant,
            invoice=f"source {at.req.source_invoice_number}",
            hint="compare the rows' prices and VAT; correct or cancel the invoice in Fortnox, then run "
            "again with the same key (it re-checks, never posts a second invoice)",
        )


def _sum(net: Decimal, vat: Decimal | None) -> Decimal | None:
    return None if vat is None else net + vat


def _result(
    at: _Export, invoice: invoicing.CreatedInvoice, customer_number: str, created: bool
) -> dict[str, Any]:
    inv = invoice.invoice
    return {
        "document_number": inv.document_number,
        "source_invoice_number": at.req.source_invoice_number,
        "ocr": inv.ocr,
        "customer_number": customer_number,
        "customer_created": bool(at.customer and at.customer.get("created")),
        "invoice_date": inv.invoice_date.isoformat() if inv.invoice_date else None,
        "due_date": inv.due_date.isoformat() if inv.due_date else None,
        "currency": inv.currency,
        "currency_rate": str(inv.currency_rate),
        "currency_unit": str(inv.currency_unit),
        "net": money_text(invoice.net) if invoice.net is not None else None,
        "total_vat": money_text(invoice.total_vat) if invoice.total_vat is not None else None,
        "round_off": money_text(invoice.round_off),
        "total": money_text(inv.total),
        "booked": inv.booked,
        "sent": invoice.sent,
        "credit": inv.credit,
        "credit_invoice_reference": invoice.credit_invoice_reference,
        "created": created,
        "idempotent_replay": False,
    }
