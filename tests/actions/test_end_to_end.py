"""register_payment seen from the other side: the invoice_paid trigger fires once the final payment lands, and
a POST whose answer the sandbox drops (the payment is stored, the answer lost) still pays exactly once."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

from fortnox_connector.actions import register_payment
from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import Event
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.triggers import invoice_paid
from tests.actions.support import Recorder
from tests.actions.test_register_payment import DOC, add, pay, payments_of
from tests.sandbox.test_schema import check


def drain(ctx: TenantContext, cursor: str | None) -> tuple[list[Event], str | None]:
    """Poll until the trigger has nothing more, as a host would within one run."""
    events: list[Event] = []
    while True:
        result = invoice_paid.poll(ctx, cursor)
        events += result.events
        cursor = result.cursor
        if not result.more:
            return events, cursor


def later(ctx: TenantContext, sandbox: Sandbox, minutes: int) -> TenantContext:
    """The same tenant a while later, on both the connector's and the sandbox's clocks."""
    sandbox.advance(minutes * 60)
    now = ctx.now() + timedelta(minutes=minutes)
    return dataclasses.replace(ctx, now=lambda: now)


def ours(events: list[Event]) -> list[Event]:
    return [e for e in events if e.payload["document_number"] == str(DOC)]


def test_partial_then_final_payment_makes_invoice_paid_fire_once(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant)
    _, cursor = drain(ctx, None)  # the first run: whatever the seed holds
    ctx = later(ctx, sandbox, 5)
    register_payment.run(ctx, pay(amount="400.00", key="part"))
    events, cursor = drain(ctx, cursor)
    assert ours(events) == []  # partly paid is not paid

    ctx = later(ctx, sandbox, 5)
    out = register_payment.run(ctx, pay(amount="600.00", key="rest", payment_date="2026-03-02"))
    assert out["invoice_balance_after"] == "0.00"
    ctx = later(ctx, sandbox, 5)
    events, cursor = drain(ctx, cursor)
    [paid] = ours(events)
    assert paid.payload["final_pay_date"] == "2026-03-02" and paid.tenant == ctx.tenant

    ctx = later(ctx, sandbox, 5)
    again, _ = drain(ctx, cursor)
    assert ours(again) == []  # the next run does not fire it twice


def test_a_lost_answer_to_the_post_leaves_exactly_one_payment(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant)
    sandbox.inject_fault("drop_response", count=1, path_prefix="/3/invoicepayments", method="POST")
    out = register_payment.run(ctx, pay())
    [stored] = payments_of(sandbox, sandbox_tenant)
    assert out["payment_number"] == str(stored["Number"]) and out["booked"] is True
    assert out["invoice_balance_after"] == "600.00"
    assert recorder.posts() == 1  # it looked at the invoice's payments instead of posting again

    replay = register_payment.run(ctx, pay())
    assert replay == {**out, "idempotent_replay": True}
    assert len(payments_of(sandbox, sandbox_tenant)) == 1 and recorder.posts() == 1


def test_the_payment_it_posts_matches_fortnoxs_payload_schema(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.4567")
    bodies: list[object] = []
    recorder.before = lambda r: bodies.append(json.loads(r.content)) if r.method == "POST" else None
    register_payment.run(ctx, pay(amount="123.45", currency="EUR"))
    [body] = bodies
    check("fortnox_Kf_InvoicePaymentSinglePayloadItem_Wrap", body)
