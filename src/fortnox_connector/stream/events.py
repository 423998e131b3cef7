"""A feed event → the connector's events, with the poll triggers' filters and dedup keys.

- ``invoicepayment-bookkeep-v1``: fetch the payment (``GET /3/invoicepayments/{n}``) and emit
  ``payment_received`` under the poll's key ``fortnox:<tenant>:payment:<n>:booked``; then fetch its invoice
  (``GET /3/invoices/{n}``) and, when it is fully paid (balance 0, not cancelled, not a credit invoice),
  emit ``invoice_paid`` under the poll's key, with ``settled_by`` as the poll has it. Two requests per
  payment; a third (the invoice's payments) only for the payment that completes an invoice paid in parts,
  with write-offs or with a credit note; none for a repeat.
- ``invoicepayment-deleted-v1``: emit ``payment_deleted`` (no request: the payment is gone).

Filters as in the poll triggers (``ignore_payments_before``, ``ignore_invoice_numbers_below``, booked
only); a filtered record counts as skipped. This runs on worker threads, several events at once, so it
never touches the checkpoint: each event comes back with its *mark* (kind and number), and the source
drops an event whose mark is already in the seen sets and marks the rest when it hands them to the host
(``seen_before`` lets it skip a known number before any request).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import Event
from fortnox_connector.fortnox.errors import NotFound
from fortnox_connector.fortnox.feed import PAYMENT_BOOKKEEP, PAYMENT_DELETED, FeedEvent
from fortnox_connector.fortnox.records import Invoice, InvoicePayment
from fortnox_connector.stream.checkpoint import Checkpoint
from fortnox_connector.triggers import invoice_paid, payment_deleted, payment_received
from fortnox_connector.triggers.events import (
    invoice_paid_key,
    invoice_paid_payload,
    payment_key,
    payment_payload,
)
from fortnox_connector.triggers.seen import as_number
from fortnox_connector.triggers.settlement import ZERO, Settlement, settlement_of

Mark = tuple[str, int]  # (kind, number) in the checkpoint's seen sets: booked, paid, deleted


@dataclass(slots=True)
class Outcome:
    events: list[tuple[Event, Mark | None]] = field(default_factory=list)
    skipped: int = 0
    requests: int = 0


_KIND = {PAYMENT_BOOKKEEP: "booked", PAYMENT_DELETED: "deleted"}


def seen_before(cp: Checkpoint, tenant: str, event: FeedEvent) -> bool:
    """Was this event's payment already emitted (a duplicate, a replay)? No request needed to know."""
    kind = _KIND.get(event.type)
    number = as_number(event.entity_id)
    return kind is not None and number is not None and number in cp.seen_set(tenant, kind)


def events_for(ctx: TenantContext, event: FeedEvent) -> Outcome:
    """What ``event`` means for the tenant of ``ctx``, each event with its mark (see the module docstring)."""
    before = ctx.client.requests_sent
    observed_at = ctx.now().isoformat()
    if event.type == PAYMENT_BOOKKEEP:
        out = _booked(ctx, event.entity_id, observed_at)
    elif event.type == PAYMENT_DELETED:
        out = _deleted(ctx, event, observed_at)
    else:
        out = Outcome(skipped=1)  # another type on the topic (invoice-created-v1, …): not ours
    out.requests = ctx.client.requests_sent - before
    return out


def _booked(ctx: TenantContext, entity_id: str, observed_at: str) -> Outcome:
    out = Outcome()
    tenant, config = ctx.tenant, ctx.config
    number = as_number(entity_id)
    try:
        p = ctx.client.get_invoice_payment(entity_id)
    except NotFound:
        out.skipped += 1  # deleted since it was booked: its deletion event follows
        return out
    if p.invoice_number < config.ignore_invoice_numbers_below:
        out.skipped += 1
        return out
    if _payment_wanted(ctx, p):
        key = payment_key(tenant, p.number, True)
        event = Event(payment_received.NAME, tenant, key, payment_payload(tenant, p, key, observed_at))
        out.events.append((event, ("booked", number) if number is not None else None))
    else:
        out.skipped += 1
    paid = _invoice_paid(ctx, p, observed_at)
    if paid is None:
        out.skipped += 1
    else:
        out.events.append((paid, ("paid", p.invoice_number)))
    return out


def _payment_wanted(ctx: TenantContext, p: InvoicePayment) -> bool:
    not_before = ctx.config.ignore_payments_before
    return p.booked and (not_before is None or p.payment_date >= not_before)


def _invoice_paid(ctx: TenantContext, p: InvoicePayment, observed_at: str) -> Event | None:
    """``invoice_paid`` when the payment's invoice is now fully paid."""
    tenant = ctx.tenant
    doc = str(p.invoice_number)
    try:
        inv = ctx.client.get_invoice(doc)
    except NotFound:
        return None
    if not _paid(ctx, inv):
        return None
    settled = _settlement(ctx, p, inv)
    if settled.settled_by == "credit_note" and not ctx.config.emit_credit_note_settlements:
        return None
    key = invoice_paid_key(tenant, inv.document_number)
    return Event(invoice_paid.NAME, tenant, key, invoice_paid_payload(tenant, inv, key, observed_at, settled))


def _settlement(ctx: TenantContext, p: InvoicePayment, inv: Invoice) -> Settlement:
    """How the invoice was settled, as the poll says it (``triggers.settlement``).

    When this one payment paid the whole invoice (no credit note, no write-off) that is known without a
    request; otherwise the invoice's payments are read like the poll does (one more request, only for the
    payment that completes an invoice paid in several parts or with write-offs or a credit note).
    """
    whole = p.amount_currency if p.amount_currency is not None else p.amount
    if (
        inv.credit_invoice_reference is None
        and not p.write_off_exist
        and not p.write_offs
        and whole == inv.total
    ):
        return Settlement(payments=inv.total, credit_note=ZERO, write_off=ZERO)
    return settlement_of(ctx.client, inv)


def _paid(ctx: TenantContext, inv: Invoice) -> bool:
    """The poll's rule: fully paid, not a credit invoice, final pay date not before the ignore date."""
    not_before = ctx.config.ignore_payments_before
    return (
        inv.fully_paid
        and not inv.credit
        and (not_before is None or inv.final_pay_date is None or inv.final_pay_date >= not_before)
    )


def _deleted(ctx: TenantContext, event: FeedEvent, observed_at: str) -> Outcome:
    tenant = ctx.tenant
    number = as_number(event.entity_id)
    deleted_at = event.timestamp.isoformat() if event.timestamp is not None else None
    deleted = payment_deleted.payment_deleted_event(
        tenant, event.entity_id, observed_at=observed_at, detected_by="stream", deleted_at=deleted_at
    )
    return Outcome(events=[(deleted, ("deleted", number) if number is not None else None)])
