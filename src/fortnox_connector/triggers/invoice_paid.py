"""Trigger ``invoice_paid``: customer invoices that became fully paid in Fortnox.

Reads ``GET /3/invoices?filter=fullypaid&lastmodified=…`` one page per poll (``paging``). Registering a
payment changes its invoice, so an invoice paid in full enters the window of the run after its last payment.
Fortnox has no ``FullyPaid`` field (``shared/fortnox-api.md`` §3): the list's filter is checked again here,
``Balance`` 0 and not cancelled.

Credit invoices are skipped (counted as skipped): their balance reaching 0 means a refund or an offset
against another invoice, not money received; consumers who want those can read ``payment_received``.

Each event says how the invoice was settled (``settled_by``: payments, credit_note, write_off or mixed, with
the amount of each; ``settlement``), read from its payments and its credit-note reference: one request per
announced invoice. ``emit_credit_note_settlements: false`` skips invoices a credit note alone settled.
"""

from __future__ import annotations

import time

from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import Event, PollResult
from fortnox_connector.fortnox.records import Invoice
from fortnox_connector.triggers import paging
from fortnox_connector.triggers.events import invoice_paid_key, invoice_paid_payload
from fortnox_connector.triggers.seen import as_number
from fortnox_connector.triggers.settlement import settlement_of

NAME = "invoice_paid"
DESCRIPTION = (
    "A customer invoice in Fortnox became fully paid (balance 0, not cancelled, not a credit invoice): "
    "document number, OCR, total, currency and rate, final pay date, customer."
)
EVENT_SCHEMA_PATH = "events/invoice_paid.json"


def poll(ctx: TenantContext, cursor: str | None) -> PollResult:
    """One page of invoices that are fully paid and changed since the cursor's window start."""
    started = time.perf_counter()
    client = ctx.client
    requests_before, limited_before = client.requests_sent, client.throttled_responses
    retries_before = client.retries_sent
    step = paging.fetch_step(
        ctx,
        cursor,
        NAME,
        lambda since, page: client.list_invoices(
            filter="fullypaid", lastmodified=since, page=page, read_ahead=True
        ),
    )
    config = ctx.config
    not_before = config.ignore_payments_before
    invoice_floor = config.ignore_invoice_numbers_below
    seen = step.cursor.seen_set("paid")
    tenant = ctx.tenant
    observed_at = step.observed_at.isoformat()
    events: list[Event] = []
    emitted: list[int] = []
    skipped = 0
    for inv in step.page.items:
        number = as_number(inv.document_number)
        if (
            not _paid(inv)
            or (number is not None and number < invoice_floor)
            or (not_before is not None and inv.final_pay_date is not None and inv.final_pay_date < not_before)
            or (number is not None and number in seen)
        ):
            skipped += 1
            continue
        settled = settlement_of(client, inv)
        if number is not None:
            emitted.append(number)
        if settled.settled_by == "credit_note" and not config.emit_credit_note_settlements:
            skipped += 1  # a credit note alone settled it: filtered out by the tenant's config
            continue
        key = invoice_paid_key(tenant, inv.document_number)
        payload = invoice_paid_payload(tenant, inv, key, observed_at, settled)
        events.append(Event(NAME, tenant, key, payload))
    seen.add_all(emitted)
    return paging.result(
        step,
        events,
        skipped=skipped,
        requests=client.requests_sent - requests_before,
        rate_limited=client.throttled_responses - limited_before,
        retries=client.retries_sent - retries_before,
        started=started,
        now=time.perf_counter(),
    )


def _paid(inv: Invoice) -> bool:
    """Fully paid (balance 0, not cancelled) and not a credit invoice."""
    return inv.fully_paid and not inv.credit
