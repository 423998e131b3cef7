"""Property: the claim check. Whatever other keys paid the same amount on the same day, a retry after a
crash takes only its own payment (if it landed) and otherwise posts one — never another key's."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fortnox_connector.actions import register_payment
from fortnox_connector.actions.inputs import read_payment_request
from fortnox_connector.context import TenantContext
from fortnox_connector.contract.state import IdempotencyRecord, MemoryStateStore
from fortnox_connector.sandbox import Sandbox, SandboxOptions
from tests.actions.support import CONFIG, Recorder, make_client, make_ctx
from tests.conftest import SANDBOX_START

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])
DOCS = itertools.count(20_000)


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Sandbox, int, TenantContext]]:
    """One sandbox for every example (a fresh invoice and state per example keep them apart)."""
    options = SandboxOptions(rate_limit=False, start=SANDBOX_START, frozen_clock=True)
    with Sandbox.start(options, host="127.0.0.1", port=0) as sandbox:
        tenant = sandbox.tenant_ids()[0]
        token = str(sandbox.issue_token(tenant)["access_token"])
        with make_client(sandbox.base_url, token, str(tenant), Recorder()) as client:
            yield sandbox, tenant, make_ctx(client, MemoryStateStore(), str(tenant))


def _pay(doc: int, key: str) -> dict[str, Any]:
    return {
        "invoice": {"document_number": str(doc)},
        "amount": "100.00",
        "currency": "SEK",
        "payment_date": "2026-03-01",
        "idempotency_key": key,
    }


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(others=st.integers(min_value=0, max_value=3), ours_landed=st.booleans())
def test_a_retry_takes_only_its_own_payment(
    world: tuple[Sandbox, int, TenantContext], others: int, ours_landed: bool
) -> None:
    sandbox, tenant, base = world
    doc = next(DOCS)
    sandbox.add_invoice(tenant, DocumentNumber=doc, Total="1000.00", InvoiceDate="2026-02-20")
    ctx = TenantContext(base.tenant, base.config, base.client, MemoryStateStore(), base.now, base.log)
    theirs = {register_payment.run(ctx, _pay(doc, f"other-{i}"))["payment_number"] for i in range(others)}
    req = read_payment_request(_pay(doc, "mine"), CONFIG, ctx.tenant)
    planned = {
        "invoice_number": str(doc),
        "amount": "100.00",
        "amount_currency": "100.00",
        "currency": "SEK",
        "currency_rate": "1",
        "payment_date": "2026-03-01",
        "mode_of_payment": "BG",
        "mode_of_payment_account": 1930,
    }
    landed = None
    if ours_landed:  # our POST reached Fortnox, then the process died before it learnt the number
        landed = ctx.client.create_invoice_payment(
            {
                "InvoiceNumber": doc,
                "Amount": "100.00",
                "AmountCurrency": "100.00",
                "Currency": "SEK",
                "CurrencyRate": "1",
                "PaymentDate": "2026-03-01",
                "ModeOfPayment": "BG",
                "ModeOfPaymentAccount": 1930,
            }
        ).number
    pending = IdempotencyRecord(
        key="mine",
        fingerprint=req.fingerprint,
        status="pending",
        result={"planned": planned, "known_payments": []},
    )
    ctx.state.save_idempotency(ctx.tenant, pending)

    out = register_payment.run(ctx, _pay(doc, "mine"))

    assert out["payment_number"] not in theirs  # never another key's payment
    if landed is not None:
        assert out["payment_number"] == landed  # its own, found again: no second POST
    paid = [p for p in sandbox.payments(tenant) if int(p["InvoiceNumber"]) == doc]
    assert len(paid) == others + 1  # one payment per key, whatever happened
