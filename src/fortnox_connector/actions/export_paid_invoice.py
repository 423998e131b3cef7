"""Action ``export_paid_invoice``: a source invoice that is paid already, into Fortnox in one call.

SubscriptionFlow's flow: the customer (``upsert_customer``), the invoice (``export_invoice``), its
bookkeeping, then each payment (``register_payment`` with its money rules). Every step is exactly once on
its own, under a key derived from the action's key (``<key>:invoice``, ``<key>:payment:<n>``), and looks
for what an earlier attempt did before doing anything, so a crash at any point — even between Fortnox doing
a step and its answer arriving — is finished by running the action again, without doubling anything.
The output says what this call created and what already existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fortnox_connector.actions import export_invoice, register_payment
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.export_input import read_invoice
from fortnox_connector.actions.inputs import fingerprint
from fortnox_connector.actions.once import Call, once
from fortnox_connector.fortnox import invoicing

if TYPE_CHECKING:
    from fortnox_connector.context import TenantContext


def run(ctx: TenantContext, input: Mapping[str, Any]) -> Mapping[str, Any]:
    """Export, book and pay the invoice ``input`` describes (docs/export.md)."""
    key, payments = _read(input, ctx.tenant)

    def paid(call: Call) -> dict[str, Any]:
        call.save("pending", {})
        result = _steps(ctx, key, input, payments)
        call.save("completed", result)
        return result

    return once(
        ctx,
        key,
        fingerprint(input),
        reused=lambda: ActionRejected(
            f"the idempotency key {key!r} was already used for a different paid invoice",
            tenant=ctx.tenant,
            hint="use a new idempotency key for a new invoice; reuse a key only to retry",
        ),
        run=paid,
        replay=lambda result: {**result, "idempotent_replay": True},
    )


def _read(input: Mapping[str, Any], tenant: str) -> tuple[str, list[Mapping[str, Any]]]:
    req = read_invoice(input, tenant, schema="actions/export_paid_invoice.input.json")
    payments = input.get("payments")
    if not isinstance(payments, list) or not payments or not all(isinstance(p, Mapping) for p in payments):
        raise ActionRejected(
            "'payments' must be a non-empty list of payments",
            tenant=tenant,
            invoice=f"source {req.source_invoice_number}",
            hint="correct the action's input",
        )
    return req.idempotency_key, payments


def _steps(
    ctx: TenantContext, key: str, input: Mapping[str, Any], payments: list[Mapping[str, Any]]
) -> dict[str, Any]:
    invoice_input = {k: v for k, v in input.items() if k not in ("payments", "idempotency_key", "send")}
    exported = export_invoice.run(
        ctx, {**invoice_input, "idempotency_key": f"{key}:invoice", "bookkeep": False}
    )
    number = str(exported["document_number"])
    booked_now = False
    already = exported["booked"] or (
        exported["idempotent_replay"] and invoicing.get_created_invoice(ctx.client, number).invoice.booked
    )
    if not already:
        booked_now = invoicing.bookkeep_invoice(ctx.client, number).invoice.booked
    sent = bool(exported.get("sent"))
    if input.get("send") == "email" and not sent:  # after booking; an invoice marked Sent is not re-sent
        sent = invoicing.get_created_invoice(ctx.client, number).sent or (
            invoicing.email_invoice(ctx.client, number).sent
        )
    registered = []
    for i, payment in enumerate(payments, 1):
        out = register_payment.run(
            ctx,
            {
                **payment,
                "invoice": {"document_number": number},
                "currency": exported["currency"],
                "idempotency_key": f"{key}:payment:{i}",
            },
        )
        registered.append(dict(out))
    after = invoicing.get_created_invoice(ctx.client, number).invoice
    invoice = {**exported, "booked": True, "sent": sent}
    return {
        "customer": {
            "customer_number": exported["customer_number"],
            "created": bool(exported["customer_created"]),
        },
        "invoice": invoice,
        "booked_now": booked_now,
        "payments": registered,
        "fully_paid": after.fully_paid,
        "idempotent_replay": False,
    }
