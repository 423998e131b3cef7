"""``Invoice.parse``'s per-field fast paths read exactly what the general readers read.

Every field is fed the wire forms Fortnox sends and the drift it might, and the result (or the error, and the
field it names) is compared with a reference that reads every field through the general readers only.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from fortnox_connector.fortnox.records import (
    Invoice,
    MalformedRecord,
    boolean,
    day,
    dec,
    req_dec,
    req_text,
    text,
)
from fortnox_connector.fortnox.wire import loads_lenient

LIST_ITEM: dict[str, Any] = {
    "@url": "https://api.fortnox.se/3/invoices/1001",
    "Balance": 0,
    "Booked": True,
    "Cancelled": False,
    "Credit": "false",
    "Currency": "EUR",
    "CurrencyRate": Decimal("11.2345"),
    "CurrencyUnit": 1,
    "CustomerName": "Kund 2 AB",
    "CustomerNumber": "2",
    "DocumentNumber": "1001",
    "DueDate": "2026-12-10",
    "ExternalInvoiceReference1": "PO-7",
    "ExternalInvoiceReference2": "",
    "FinalPayDate": "2026-11-20",
    "InvoiceDate": "2026-11-10",
    "OCR": "10017",
    "Total": Decimal("19978.17"),
    "TotalToPay": Decimal("19978.17"),
}


def reference(raw: Mapping[str, Any]) -> Invoice:
    """``Invoice.parse`` as written before the fast paths: every field through its general reader."""
    r = "Invoice"
    return Invoice(
        document_number=req_text(raw, "DocumentNumber", r),
        customer_number=text(raw, "CustomerNumber"),
        customer_name=text(raw, "CustomerName"),
        invoice_date=day(raw, "InvoiceDate", r),
        due_date=day(raw, "DueDate", r),
        final_pay_date=day(raw, "FinalPayDate", r),
        currency=text(raw, "Currency") or "SEK",
        currency_rate=dec(raw, "CurrencyRate", r, Decimal(1)) or Decimal(1),
        currency_unit=dec(raw, "CurrencyUnit", r, Decimal(1)) or Decimal(1),
        total=req_dec(raw, "Total", r),
        balance=req_dec(raw, "Balance", r),
        booked=boolean(raw, "Booked", r),
        cancelled=boolean(raw, "Cancelled", r),
        credit=boolean(raw, "Credit", r),
        ocr=text(raw, "OCR"),
        external_invoice_reference1=text(raw, "ExternalInvoiceReference1"),
        external_invoice_reference2=text(raw, "ExternalInvoiceReference2"),
        total_to_pay=dec(raw, "TotalToPay", r),
    )


def outcome(read: Any, raw: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a reader made of ``raw``: each field, its exact type and a Decimal's digits; or the error."""
    try:
        inv = read(raw)
    except MalformedRecord as exc:
        return ("malformed", exc.field, str(exc))
    values = []
    for f in dataclasses.fields(Invoice):
        value = getattr(inv, f.name)
        shown = value.as_tuple() if isinstance(value, Decimal) else value
        values.append((f.name, type(value).__name__, repr(shown)))  # repr: NaN is never equal to itself
    return ("read", type(inv).__name__, tuple(values))


MONEY = ["CurrencyRate", "CurrencyUnit", "Total", "Balance", "TotalToPay"]
TEXT = ["DocumentNumber", "CustomerNumber", "CustomerName", "Currency", "OCR", "ExternalInvoiceReference1"]
DATES = ["InvoiceDate", "DueDate", "FinalPayDate"]
BOOLS = ["Booked", "Cancelled", "Credit"]
ABSENT = object()

WIRE: dict[str, list[Any]] = {
    "money": [
        0,
        -5,
        1050,
        Decimal("0"),
        Decimal("0.00"),
        Decimal("1.10"),
        Decimal("-100"),
        Decimal("1E+2"),
        0.1,
        1124.01,
        0.0,
        math.inf,
        math.nan,
        "1 234,50",
        "1234.50",
        "0",
        "\u00a01\u00a0000,5 ",
        "",
        None,
        ABSENT,
        True,
        False,
        "abc",
        [],
        {},
    ],
    "text": ["x", "1001", "", None, ABSENT, 17, 0, 1.5, True, False, Decimal("1.10"), " "],
    "dates": [
        "2026-11-20",
        " 2026-11-20 ",
        "2026-11-20T10:00",
        "",
        None,
        ABSENT,
        "2026-13-01",
        "x",
        20261120,
    ],
    "bools": [
        True,
        False,
        "true",
        "false",
        "TRUE",
        "False",
        " true ",
        "",
        None,
        ABSENT,
        "yes",
        "1",
        1,
        0,
    ],
}
CASES = [
    (field, value)
    for group, names in (("money", MONEY), ("text", TEXT), ("dates", DATES), ("bools", BOOLS))
    for field in names
    for value in WIRE[group]
]


def item(**changes: Any) -> dict[str, Any]:
    raw = {**LIST_ITEM, **changes}
    return {k: v for k, v in raw.items() if v is not ABSENT}


@pytest.mark.parametrize(("field", "wire"), CASES, ids=[f"{f}={v!r}" for f, v in CASES])
def test_every_field_reads_as_the_general_reader_reads_it(field: str, wire: Any) -> None:
    raw = item(**{field: wire})
    assert outcome(Invoice.parse, raw) == outcome(reference, raw)


def test_a_list_item_reads_every_field() -> None:
    inv = Invoice.parse(LIST_ITEM)
    assert (inv.document_number, inv.customer_number, inv.customer_name) == ("1001", "2", "Kund 2 AB")
    assert (inv.invoice_date, inv.due_date, inv.final_pay_date) == (
        date(2026, 11, 10),
        date(2026, 12, 10),
        date(2026, 11, 20),
    )
    assert (inv.currency, inv.currency_rate, inv.currency_unit) == ("EUR", Decimal("11.2345"), Decimal(1))
    assert (inv.total, inv.balance, inv.total_to_pay) == (
        Decimal("19978.17"),
        Decimal(0),
        Decimal("19978.17"),
    )
    assert (inv.booked, inv.cancelled, inv.credit, inv.fully_paid) == (True, False, False, True)
    assert inv.ocr == "10017"
    assert (inv.external_invoice_reference1, inv.external_invoice_reference2) == ("PO-7", None)


@pytest.mark.parametrize(
    "body",
    [
        b'{"DocumentNumber": "7", "Total": 1124.01, "Balance": 0, "CurrencyRate": 1.10, "Credit": "true"}',
        b'{"DocumentNumber": 7, "Total": -5, "Balance": 1e2, "CurrencyRate": 0, "TotalToPay": null}',
        b'{"DocumentNumber": "7", "Total": "1 000,50", "Balance": "0", "Credit": "false", "Booked": "true"}',
    ],
)
def test_json_from_the_wire_reads_as_the_general_reader_reads_it(body: bytes) -> None:
    raw = loads_lenient(body)
    assert outcome(Invoice.parse, raw) == outcome(reference, raw)


def test_the_first_bad_field_is_named_in_the_general_order() -> None:
    raw = item(Total="x", Credit="maybe", TotalToPay="y", InvoiceDate="d")
    assert outcome(Invoice.parse, raw)[:2] == ("malformed", "InvoiceDate")
    raw = item(Total="x", Credit="maybe", TotalToPay="y")
    assert outcome(Invoice.parse, raw)[:2] == ("malformed", "Total")
    no_number = item(DocumentNumber=None, Total=None)
    assert outcome(Invoice.parse, no_number)[:2] == ("malformed", "DocumentNumber")
    for field in ("DocumentNumber", "Total", "Balance"):
        assert outcome(Invoice.parse, item(**{field: ABSENT}))[:2] == ("malformed", field)


def test_a_parsed_invoice_is_an_ordinary_frozen_record() -> None:
    inv = Invoice.parse(LIST_ITEM)
    rebuilt = Invoice(**{f.name: getattr(inv, f.name) for f in dataclasses.fields(Invoice)})
    assert type(inv) is Invoice
    assert inv == rebuilt and hash(inv) == hash(rebuilt) and repr(inv) == repr(rebuilt)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inv.balance = Decimal(1)  # type: ignore[misc]
    assert dataclasses.replace(inv, credit=True).credit is True
