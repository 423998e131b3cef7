"""Fuzz: Fortnox's answers through the record parsers (``records.parse_record``, ``decoding.decode_*``).

Drifting, truncated or hostile bodies must end in ``MalformedRecord``/``Unreadable`` (the client turns
them into ``MalformedResponse``, naming the request and the tenant), never in another exception. A record
accepted with money that is not a finite number would be a silent acceptance.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from fortnox_connector.fortnox.decoding import Unreadable, decode_one, decode_page
from fortnox_connector.fortnox.records import (
    CompanyInformation,
    Currency,
    Invoice,
    InvoicePayment,
    MalformedRecord,
    ModeOfPayment,
    parse_record,
)
from tests.hardening.outcomes import tally
from tests.hardening.strategies import FUZZ, JSON, mutated

PAYMENT: dict[str, Any] = {
    "Number": "17",
    "InvoiceNumber": 9001,
    "Amount": 1250.5,
    "AmountCurrency": "109.20",
    "Currency": "EUR",
    "CurrencyRate": "11.4515",
    "CurrencyUnit": 1,
    "PaymentDate": "2026-03-01",
    "Booked": True,
    "ModeOfPayment": "BG",
    "ModeOfPaymentAccount": 1930,
    "InvoiceOCR": "90017",
    "InvoiceCustomerNumber": "10",
    "InvoiceCustomerName": "Kund AB",
    "WriteOffs": [],
}
INVOICE: dict[str, Any] = {
    "DocumentNumber": "9001",
    "CustomerNumber": "10",
    "CustomerName": "Kund AB",
    "InvoiceDate": "2026-02-20",
    "DueDate": "2026-03-20",
    "Currency": "SEK",
    "CurrencyRate": "1",
    "CurrencyUnit": 1,
    "Total": "1000.00",
    "Balance": 400,
    "Booked": "true",
    "Cancelled": False,
    "Credit": "false",
    "OCR": "90017",
    "TotalToPay": "1000.00",
}
COMPANY: dict[str, Any] = {
    "CompanyName": "Acme AB",
    "OrganizationNumber": "556677-8899",
    "DatabaseNumber": 4711,
}
MODE: dict[str, Any] = {"Code": "BG", "Description": "Bankgiro", "AccountNumber": 1930}
CURRENCY: dict[str, Any] = {
    "Code": "EUR",
    "BuyRate": "11.40",
    "SellRate": "11.50",
    "Unit": 1,
    "Date": "2026-03-01",
}
RECORDS: list[tuple[type[msgspec.Struct], dict[str, Any], str]] = [
    (InvoicePayment, PAYMENT, "InvoicePayment"),
    (Invoice, INVOICE, "Invoice"),
    (CompanyInformation, COMPANY, "CompanyInformation"),
    (ModeOfPayment, MODE, "ModeOfPayment"),
    (Currency, CURRENCY, "Currency"),
]
RECORD = st.sampled_from(RECORDS)


def _finite_money(record: object) -> str | None:
    for name in getattr(record, "__struct_fields__", ()):
        value = getattr(record, name)
        if isinstance(value, Decimal) and not value.is_finite():
            return f"{type(record).__name__}.{name} = {value}"
    return None


@FUZZ
@given(RECORD.flatmap(lambda r: st.tuples(st.just(r), mutated(r[1], sorted(r[1])))))
def test_a_drifting_record(
    case: tuple[tuple[type[msgspec.Struct], dict[str, Any], str], dict[str, Any]],
) -> None:
    (cls, _valid, _key), raw = case
    t = tally("Fortnox records")
    t.attempt(lambda: parse_record(cls, raw), clear=(MalformedRecord,), silent=_finite_money)
    t.assert_clean()


def _bodies(record: tuple[type[msgspec.Struct], dict[str, Any], str]) -> st.SearchStrategy[bytes]:
    _cls, valid, key = record
    one = mutated(valid, sorted(valid)).map(lambda r: json.dumps({key: r}, default=str).encode())
    page = st.lists(mutated(valid, sorted(valid)), max_size=3).map(
        lambda items: json.dumps(
            {
                key + "s": items,
                "MetaInformation": {"@TotalPages": 1, "@CurrentPage": 1, "@TotalResources": 1},
            },
            default=str,
        ).encode()
    )
    other = JSON.map(lambda v: json.dumps(v, default=str).encode())
    whole = st.one_of(one, page, other, st.binary(max_size=80))
    return st.tuples(whole, st.integers(min_value=0, max_value=400)).map(
        lambda pair: pair[0][: pair[1]] if pair[1] % 3 == 0 else pair[0]  # a third cut short somewhere
    )


@FUZZ
@given(RECORD.flatmap(lambda r: st.tuples(st.just(r), _bodies(r))))
def test_an_answer_body(case: tuple[tuple[type[msgspec.Struct], dict[str, Any], str], bytes]) -> None:
    (cls, _valid, key), body = case
    t = tally("Fortnox answer bodies")
    t.attempt(lambda: decode_one(body, key, cls), clear=(Unreadable,), silent=_finite_money)
    t.attempt(
        lambda: decode_page(body, key + "s", cls, 1, 500),
        clear=(Unreadable,),
        silent=lambda page: next(filter(None, map(_finite_money, page.items)), None),
    )
    t.assert_clean()
