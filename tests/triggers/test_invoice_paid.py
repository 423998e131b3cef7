"""invoice_paid on the sandbox: paid in full (not before), once, filters, credit invoices, currencies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fortnox_connector.fortnox.client import FortnoxClient
from fortnox_connector.sandbox import Sandbox
from tests.triggers.support import INVOICES, Host, Recorder

LIST = "/3/invoices"


def _docs(host: Host) -> list[str]:
    return [str(p["document_number"]) for p in host.payloads()]


def _fully_paid(sandbox: Sandbox, tenant: int) -> list[str]:
    with sandbox.store.lock:
        invoices = sandbox.store.tenant(tenant).invoices.values()
        return [
            str(i.document_number)
            for i in sorted(invoices, key=lambda i: i.document_number)
            if i.balance == 0 and not i.cancelled and not i.credit and i.final_pay_date is not None
        ]


def _invoice(sandbox: Sandbox, tenant: int, **fields: object) -> int:
    fields.setdefault("InvoiceDate", "2026-02-01")
    return int(sandbox.add_invoice(tenant, **fields)["DocumentNumber"])


def test_backfill_emits_every_fully_paid_invoice_once(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host], recorder: Recorder
) -> None:
    host = make_host()

    outcome = host.run(INVOICES)

    expected = _fully_paid(sandbox, sandbox_tenant)
    assert expected and _docs(host) == expected
    assert recorder.params(LIST)[0]["filter"] == "fullypaid"
    assert recorder.params(LIST)[0]["lastmodified"] == "2026-01-31 00:00"
    assert host.keys() == [f"fortnox:{sandbox_tenant}:invoice:{d}:paid" for d in expected]
    assert outcome.summary.events == len(expected)
    assert outcome.summary.requests == 1 + len(expected)  # the list, then each invoice's payments


def test_partial_then_final_payment_emits_once_when_paid_in_full(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    host = make_host()
    host.run(INVOICES)
    doc = _invoice(sandbox, sandbox_tenant, Total="1000.00", OCR="4711", ExternalInvoiceReference2="ORDER-9")
    sandbox.advance(3600)
    sandbox.add_payment(sandbox_tenant, doc, AmountCurrency="400.00", PaymentDate="2026-03-02")
    host.run(INVOICES)
    assert str(doc) not in _docs(host)

    sandbox.advance(2 * 86400)
    sandbox.add_payment(sandbox_tenant, doc, AmountCurrency="600.00", PaymentDate="2026-03-04")
    sandbox.advance(3600)
    host.run(INVOICES)
    sandbox.advance(600)
    again = host.run(INVOICES)

    mine = [p for p in host.payloads() if p["document_number"] == str(doc)]
    assert len(mine) == 1
    event = mine[0]
    assert (event["total"], event["balance"], event["currency"]) == ("1000.00", "0.00", "SEK")
    assert event["final_pay_date"] == "2026-03-04" and event["ocr"] == "4711"
    assert event["external_invoice_reference2"] == "ORDER-9"
    assert event["external_invoice_reference1"] is None
    assert again.summary.events == 0 and again.summary.skipped == 1  # inside the overlap: dropped


def test_credit_invoices_are_skipped_and_counted(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    credit = _invoice(
        sandbox, sandbox_tenant, Total="200.00", Credit=True, Balance="0", FinalPayDate="2026-03-01"
    )
    host = make_host()

    outcome = host.run(INVOICES)

    assert str(credit) not in _docs(host)
    assert outcome.summary.skipped == 1


def test_filters_skip_and_count(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    low = _invoice(sandbox, sandbox_tenant, DocumentNumber=700, Total="10.00")
    early = _invoice(sandbox, sandbox_tenant, DocumentNumber=800, Total="10.00")
    kept = _invoice(sandbox, sandbox_tenant, DocumentNumber=900, Total="10.00")
    sandbox.add_payment(sandbox_tenant, low, PaymentDate="2026-03-01")
    sandbox.add_payment(sandbox_tenant, early, PaymentDate="2026-02-10")
    sandbox.add_payment(sandbox_tenant, kept, PaymentDate="2026-03-01")
    host = make_host(ignore_invoice_numbers_below=750, ignore_payments_before=date(2026, 2, 20))

    outcome = host.run(INVOICES)

    assert _docs(host) == [str(kept)]
    assert outcome.summary.skipped == len(_fully_paid(sandbox, sandbox_tenant)) - 1


def test_foreign_currency_invoice_keeps_its_currency_and_rate(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    doc = _invoice(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.2345", Total="99.95")
    sandbox.add_payment(sandbox_tenant, doc, AmountCurrency="99.95", PaymentDate="2026-03-02")
    host = make_host()

    host.run(INVOICES)

    (event,) = [p for p in host.payloads() if p["document_number"] == str(doc)]
    assert (event["total"], event["currency"], event["currency_rate"]) == ("99.95", "EUR", "11.2345")
    assert event["currency_unit"] == "1" and event["final_pay_date"] == "2026-03-02"


def test_nothing_changed_costs_one_request(
    sandbox: Sandbox, make_host: Callable[..., Host], client: FortnoxClient
) -> None:
    host = make_host()
    host.run(INVOICES)
    sandbox.advance(12 * 3600)
    before = client.requests_sent

    outcome = host.run(INVOICES)

    assert client.requests_sent - before == 1 and outcome.summary.requests == 1
    assert outcome.summary.events == 0 and outcome.complete


def test_an_invoice_paid_by_a_payment_not_yet_booked_is_announced(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    # docs/triggers.md: invoice_paid follows Fortnox's Balance, which unbooked payments already lower, so it
    # announces the invoice while payment_received (booked only, by default) has not announced the payment
    payments, invoices = make_host(), make_host()
    payments.run()
    invoices.run(INVOICES)
    doc = _invoice(sandbox, sandbox_tenant, Total="500.00")
    sandbox.advance(600)
    paid = sandbox.add_payment(sandbox_tenant, doc, AmountCurrency="500.00", PaymentDate="2026-03-02")
    assert paid["Booked"] is False
    sandbox.advance(3600)

    assert payments.run().summary.events == 0
    invoices.run(INVOICES)

    assert str(doc) in _docs(invoices)
    assert not [p for p in payments.payloads() if p["payment_number"] == paid["Number"]]
