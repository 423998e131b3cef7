"""The actions' schemas describe what the actions really take and return (run through the manager)."""

from __future__ import annotations

from collections.abc import Iterator

import jsonschema
import pytest

from fortnox_connector.context import TenantContext
from fortnox_connector.contract import ConnectorManager, Event
from fortnox_connector.contract.state import MemoryStateStore
from fortnox_connector.declaration.schemas import validator
from fortnox_connector.sandbox import Sandbox
from tests.actions.support import Recorder, make_client, make_ctx
from tests.actions.test_register_payment import DOC, add, pay


@pytest.fixture
def ctx(sandbox: Sandbox, sandbox_tenant: int) -> Iterator[TenantContext]:
    token = str(sandbox.issue_token(sandbox_tenant)["access_token"])
    with make_client(sandbox.base_url, token, str(sandbox_tenant), Recorder()) as client:
        yield make_ctx(client, MemoryStateStore(), str(sandbox_tenant))


@pytest.fixture(scope="module")
def manager() -> ConnectorManager:
    return ConnectorManager.load()


def run(manager: ConnectorManager, name: str, ctx: TenantContext, data: dict[str, object]) -> object:
    spec = manager.connector("fortnox").action(name)
    validator(f"actions/{name}.input.json").validate(data)
    out = spec.run(ctx, data)
    validator(f"actions/{name}.output.json").validate(out)
    return out


def test_register_then_get_in_a_foreign_currency(
    manager: ConnectorManager, ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.4567", Total="123.45", OCR="90019")
    sandbox.add_payment(sandbox_tenant, DOC, AmountCurrency="23.45", PaymentDate="2026-03-01")
    paid = pay(amount="100", currency="eur", payment_date="2026-03-02", bookkeep=False, currency_rate=None)
    first = run(manager, "register_payment", ctx, paid)
    again = run(manager, "register_payment", ctx, paid)
    assert again == {**first, "idempotent_replay": True}  # type: ignore[dict-item]
    out = run(manager, "get_invoice", ctx, {"invoice": {"ocr": 90019}})
    assert isinstance(out, dict) and out["fully_paid"] is True and len(out["payments"]) == 2


def test_a_credit_invoice_with_negative_amounts(
    manager: ConnectorManager, ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Credit=True, Total="-500.00")
    out = run(manager, "get_invoice", ctx, {"invoice": {"document_number": DOC}})
    assert isinstance(out, dict) and out["credit"] is True and out["total"] == "-500.00"


@pytest.mark.parametrize(
    "data",
    [
        pay(invoice={"document_number": "1", "ocr": "2", "other": "3"}),
        pay(invoice={}),
        pay(amount="0.00"),
        pay(amount="-5"),
        pay(amount=12.5),
        pay(currency="kronor"),
        pay(payment_date="2026-02-30"),
        pay(mode_of_payment_account=99),
        pay(bookkeep="yes"),
        {k: v for k, v in pay().items() if k != "idempotency_key"},
    ],
)
def test_inputs_the_action_refuses_break_the_schema(data: dict[str, object]) -> None:
    assert list(validator("actions/register_payment.input.json").iter_errors(data))


@pytest.mark.parametrize("trigger", ["payment_received", "invoice_paid"])
def test_real_events_validate_against_the_registered_event_schema(
    trigger: str, manager: ConnectorManager, ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    add(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.4567", Total="123.45", OCR="90019")
    payment = sandbox.add_payment(sandbox_tenant, DOC, AmountCurrency="123.45", PaymentDate="2026-03-01")
    sandbox.book_payment(sandbox_tenant, payment["Number"])
    spec = manager.connector("fortnox").trigger(trigger)
    check = jsonschema.Draft202012Validator(spec.event_schema, format_checker=jsonschema.FormatChecker())
    events: list[Event] = []
    cursor: str | None = None
    more = True
    while more:
        result = spec.poll(ctx, cursor)
        events += result.events
        cursor, more = result.cursor, result.more
    assert events and {e.trigger for e in events} == {trigger}  # the sandbox seeds others too
    assert [list(check.iter_errors(dict(e.payload))) for e in events] == [[] for _ in events]
    ours = [
        e.payload
        for e in events
        if str(DOC) in (e.payload.get("invoice_number"), e.payload.get("document_number"))
    ]
    assert len(ours) == 1 and ours[0]["currency"] == "EUR"
