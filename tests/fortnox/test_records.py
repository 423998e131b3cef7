"""Lenient parsing of Fortnox's type drift into typed records: Decimal money, an open set of Sources, and a
named field when a value cannot be read. Then every record the sandbox serves, read through the client."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest

from fortnox_connector.fortnox.errors import MalformedResponse
from fortnox_connector.fortnox.records import Invoice, InvoicePayment, MalformedRecord
from fortnox_connector.fortnox.wire import loads_lenient
from fortnox_connector.sandbox import Sandbox
from tests.fortnox.live import Bearer, sandbox_client

LIST_ITEM: dict[str, Any] = {  # as the list serves it: numbers where the single item has strings
    "Number": 17,
    "InvoiceNumber": "1003",
    "Amount": 1414.33,
    "AmountCurrency": 123.45,
    "Currency": "EUR",
    "CurrencyRate": "11,4567",
    "CurrencyUnit": 1,
    "PaymentDate": "2026-03-01",
    "Booked": "true",
    "Source": "autogiro",
    "ModeOfPaymentAccount": "1930",
    "InvoiceTotal": 250,
}


def test_a_payment_reads_every_drift_into_exact_types() -> None:
    p = InvoicePayment.parse(LIST_ITEM)
    assert p.number == "17" and p.invoice_number == 1003
    assert p.amount == Decimal("1414.33") and type(p.amount) is Decimal
    assert p.amount_currency == Decimal("123.45") and p.currency_rate == Decimal("11.4567")
    assert p.booked is True and p.mode_of_payment_account == 1930 and p.invoice_total == Decimal(250)
    assert p.payment_date == date(2026, 3, 1)
    assert p.complete is False  # a thin list item: the events fetch the single item


def test_the_single_item_forms_read_the_same() -> None:
    single = {
        **LIST_ITEM,
        "Number": "17",
        "InvoiceNumber": 1003,
        "CurrencyRate": 11.4567,
        "ModeOfPaymentAccount": 1930,
        "InvoiceTotal": "250.00",
        "Booked": True,
    }
    single.update({k: "x" for k in InvoicePayment.DETAIL_FIELDS})
    a, b = InvoicePayment.parse(LIST_ITEM), InvoicePayment.parse(single)
    assert (a.number, a.invoice_number, a.currency_rate, a.mode_of_payment_account, a.invoice_total) == (
        b.number,
        b.invoice_number,
        b.currency_rate,
        b.mode_of_payment_account,
        b.invoice_total,
    )
    assert b.complete is True


@pytest.mark.parametrize(
    "source", ["manual", "direct", "file", "finance", "settle", "a-source-from-2030", None]
)
def test_source_is_an_open_set(source: str | None) -> None:
    assert InvoicePayment.parse({**LIST_ITEM, "Source": source}).source == source


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1 234,50", "1234.50"),
        ("1\u00a0234.50", "1234.50"),
        (0.1, "0.1"),
        (1234567.89, "1234567.89"),
        (5, "5"),
    ],
)
def test_money_is_exact_whatever_its_spelling(raw: object, expected: str) -> None:
    assert InvoicePayment.parse({**LIST_ITEM, "Amount": raw}).amount == Decimal(expected)


@pytest.mark.parametrize(
    ("field", "value"),
    [("Amount", "ten"), ("Amount", True), ("PaymentDate", "yesterday"), ("Booked", "ja"), ("Number", None)],
)
def test_an_unreadable_value_names_its_field(field: str, value: object) -> None:
    with pytest.raises(MalformedRecord) as caught:
        InvoicePayment.parse({**LIST_ITEM, field: value})
    assert caught.value.field == field and f"InvoicePayment.{field}" in str(caught.value)


def test_an_invoice_reads_credit_as_a_string_and_has_no_fully_paid_field() -> None:
    raw = {"DocumentNumber": 9, "Total": "-100", "Balance": 0, "Credit": "true", "Cancelled": False}
    inv = Invoice.parse(raw)
    assert inv.credit is True and inv.total == Decimal(-100) and inv.fully_paid is True
    assert Invoice.parse({**raw, "Cancelled": True}).fully_paid is False
    assert inv.currency == "SEK" and inv.currency_rate == Decimal(1)


def test_every_record_the_sandbox_serves_reads_through_the_client(sandbox: Sandbox) -> None:
    """The sandbox seeds every recorded quirk (strings for numbers, string rates, Sources beyond two)."""
    for tenant in sandbox.tenant_ids():
        token = str(sandbox.issue_token(tenant)["access_token"])
        with sandbox_client(sandbox, Bearer(token), str(tenant)) as client:
            payments = client.list_invoice_payments().items
            invoices = client.list_invoices().items
            singles = [client.get_invoice_payment(p.number) for p in payments]
            full = [client.get_invoice(i.document_number) for i in invoices]
        assert len(payments) == 20 and len(invoices) == 30
        assert all(s.complete for s in singles)
        assert [s.amount for s in singles] == [p.amount for p in payments]
        assert [f.balance for f in full] == [i.balance for i in invoices]
        assert {p.source for p in payments} - {"manual", "direct"}
        assert {p.currency for p in payments} >= {"SEK", "EUR"}
        money = (
            [p.amount for p in payments] + [i.total for i in invoices] + [p.currency_rate for p in payments]
        )
        assert all(type(m) is Decimal for m in money)


def test_money_from_the_wire_never_passes_through_a_float() -> None:
    data = loads_lenient(b'{"InvoicePayments":[{"Amount":1414.33,"CurrencyRate":11.234567890123456789}]}')
    [raw] = data["InvoicePayments"]
    assert raw["Amount"] == Decimal("1414.33") and type(raw["Amount"]) is Decimal
    assert raw["CurrencyRate"] == Decimal("11.234567890123456789")  # a float would keep 17 digits at most


FULL_ITEM: dict[str, Any] = {
    **LIST_ITEM,
    "InvoiceOCR": "10017",
    "InvoiceCustomerNumber": "2",
    "InvoiceCustomerName": "Kund 2 AB",
    "ModeOfPayment": "BG",
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1.10", "1.10"), ("1e2", "1E+2"), (Decimal("1.10"), "1.10"), ("\u00a01\u00a0000,5 ", "1000.5")],
)
def test_money_keeps_the_digits_it_was_sent_with(raw: object, expected: str) -> None:
    p = InvoicePayment.parse({**LIST_ITEM, "Amount": raw, "InvoiceTotal": raw})
    assert p.amount.as_tuple() == p.invoice_total.as_tuple() == Decimal(expected).as_tuple()  # type: ignore[union-attr]


@pytest.mark.parametrize("raw", [float("nan"), float("inf"), "NaN", "Infinity", "-inf", Decimal("NaN")])
@pytest.mark.parametrize(
    "field", ["Amount", "AmountCurrency", "InvoiceTotal", "CurrencyRate", "CurrencyUnit"]
)
def test_non_finite_money_is_malformed_never_an_amount(field: str, raw: object) -> None:
    with pytest.raises(MalformedRecord) as caught:
        InvoicePayment.parse({**LIST_ITEM, field: raw})
    assert caught.value.field == field


def test_of_several_non_finite_values_the_first_in_field_order_is_named() -> None:
    with pytest.raises(MalformedRecord) as caught:
        InvoicePayment.parse({**LIST_ITEM, "CurrencyUnit": "NaN", "InvoiceTotal": "Infinity"})
    assert caught.value.field == "InvoiceTotal"


@pytest.mark.parametrize("raw", [None, "", 0, "0,00"])
def test_an_absent_or_zero_rate_reads_as_one_and_an_absent_currency_as_sek(raw: object) -> None:
    p = InvoicePayment.parse({**LIST_ITEM, "CurrencyRate": raw, "CurrencyUnit": raw, "Currency": None})
    assert (p.currency_rate, p.currency_unit, p.currency) == (Decimal(1), Decimal(1), "SEK")


@pytest.mark.parametrize(
    ("raw", "expected"), [(" 1930 ", 1930), ("+5", 5), ("007", 7), ("", None), (None, None)]
)
def test_integers_read_from_numbers_and_digit_strings(raw: object, expected: int | None) -> None:
    p = InvoicePayment.parse({**LIST_ITEM, "ModeOfPaymentAccount": raw, "VoucherYear": raw})
    assert (p.mode_of_payment_account, p.voucher_year) == (expected, expected)


@pytest.mark.parametrize(("raw", "expected"), [(17, "17"), (True, "true"), ("", None), (None, None)])
def test_text_reads_from_numbers_and_booleans_and_blank_is_none(raw: object, expected: str | None) -> None:
    p = InvoicePayment.parse(
        {**FULL_ITEM, "Source": raw, "InvoiceOCR": raw, "ExternalInvoiceReference1": raw}
    )
    assert (p.source, p.invoice_ocr, p.external_invoice_reference1) == (expected,) * 3


@pytest.mark.parametrize("raw", ["2026-03-01", " 2026-03-01 ", "2026-03-01T10:00"])
def test_dates_read_with_or_without_a_time(raw: str) -> None:
    assert InvoicePayment.parse({**LIST_ITEM, "PaymentDate": raw}).payment_date == date(2026, 3, 1)


@pytest.mark.parametrize(
    "field",
    [
        "InvoiceOCR",
        "InvoiceCustomerNumber",
        "InvoiceCustomerName",
        "ModeOfPayment",
        "Source",
        "VoucherSeries",
        "ExternalInvoiceReference1",
        "ExternalInvoiceReference2",
    ],
)
def test_each_blank_text_field_alone_reads_as_none_and_keeps_the_payment_complete(field: str) -> None:
    p = InvoicePayment.parse({**FULL_ITEM, field: ""})
    name = _name(field)
    assert getattr(p, name) is None and p.complete is True
    others = {i.name for i in msgspec.structs.fields(InvoicePayment) if i.encode_name in FULL_ITEM} - {name}
    assert all(getattr(p, o) == getattr(InvoicePayment.parse(FULL_ITEM), o) for o in others)


def _name(field: str) -> str:
    return next(i.name for i in msgspec.structs.fields(InvoicePayment) if i.encode_name == field)


def test_a_thin_list_item_is_flagged_and_a_null_detail_is_not_thin() -> None:
    assert InvoicePayment.parse(FULL_ITEM).complete is True
    for field in InvoicePayment.DETAIL_FIELDS:
        thin = InvoicePayment.parse({k: v for k, v in FULL_ITEM.items() if k != field})
        assert thin.complete is False
        assert getattr(thin, _name(field)) is None
        assert "\x00" not in repr(thin)  # no stand-in for "absent" is left on the record
    assert InvoicePayment.parse({**FULL_ITEM, "InvoiceOCR": None}).complete is True


def test_write_offs_are_read_as_records_and_flag_themselves() -> None:
    p = InvoicePayment.parse({**LIST_ITEM, "WriteOffs": [{"Amount": "5,50", "AccountNumber": "3740"}]})
    assert p.write_offs[0].amount == Decimal("5.50") and p.write_offs[0].account_number == 3740
    assert p.write_off_exist is True
    with pytest.raises(MalformedRecord) as caught:
        InvoicePayment.parse({**LIST_ITEM, "WriteOffs": [{"Amount": "x"}]})
    assert (caught.value.resource, caught.value.field) == ("WriteOff", "Amount")


def test_a_page_with_one_drifting_record_reads_whole_through_the_client(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_ids()[0]
    token = str(sandbox.issue_token(tenant)["access_token"])
    body = {"InvoicePayments": [LIST_ITEM, {**LIST_ITEM, "Number": 18, "Amount": "1 234,50"}]}  # no Meta
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    with sandbox_client(sandbox, Bearer(token), str(tenant), transport=transport) as client:
        page = client.list_invoice_payments()
    assert [p.amount for p in page.items] == [Decimal("1414.33"), Decimal("1234.50")]
    assert (page.current_page, page.total_pages, page.last) == (1, 1, True)  # short page, no Meta: the last


def test_json_nan_money_is_a_malformed_answer_naming_the_field(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_ids()[0]
    token = str(sandbox.issue_token(tenant)["access_token"])
    body = (
        b'{"InvoicePayment": {"Number": "1", "InvoiceNumber": 1, "PaymentDate": "2026-03-01", "Amount": NaN}}'
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    client = sandbox_client(sandbox, Bearer(token), str(tenant), transport=transport)
    with client, pytest.raises(MalformedResponse, match=r"InvoicePayment\.Amount") as caught:
        client.get_invoice_payment("1")
    assert isinstance(caught.value.__cause__, MalformedRecord)
