"""Trigger backfills over recorded HTTP, through the shared poll loop (``runtime.runner.run_trigger``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fortnox_connector.context import TenantContext
from fortnox_connector.contract.records import Event, TriggerSpec
from fortnox_connector.contract.state import MemoryStateStore
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.runtime.runner import RunOutcome, run_trigger
from tests.binding import bind
from tests.cassettes.recorded import recorded
from tests.cassettes.target import START, TEST_INVOICE, Target

payment_received = pytest.importorskip("fortnox_connector.triggers.payment_received")
invoice_paid = pytest.importorskip("fortnox_connector.triggers.invoice_paid")

pytestmark = pytest.mark.vcr

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
DAY = timedelta(days=1)
BACKFILLED_PAYMENTS = 10  # the booked payments of the recorded backfill (the unbooked ones are not emitted)
BACKFILLED_SUM = Decimal("790699.19")


def spec(module: Any) -> TriggerSpec[Any]:
    schema = json.loads((SCHEMAS / module.EVENT_SCHEMA_PATH).read_text(encoding="utf-8"))
    return TriggerSpec(module.NAME, module.DESCRIPTION, schema, module.poll)


class Host:
    """A host in miniature: a clock the test moves, a state store, and the events delivered in order."""

    def __init__(self, target: Target, config: TenantConfig) -> None:
        self.target = target
        self.config = config
        self.now = START
        self.state = MemoryStateStore()
        self.delivered: list[Event] = []
        self.client = target.client()

    def later(self, delta: timedelta) -> None:
        """Move the clock (the sandbox's too when recording) and reconnect: the old token has expired."""
        self.now += delta
        sb = self.target.sandbox_only("moves the sandbox clock")
        if sb is not None:
            sb.set_clock(self.now)
        self.client.close()
        self.client = self.target.client()

    def close(self) -> None:
        self.client.close()

    def run(self, trigger: TriggerSpec[Any]) -> RunOutcome:
        ctx = TenantContext(
            tenant="cassette",
            config=self.config,
            client=self.client,
            state=self.state,
            now=lambda: self.now,
            log=logging.LoggerAdapter(logging.getLogger("tests.cassettes"), {"tenant": "cassette"}),
        )

        def deliver(events: Sequence[Event]) -> None:
            self.delivered.extend(events)

        def commit(cursor: str) -> None:
            self.state.commit_cursor("cassette", trigger.name, cursor)

        cursor = self.state.load_cursor("cassette", trigger.name)
        outcome = run_trigger(bind(trigger, ctx), cursor=cursor, deliver=deliver, commit=commit)
        assert outcome.error is None and outcome.complete
        return outcome


def check_events(events: Sequence[Event], trigger: TriggerSpec[Any]) -> None:
    validator = jsonschema.Draft202012Validator(dict(trigger.event_schema))
    for event in events:
        validator.validate(event.payload)
        assert event.payload["dedup_key"] == event.dedup_key
    assert len({e.dedup_key for e in events}) == len(events)


@pytest.fixture
def host(target: Target) -> Iterator[Host]:
    h = Host(target, TenantConfig(backfill_days=30))
    yield h
    h.close()


def test_payment_received_backfill_then_only_what_is_new(target: Target, host: Host) -> None:
    trigger = spec(payment_received)
    first = host.run(trigger)
    backfilled = list(host.delivered)
    assert backfilled and all(e.payload["booked"] is True for e in backfilled)  # booked only by default
    check_events(backfilled, trigger)
    assert first.summary.requests == first.summary.pages  # no single-payment fetches were needed
    # The values the cassette carries, read from its YAML: an amount changed anywhere fails here.
    carried = recorded(
        "test_triggers/test_payment_received_backfill_then_only_what_is_new",
        "InvoicePayments",
        "Number",
        ("Amount",),
    )
    got = {e.payload["payment_number"]: (e.payload["amount_company_currency"],) for e in backfilled}
    assert got.items() <= carried.items()
    assert got["1"] == ("9991.73",) and got["3"] == ("230444.20",)  # pinned: a re-recording must keep them
    assert len(got) == len(backfilled) == BACKFILLED_PAYMENTS
    assert sum(Decimal(v[0]) for v in got.values()) == BACKFILLED_SUM

    host.later(DAY)  # a day later, one new booked payment
    sb = target.sandbox_only("adds a payment between runs")
    if sb is not None:
        tenant, invoice = int(target.tenant_id), int(target.test_invoice())
        paid = sb.add_payment(tenant, invoice, Amount="100", AmountCurrency="100", PaymentDate="2026-03-03")
        sb.book_payment(tenant, paid["Number"])
    second = host.run(trigger)
    new = host.delivered[len(backfilled) :]
    assert [e.payload["invoice_number"] for e in new] == [TEST_INVOICE]
    assert new[0].payload["amount_company_currency"] == "100.00"
    assert second.summary.requests == 1  # one page: the window since the last run
    check_events(host.delivered, trigger)


def test_invoice_paid_backfill(host: Host) -> None:
    trigger = spec(invoice_paid)
    outcome = host.run(trigger)
    assert host.delivered and outcome.summary.events == len(host.delivered)
    carried = recorded("test_triggers/test_invoice_paid_backfill", "Invoices", "DocumentNumber", ("Total",))
    got = {e.payload["document_number"]: (e.payload["total"],) for e in host.delivered}
    assert got.items() <= carried.items() and got["1"] == ("9991.73",) and got["4"] == ("276.66",)
    for event in host.delivered:
        assert event.payload["balance"] in ("0", "0.00") and event.payload["final_pay_date"]
        assert event.payload["settled_by"] in ("payments", "mixed", "write_off", "credit_note")
    check_events(host.delivered, trigger)


def test_nothing_changed_costs_one_request_per_trigger(host: Host) -> None:
    for module in (payment_received, invoice_paid):
        host.run(spec(module))
    host.later(DAY)
    before = len(host.delivered)
    requests = [host.run(spec(module)).summary.requests for module in (payment_received, invoice_paid)]
    assert requests == [1, 1] and len(host.delivered) == before
