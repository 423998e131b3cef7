"""Action ``register_payment``: register an invoice payment in Fortnox exactly once per idempotency key.

Under the lock ``idempotency:{tenant}:{key}``: a completed key returns its stored result without a request;
otherwise a ``pending`` record (with the invoice's payment numbers seen before) is saved BEFORE the POST.
When the POST's outcome is unknown, or a ``pending`` record is found (an attempt crashed), the invoice's
payments are listed and our payment recognised (new since the snapshot, same amount, date and mode of
payment, not claimed by another key) before anything is posted again. The payment number is saved as soon
as it is known, so a failed bookkeeping is retried without a second POST.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.inputs import PaymentRequest, read_payment_request
from fortnox_connector.actions.lookup import explained, find_invoice, invoice_payments
from fortnox_connector.actions.money import money_text
from fortnox_connector.actions.once import Call, once
from fortnox_connector.actions.plan import COMPANY_CURRENCY, PlannedPayment, plan_payment
from fortnox_connector.actions.rates import fortnox_rate
from fortnox_connector.actions.settle import WriteOffLine
from fortnox_connector.contract.state import IdempotencyRecord
from fortnox_connector.fortnox.errors import AmbiguousWrite
from fortnox_connector.fortnox.records import Invoice, InvoicePayment

if TYPE_CHECKING:
    from fortnox_connector.context import TenantContext


def claim_key(payment_number: str) -> str:
    """The idempotency-store key that marks a payment as registered by one of our keys."""
    return f"claimed-payment:{payment_number}"


@dataclass
class _Attempt:
    call: Call
    req: PaymentRequest

    @property
    def ctx(self) -> TenantContext:
        return self.call.ctx

    @property
    def tenant(self) -> str:
        return self.call.tenant

    def save(self, status: str, result: Mapping[str, Any]) -> None:
        self.call.save(status, result)


def run(ctx: TenantContext, input: Mapping[str, Any]) -> Mapping[str, Any]:
    """Register the payment ``input`` describes (see docs/actions.md) and return what was registered."""
    req = read_payment_request(input, ctx.config, ctx.tenant)
    return once(
        ctx,
        req.idempotency_key,
        req.fingerprint,
        reused=lambda: ActionRejected(
            f"the idempotency key {req.idempotency_key!r} was already used for a different payment",
            tenant=ctx.tenant,
            invoice=str(req.invoice),
            hint="use a new idempotency key for a new payment; reuse a key only to retry",
        ),
        run=lambda call: _register(_Attempt(call, req), call.pending),
        replay=lambda result: {**result, "idempotent_replay": True},
    )


def _register(at: _Attempt, pending: dict[str, Any] | None) -> dict[str, Any]:
    invoice = find_invoice(at.ctx.client, at.req.invoice, at.tenant, at.ctx.config)
    payment: InvoicePayment | None = None
    posted_now = False
    if pending is not None and pending.get("planned"):
        planned = PlannedPayment.from_json(pending["planned"])
        number = pending.get("payment_number")
        if number:
            payment = _get_payment(at, str(number), planned)
        else:
            payment = _recognise(at, planned, set(pending.get("known_payments", [])))
        if payment is None:
            at.ctx.log.info("no payment of an earlier attempt found; registering it now")
    if payment is None:
        planned = plan_payment(at.req, invoice, at.tenant, at.ctx.config, _day_rate(at, invoice))
        known = [p.number for p in invoice_payments(at.ctx.client, planned.invoice_number, at.tenant)]
        at.save("pending", {"planned": planned.to_json(), "known_payments": known})
        payment = _post(at, planned, set(known))
        posted_now = True
    _claim(at, payment.number)
    at.save(
        "pending",
        {"planned": planned.to_json(), "payment_number": payment.number, "known_payments": []},
    )
    booked = payment.booked
    if at.req.bookkeep and not booked:
        with explained(at.tenant, planned.invoice_number, "payment"):
            booked = at.ctx.client.bookkeep_invoice_payment(payment.number).booked
    result = _result(planned, payment, booked, invoice, posted_now)
    at.save("completed", result)
    return result


def _day_rate(at: _Attempt, invoice: Invoice) -> Decimal | None:
    """Fortnox's rate of the payment day, when the tenant wants it and the input gives no rate."""
    req = at.req
    if (
        at.ctx.config.default_currency_rate != "fortnox"
        or req.currency == COMPANY_CURRENCY
        or req.currency_rate is not None
        or req.amount_company_currency is not None
    ):
        return None
    unit = invoice.currency_unit or Decimal(1)
    return fortnox_rate(
        at.ctx.client, req.currency, req.payment_date, unit, tenant=at.tenant, invoice=invoice.document_number
    )


def _post(at: _Attempt, planned: PlannedPayment, known: set[str]) -> InvoicePayment:
    try:
        with explained(at.tenant, planned.invoice_number, "payment"):
            return at.ctx.client.create_invoice_payment(planned.body())
    except AmbiguousWrite as exc:
        at.ctx.log.warning("the payment's POST got no clear answer; looking among the invoice's payments")
        found = _recognise(at, planned, known)
        if found is not None:
            return found
        exc.hint = (
            "no such payment is on the invoice yet; run the action again with the same idempotency key "
            "(it looks again before posting, so it registers the payment at most once)"
        )
        raise


def _recognise(at: _Attempt, planned: PlannedPayment, known: set[str]) -> InvoicePayment | None:
    """Our payment: new since ``known``, same amount, date and mode, not claimed by another key."""
    for candidate in invoice_payments(at.ctx.client, planned.invoice_number, at.tenant):
        if candidate.number in known or not _same_money_and_date(candidate, planned):
            continue
        if candidate.mode_of_payment is None:
            with explained(at.tenant, planned.invoice_number, "payment"):
                candidate = at.ctx.client.get_invoice_payment(candidate.number)
        if candidate.mode_of_payment != planned.mode_of_payment:
            continue
        account = candidate.mode_of_payment_account
        if account is not None and account != planned.mode_of_payment_account:
            continue
        claim = at.ctx.state.load_idempotency(at.tenant, claim_key(candidate.number))
        if claim is not None and claim.fingerprint != at.req.idempotency_key:
            continue
        return candidate
    return None


def _same_money_and_date(payment: InvoicePayment, planned: PlannedPayment) -> bool:
    if payment.payment_date != planned.payment_date:
        return False
    if payment.amount_currency is not None:
        return payment.amount_currency == planned.amount_currency
    return payment.amount == planned.amount


def _get_payment(at: _Attempt, number: str, planned: PlannedPayment) -> InvoicePayment:
    try:
        with explained(at.tenant, planned.invoice_number, "payment"):
            return at.ctx.client.get_invoice_payment(number)
    except ActionRejected as exc:  # NotFound: the payment an earlier attempt registered was deleted
        raise ActionRejected(
            f"payment {number}, registered by an earlier attempt with this key, is gone from Fortnox",
            tenant=at.tenant,
            invoice=planned.invoice_number,
            hint="check the invoice in Fortnox; to register the payment again use a new idempotency key",
        ) from exc


def _claim(at: _Attempt, number: str) -> None:
    at.ctx.state.save_idempotency(
        at.tenant,
        IdempotencyRecord(
            key=claim_key(number),
            fingerprint=at.req.idempotency_key,
            status="completed",
            result={"idempotency_key": at.req.idempotency_key},
        ),
    )


def _result(
    planned: PlannedPayment, payment: InvoicePayment, booked: bool, invoice: Invoice, posted_now: bool
) -> dict[str, Any]:
    balance_after = invoice.balance - planned.settles() if posted_now else invoice.balance
    return {
        "payment_number": payment.number,
        "invoice_number": planned.invoice_number,
        "booked": booked,
        "amount": money_text(planned.amount),
        "amount_currency": money_text(planned.amount_currency),
        "currency": planned.currency,
        "currency_rate": str(planned.currency_rate),
        "payment_date": planned.payment_date.isoformat(),
        "invoice_balance_after": money_text(balance_after),
        "write_offs": [_write_off_out(w) for w in planned.write_offs],
        "currency_difference": money_text(planned.currency_difference),
        "rate_source": planned.rate_source,
        "idempotent_replay": False,
    }


def _write_off_out(line: WriteOffLine) -> dict[str, Any]:
    return {
        "account": line.account,
        "amount": money_text(line.amount),
        "currency": line.currency,
        "description": line.description,
        "kind": line.kind,
    }
