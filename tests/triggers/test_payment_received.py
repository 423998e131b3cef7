"""payment_received on the sandbox: windows, incremental runs, overlap dedup, filters, modes, money."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from fortnox_connector.fortnox.client import FortnoxClient
from fortnox_connector.sandbox import Sandbox
from fortnox_connector.triggers import payment_received
from fortnox_connector.triggers.cursor import decode
from fortnox_connector.triggers.window import STOCKHOLM
from tests.triggers.support import Host, Recorder

LIST = "/3/invoicepayments"


def _numbers(host: Host) -> list[str]:
    return [str(p["payment_number"]) for p in host.payloads()]


def _in_window(sandbox: Sandbox, tenant: int, since: datetime, *, booked_only: bool = True) -> list[str]:
    """Payment numbers the sandbox holds changed at or after ``since`` (its naive Stockholm stamps)."""
    naive = since.astimezone(STOCKHOLM).replace(tzinfo=None)
    with sandbox.store.lock:
        payments = sandbox.store.tenant(tenant).payments.values()
        return [
            str(p.number)
            for p in sorted(payments, key=lambda p: p.number)
            if p.modified >= naive and (p.booked or not booked_only)
        ]


def _set_modified(sandbox: Sandbox, tenant: int, number: str, when: datetime) -> None:
    with sandbox.store.lock:
        sandbox.store.payment(sandbox.store.tenant(tenant), int(number)).modified = when.astimezone(
            STOCKHOLM
        ).replace(tzinfo=None)


def _invoice(sandbox: Sandbox, tenant: int, **fields: object) -> int:
    fields.setdefault("InvoiceDate", "2026-02-01")
    return int(sandbox.add_invoice(tenant, **fields)["DocumentNumber"])


def test_first_run_backfills_booked_payments_from_midnight_n_days_back(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host], recorder: Recorder
) -> None:
    inv = _invoice(sandbox, sandbox_tenant, Total="500.00")
    old = sandbox.add_payment(sandbox_tenant, inv, AmountCurrency="100.00", Booked=True)
    _set_modified(sandbox, sandbox_tenant, old["Number"], datetime(2026, 2, 27, 23, 59, tzinfo=STOCKHOLM))
    host = make_host(backfill_days=2)

    outcome = host.run()

    assert outcome.complete and outcome.error is None
    since = datetime(2026, 2, 28, tzinfo=STOCKHOLM)
    assert recorder.params(LIST)[0]["lastmodified"] == "2026-02-28 00:00"
    expected = _in_window(sandbox, sandbox_tenant, since)
    assert _numbers(host) == expected and old["Number"] not in expected
    assert 0 < len(expected) < len(_in_window(sandbox, sandbox_tenant, since - timedelta(days=30)))
    assert all(p["booked"] for p in host.payloads())
    assert outcome.summary.pages == 1 and outcome.summary.requests == 1
    assert outcome.summary.events == len(host.delivered)
    unbooked = len(_in_window(sandbox, sandbox_tenant, since, booked_only=False)) - len(expected)
    assert outcome.summary.skipped == unbooked > 0


def test_incremental_run_asks_from_the_last_start_minus_the_overlap(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host], recorder: Recorder
) -> None:
    host = make_host(lastmodified_overlap_minutes=90)
    host.run()
    first = len(host.delivered)
    sandbox.advance(24 * 3600)  # the next day, 10:00
    inv = _invoice(sandbox, sandbox_tenant, Total="300.00")
    new = sandbox.add_payment(sandbox_tenant, inv, AmountCurrency="300.00", Booked=True)

    outcome = host.run()

    # run 1 started 2026-03-02 10:00; minus 90 minutes, Stockholm wall time
    assert recorder.params(LIST)[-1]["lastmodified"] == "2026-03-02 08:30"
    assert _numbers(host)[first:] == [new["Number"]]
    assert outcome.summary.events == 1


def test_payments_emitted_inside_the_overlap_are_dropped_next_run(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    host = make_host()
    inv = _invoice(sandbox, sandbox_tenant, Total="900.00")
    recent = sandbox.add_payment(sandbox_tenant, inv, AmountCurrency="100.00", Booked=True)
    host.run()
    assert recent["Number"] in _numbers(host)
    sandbox.advance(30 * 60)  # 30 minutes later: run 1's overlap still covers `recent`

    outcome = host.run()

    in_overlap = _in_window(
        sandbox, sandbox_tenant, sandbox.now() - timedelta(minutes=120), booked_only=False
    )
    assert recent["Number"] in in_overlap
    assert outcome.summary.events == 0 and outcome.summary.skipped == len(in_overlap)
    keys = host.keys()
    assert len(keys) == len(set(keys))


def test_nothing_changed_costs_one_request(
    sandbox: Sandbox, make_host: Callable[..., Host], client: FortnoxClient
) -> None:
    host = make_host()
    host.run()
    sandbox.advance(6 * 3600)
    before = client.requests_sent

    outcome = host.run()

    assert client.requests_sent - before == 1
    assert outcome.summary.requests == 1 and outcome.summary.events == 0 and outcome.complete


def test_filters_skip_and_count(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    low = _invoice(sandbox, sandbox_tenant, DocumentNumber=5000, Total="100.00")
    high = _invoice(sandbox, sandbox_tenant, DocumentNumber=6000, Total="100.00")
    sandbox.add_payment(sandbox_tenant, low, AmountCurrency="10.00", PaymentDate="2026-03-01", Booked=True)
    early = sandbox.add_payment(
        sandbox_tenant, high, AmountCurrency="10.00", PaymentDate="2026-02-15", Booked=True
    )
    kept = sandbox.add_payment(
        sandbox_tenant, high, AmountCurrency="10.00", PaymentDate="2026-03-01", Booked=True
    )
    host = make_host(ignore_payments_before=date(2026, 2, 20), ignore_invoice_numbers_below=5500)

    outcome = host.run()

    assert _numbers(host) == [kept["Number"]]
    assert outcome.summary.skipped == len(sandbox.payments(sandbox_tenant)) - 1
    assert early["Number"] not in _numbers(host)


def test_unbooked_payment_is_emitted_once_booked_in_the_default_mode(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    host = make_host()
    host.run()
    inv = _invoice(sandbox, sandbox_tenant, Total="250.00")
    pay = sandbox.add_payment(sandbox_tenant, inv, AmountCurrency="250.00")
    sandbox.advance(3600)
    host.run()
    assert pay["Number"] not in _numbers(host)

    sandbox.advance(3 * 3600)
    sandbox.book_payment(sandbox_tenant, pay["Number"])
    sandbox.advance(3600)
    host.run()
    sandbox.advance(60)
    host.run()

    mine = [e for e in host.delivered if e.payload["payment_number"] == pay["Number"]]
    assert [e.dedup_key for e in mine] == [f"fortnox:{sandbox_tenant}:payment:{pay['Number']}:booked"]
    assert mine[0].payload["voucher"] is not None and mine[0].payload["booked"] is True


def test_all_mode_emits_unbooked_then_booked_under_two_keys(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    host = make_host(emit_unbooked_payments=True)
    inv = _invoice(sandbox, sandbox_tenant, Total="250.00")
    pay = sandbox.add_payment(sandbox_tenant, inv, AmountCurrency="250.00")
    host.run()
    assert len(host.delivered) == len(sandbox.payments(sandbox_tenant))  # every payment, booked or not
    sandbox.advance(600)
    sandbox.book_payment(sandbox_tenant, pay["Number"])
    sandbox.advance(600)
    host.run()
    host.run()

    mine = [e for e in host.delivered if e.payload["payment_number"] == pay["Number"]]
    prefix = f"fortnox:{sandbox_tenant}:payment:{pay['Number']}"
    assert [e.dedup_key for e in mine] == [f"{prefix}:unbooked", f"{prefix}:booked"]
    assert [e.payload["booked"] for e in mine] == [False, True]
    assert mine[0].payload["voucher"] is None
    assert len(host.keys()) == len(set(host.keys()))


def test_multi_currency_amounts_are_exact_to_the_ore(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    eur = _invoice(sandbox, sandbox_tenant, Currency="EUR", CurrencyRate="11.2345", Total="1000.10")
    usd = _invoice(sandbox, sandbox_tenant, Currency="USD", CurrencyRate="10.4567", Total="77.77")
    p_eur = sandbox.add_payment(sandbox_tenant, eur, AmountCurrency="100.05", Booked=True)
    p_usd = sandbox.add_payment(
        sandbox_tenant, usd, AmountCurrency="0.10", Amount="1.05", Booked=True, rate_as_string=True
    )
    host = make_host()

    host.run()

    by_number = {p["payment_number"]: p for p in host.payloads()}
    e = by_number[p_eur["Number"]]
    assert e["currency"] == "EUR" and e["currency_rate"] == "11.2345" and e["currency_unit"] == "1"
    assert e["amount_invoice_currency"] == "100.05"
    assert e["amount_company_currency"] == "1124.01"  # 100.05 x 11.2345 = 1124.011..., Fortnox's öre
    assert e["invoice_total"] == "1000.10"
    u = by_number[p_usd["Number"]]
    assert (u["amount_company_currency"], u["amount_invoice_currency"]) == ("1.05", "0.10")
    assert u["currency_rate"] == "10.4567"  # served as a string, read the same
    for payload in host.payloads():
        assert Decimal(str(payload["amount_company_currency"])).as_tuple().exponent == -2


def test_event_holds_what_issue_4_lists(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host]
) -> None:
    inv = _invoice(
        sandbox,
        sandbox_tenant,
        Total="1250.00",
        OCR="133",
        CustomerNumber="42",
        CustomerName="Kund 42 AB",
        ExternalInvoiceReference1="PO-7",
    )
    pay = sandbox.add_payment(
        sandbox_tenant,
        inv,
        AmountCurrency="1250.00",
        PaymentDate="2026-03-01",
        ModeOfPayment="PG",
        Source="autogiro",
        Booked=True,
    )
    host = make_host()

    host.run()

    (event,) = [e for e in host.delivered if e.payload["payment_number"] == pay["Number"]]
    p = event.payload
    assert p["tenant"] == str(sandbox_tenant) and p["invoice_number"] == str(inv) and p["ocr"] == "133"
    assert p["payment_date"] == "2026-03-01" and p["mode_of_payment"] == "PG"
    assert p["mode_of_payment_account"] == 1920 and p["source"] == "autogiro"
    assert (p["customer_number"], p["customer_name"]) == ("42", "Kund 42 AB")
    assert p["external_invoice_reference1"] == "PO-7" and p["external_invoice_reference2"] is None
    assert p["voucher"]["series"] == "C" and isinstance(p["voucher"]["number"], int)
    assert p["write_offs"] == []
    observed = datetime.fromisoformat(str(p["observed_at"]))
    assert observed.utcoffset() is not None and observed == sandbox.now()


def test_cursor_is_versioned_json_naming_its_trigger(make_host: Callable[..., Host]) -> None:
    host = make_host()
    outcome = host.run()
    assert outcome.cursor is not None
    cursor = decode(outcome.cursor, tenant="t", trigger=payment_received.NAME)
    assert cursor.run is None
    assert cursor.since == datetime(2026, 3, 2, 8, 30, tzinfo=STOCKHOLM)


def test_a_payment_booked_after_summer_time_ends_is_not_missed(
    sandbox: Sandbox, sandbox_tenant: int, make_host: Callable[..., Host], caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.set_clock(datetime(2026, 10, 25, 2, 50, tzinfo=STOCKHOLM))  # 02:50 CEST, the first 02:50
    host = make_host(lastmodified_overlap_minutes=30)  # too little: the 65-minute floor applies
    host.run()
    inv = _invoice(sandbox, sandbox_tenant, Total="100.00")
    sandbox.set_clock(datetime(2026, 10, 25, 2, 5, fold=1, tzinfo=STOCKHOLM))  # 02:05 CET, 15 min later
    pay = sandbox.add_payment(sandbox_tenant, inv, AmountCurrency="100.00", Booked=True)
    sandbox.advance(3600)

    host.run()

    assert pay["Number"] in _numbers(host)
    assert "lastmodified_overlap_minutes is 30, too short" in caplog.text
