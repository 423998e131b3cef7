"""invoice_paid under trouble, as payment_received is tested in test_reliability.py: a crash between
delivery and commit re-emits the same dedup keys; 429 storms, 5xx and dropped connections mid-backfill end
with every paid invoice delivered once. A backfill of 1,100 paid invoices is three pages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from fortnox_connector.sandbox import Sandbox
from tests.triggers.support import (
    INVOICES,
    Crash,
    Host,
    crash_on_commit,
    inject_after_first_delivery,
    run_until_complete,
)

LIST = "/3/invoices"
EXTRA = 1100


def seed_paid(sandbox: Sandbox, tenant: int, n: int) -> set[str]:
    """``n`` more invoices paid in full; returns the dedup keys of every fully paid invoice of the tenant."""
    for _ in range(n):
        doc = sandbox.add_invoice(tenant, Total="100.00", InvoiceDate="2026-02-01")["DocumentNumber"]
        sandbox.add_payment(tenant, doc, AmountCurrency="100.00", PaymentDate="2026-02-02")
    with sandbox.store.lock:
        invoices = sandbox.store.tenant(tenant).invoices.values()
        paid = [i for i in invoices if i.balance == 0 and not i.cancelled and not i.credit]
    return {f"fortnox:{tenant}:invoice:{i.document_number}:paid" for i in paid}


def test_crash_between_delivery_and_commit_re_emits_the_same_keys(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    expected = seed_paid(sandbox, sandbox_tenant, EXTRA)
    host = make_host()
    host.on_commit = crash_on_commit(2)
    with pytest.raises(Crash):
        host.run(INVOICES)
    page2 = host.keys()[500:]
    assert len(page2) == 500

    host.on_commit = None
    outcome = host.run(INVOICES)  # restarts from the cursor committed after page 1

    assert outcome.complete
    counts = Counter(host.keys())
    assert set(counts) == expected
    assert {k for k, c in counts.items() if c == 2} == set(page2)  # the same keys, again
    assert max(counts.values()) == 2


@pytest.mark.parametrize(("kind", "count"), [("429", 12), ("503", 9), ("drop", 2)])
def test_faults_mid_backfill_end_with_every_paid_invoice_once(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host], kind: str, count: int
) -> None:
    expected = seed_paid(sandbox, sandbox_tenant, EXTRA)
    host = make_host()
    host.on_deliver = inject_after_first_delivery(sandbox, kind, count, LIST)
    run_until_complete(host, INVOICES, sandbox_tenant)
    assert sandbox.stats.faults == count
    assert Counter(host.keys()) == Counter(expected)  # every paid invoice, each once
