"""Trigger ``payment_received``: invoice payments registered (by default: booked) in Fortnox.

Reads ``GET /3/invoicepayments?lastmodified=…`` one page per poll (``paging``). Booking a payment changes it,
so an unbooked payment skipped in the default mode comes back in a later window once booked and is emitted
then. A payment is fetched on its own (``GET /3/invoicepayments/{Number}``) only when its list item lacks a
field the event needs (older, thin list answers; write-offs that the list only flags); such requests are
counted in the summary like every other.
"""

from __future__ import annotations

import time

from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import Event, PollResult
from fortnox_connector.fortnox.errors import NotFound
from fortnox_connector.fortnox.records import InvoicePayment
from fortnox_connector.triggers import paging
from fortnox_connector.triggers.events import payment_key, payment_payload
from fortnox_connector.triggers.payment_deleted import payment_deleted_event
from fortnox_connector.triggers.seen import as_number

NAME = "payment_received"
DESCRIPTION = (
    "A payment was registered on a customer invoice in Fortnox (by default once it is booked): invoice "
    "number, amounts in the company's and the invoice's currency, rate, payment date, customer."
)
EVENT_SCHEMA_PATH = "events/payment_received.json"

COMPANY_CURRENCY = "SEK"  # Fortnox keeps books in SEK; ``Amount`` is in it


def needs_detail(p: InvoicePayment) -> bool:
    """Does the event need the single payment? Thin list item, write-offs only flagged, no invoice amount."""
    return (
        not p.complete
        or (p.write_off_exist and not p.write_offs)
        or (p.amount_currency is None and p.currency != COMPANY_CURRENCY)
    )


def poll(ctx: TenantContext, cursor: str | None) -> PollResult:
    """One page of payments changed since the cursor's window start; see the module docstring."""
    started = time.perf_counter()
    client = ctx.client
    requests_before, limited_before = client.requests_sent, client.throttled_responses
    retries_before = client.retries_sent
    step = paging.fetch_step(
        ctx,
        cursor,
        NAME,
        lambda since, page: client.list_invoice_payments(lastmodified=since, page=page, read_ahead=True),
    )
    config = ctx.config
    all_payments = config.emit_unbooked_payments
    not_before = config.ignore_payments_before
    invoice_floor = config.ignore_invoice_numbers_below
    seen_booked = step.cursor.seen_set("booked")
    seen_unbooked = step.cursor.seen_set("unbooked")
    tenant = ctx.tenant
    observed_at = step.observed_at.isoformat()
    events: list[Event] = []
    emitted_booked: list[int] = []
    emitted_unbooked: list[int] = []
    skipped = 0
    vanished: list[Event] = []
    for p in step.page.items:
        if (
            (not p.booked and not all_payments)
            or (not_before is not None and p.payment_date < not_before)
            or p.invoice_number < invoice_floor
        ):
            skipped += 1
            continue
        number = as_number(p.number)
        if number is not None and number in (seen_booked if p.booked else seen_unbooked):
            skipped += 1  # already emitted in this state (overlap or restarted paging)
            continue
        if needs_detail(p):
            try:
                p = client.get_invoice_payment(p.number)
            except NotFound:
                if p.booked:  # a booked payment gone: deleted after all (or reversed); never silent
                    vanished.append(_vanished(ctx, p, observed_at))
                skipped += 1
                continue
            if not p.booked and not all_payments:
                skipped += 1
                continue
            if number is not None and p.booked and number in seen_booked:
                skipped += 1
                continue
        key = payment_key(tenant, p.number, p.booked)
        events.append(Event(NAME, tenant, key, payment_payload(tenant, p, key, observed_at)))
        if number is not None:
            (emitted_booked if p.booked else emitted_unbooked).append(number)
    seen_booked.add_all(emitted_booked)
    seen_unbooked.add_all(emitted_unbooked)
    return paging.result(
        step,
        events + vanished,
        skipped=skipped,
        vanished=len(vanished),
        requests=client.requests_sent - requests_before,
        rate_limited=client.throttled_responses - limited_before,
        retries=client.retries_sent - retries_before,
        started=started,
        now=time.perf_counter(),
    )


def _vanished(ctx: TenantContext, p: InvoicePayment, observed_at: str) -> Event:
    """Report a booked payment that was listed but is gone when fetched: a warning and ``payment_deleted``.

    Fortnox lets only unbooked payments be deleted, so a booked one vanishing means a deletion after all
    (a reversed bookkeeping, or Fortnox's rules differ from its docs). The consumer must hear of it: the
    run summary counts it as ``vanished``, the log names the payment, and a ``payment_deleted`` event
    (``detected_by: "poll"``) goes out under the key the WebSocket feed would use, so both deduplicate.
    """
    ctx.log.warning(
        "booked payment %s (invoice %s) was listed by Fortnox but is gone when fetched: reported as "
        "payment_deleted",
        p.number,
        p.invoice_number,
        extra={"tenant": ctx.tenant, "payment_number": p.number},
    )
    return payment_deleted_event(
        ctx.tenant,
        p.number,
        observed_at=observed_at,
        detected_by="poll",
        invoice_number=str(p.invoice_number),
    )
