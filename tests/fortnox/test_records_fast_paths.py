"""``InvoicePayment.parse``'s per-field fast paths read exactly what the general readers read.

The fast paths take only the common wire types (float/int money, str text, int, bool); these tests pin the
edges where a fast path could drift from ``dec``/``text``/``integer``/``boolean``/``day``.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from fortnox_connector.fortnox import records
from fortnox_connector.fortnox.records import InvoicePayment, MalformedRecord, WriteOff
from fortnox_connector.fortnox.wire import loads_lenient

BASE: dict[str, Any] = {
    "Number": "12",
    "InvoiceNumber": 5,
    "Amount": 100.5,
    "AmountCurrency": 10.25,
    "Currency": "EUR",
    "CurrencyRate": 11.2345,
    "CurrencyUnit": 1,
    "PaymentDate": "2026-11-20",
    "Booked": True,
    "Source": "manual",
    "ModeOfPayment": "BG",
    "ModeOfPaymentAccount": "1930",
    "InvoiceOCR": "10017",
    "InvoiceCustomerNumber": "2",
    "InvoiceCustomerName": "Kund 2 AB",
    "InvoiceDueDate": "2026-12-10",
    "InvoiceTotal": 19978.17,
    "ExternalInvoiceReference1": "",
    "ExternalInvoiceReference2": "",
    "VoucherNumber": 1,
    "VoucherSeries": "C",
    "VoucherYear": 3,
    "WriteOffs": [],
    "WriteOffExist": False,
}


MONEY_FIELDS = ["Amount", "AmountCurrency", "CurrencyRate", "CurrencyUnit", "InvoiceTotal"]


def parse(**changes: Any) -> InvoicePayment:
    return InvoicePayment.parse({**BASE, **changes})


def exact(value: Decimal | None) -> tuple[Any, ...] | None:
    """Digits and exponent too: ``Decimal('1.10') == Decimal('1.1')`` but they print differently."""
    return None if value is None else tuple(value.as_tuple())


def test_a_list_item_reads_every_field() -> None:
    p = parse()
    assert (p.number, p.invoice_number, p.currency, p.payment_date) == ("12", 5, "EUR", date(2026, 11, 20))
    assert (p.amount, p.amount_currency, p.currency_rate, p.currency_unit) == (
        Decimal("100.5"),
        Decimal("10.25"),
        Decimal("11.2345"),
        Decimal(1),
    )
    assert p.invoice_total == Decimal("19978.17")
    assert (p.mode_of_payment, p.mode_of_payment_account, p.source) == ("BG", 1930, "manual")
    assert (p.invoice_ocr, p.invoice_customer_number, p.invoice_customer_name) == ("10017", "2", "Kund 2 AB")
    assert p.invoice_due_date == date(2026, 12, 10)
    assert (p.external_invoice_reference1, p.external_invoice_reference2) == (None, None)
    assert (p.voucher_series, p.voucher_number, p.voucher_year) == ("C", 1, 3)
    assert (p.booked, p.write_offs, p.write_off_exist, p.complete) == (True, (), False, True)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (1124.01, "1124.01"),  # JSON number read through its shortest repr, exact to the öre
        (0.1, "0.1"),
        (1050, "1050"),
        (-5, "-5"),
        (0, "0"),
        (1e16, "1E+16"),  # float repr '1e+16'
        (1.5e-7, "1.5E-7"),
        ("1 234,50", "1234.50"),
        ("1234.50", "1234.50"),  # a string keeps its trailing zero
        ("1e2", "1E+2"),
        ("\u00a01\u00a0000,5 ", "1000.5"),
        (Decimal("1.10"), "1.10"),
    ],
)
def test_money_from_numbers_and_strings(wire: object, expected: str) -> None:
    p = parse(Amount=wire, AmountCurrency=wire, InvoiceTotal=wire)
    for value in (p.amount, p.amount_currency, p.invoice_total):
        assert exact(value) == exact(Decimal(expected))


@pytest.mark.parametrize(
    ("json_number", "expected"),
    [
        ("1124.01", "1124.01"),
        ("1.10", "1.10"),
        ("1050", "1050"),
        ("1e2", "1E+2"),
        ("-0.5", "-0.5"),
        ("0", "0"),
    ],
)
def test_money_from_the_wire_keeps_its_json_digits(json_number: str, expected: str) -> None:
    body = "{" + ", ".join(f'"{k}": {json_number}' for k in MONEY_FIELDS) + "}"
    p = parse(**loads_lenient(body.encode()))
    for value in (p.amount, p.amount_currency, p.invoice_total):
        assert type(value) is Decimal
        assert exact(value) == exact(Decimal(expected))
    if Decimal(expected) != 0:
        assert exact(p.currency_rate) == exact(p.currency_unit) == exact(Decimal(expected))


@pytest.mark.parametrize("wire", [None, ""])
def test_absent_money(wire: object) -> None:
    p = parse(AmountCurrency=wire, InvoiceTotal=wire, CurrencyRate=wire, CurrencyUnit=wire)
    assert (p.amount_currency, p.invoice_total) == (None, None)
    assert (p.currency_rate, p.currency_unit) == (Decimal(1), Decimal(1))


@pytest.mark.parametrize("wire", [0, 0.0, "0", "0,00"])
def test_a_zero_rate_or_unit_reads_as_one(wire: object) -> None:
    p = parse(CurrencyRate=wire, CurrencyUnit=wire)
    assert (p.currency_rate, p.currency_unit) == (Decimal(1), Decimal(1))


def test_rate_as_a_string_keeps_its_digits() -> None:
    assert exact(parse(CurrencyRate="11.23450").currency_rate) == exact(Decimal("11.23450"))
    assert exact(parse(CurrencyRate="10,5").currency_rate) == exact(Decimal("10.5"))


@pytest.mark.parametrize("wire", [math.inf, math.nan, "NaN", "Infinity", "-inf", Decimal("NaN")])
@pytest.mark.parametrize("field", ["Amount", "AmountCurrency", "InvoiceTotal"])
def test_non_finite_money_is_malformed_never_an_amount(field: str, wire: object) -> None:
    """NaN or Infinity is no amount: the record names the field instead of an event saying "NaN.00"."""
    with pytest.raises(MalformedRecord) as info:
        parse(**{field: wire})
    assert info.value.field == field


def test_json_nan_and_infinity_reach_the_records_as_text_and_are_refused() -> None:
    raw = loads_lenient(b'{"Amount": NaN, "InvoiceTotal": Infinity}')
    assert raw == {"Amount": "NaN", "InvoiceTotal": "Infinity"}


@pytest.mark.parametrize(
    "field", ["Amount", "AmountCurrency", "CurrencyRate", "CurrencyUnit", "InvoiceTotal"]
)
@pytest.mark.parametrize("wire", [True, False, "abc", [], {}])
def test_unreadable_money_is_malformed(field: str, wire: object) -> None:
    with pytest.raises(MalformedRecord) as raised:
        parse(**{field: wire})
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("1930", 1930),
        (1930, 1930),
        (" 1930 ", 1930),
        ("+5", 5),
        ("-3", -3),
        ("007", 7),
        (None, None),
        ("", None),
    ],
)
def test_integers_from_numbers_and_strings(wire: object, expected: int | None) -> None:
    p = parse(ModeOfPaymentAccount=wire, VoucherNumber=wire, VoucherYear=wire)
    assert (p.mode_of_payment_account, p.voucher_number, p.voucher_year) == (expected, expected, expected)


@pytest.mark.parametrize("wire", ["²", "1930a", "1.5", True, 1.5, "  "])  # blank is not '': int('') fails
@pytest.mark.parametrize("field", ["ModeOfPaymentAccount", "VoucherNumber", "VoucherYear", "InvoiceNumber"])
def test_unreadable_integers_are_malformed(field: str, wire: object) -> None:
    with pytest.raises(MalformedRecord) as raised:
        parse(**{field: wire})
    assert raised.value.field == field


def test_invoice_number_as_a_string() -> None:
    assert parse(InvoiceNumber="1002").invoice_number == 1002


@pytest.mark.parametrize(
    ("wire", "expected"), [(True, True), (False, False), ("true", True), ("FALSE", False), (" True ", True)]
)
def test_booleans_and_booleans_as_strings(wire: object, expected: bool) -> None:
    p = parse(Booked=wire, WriteOffExist=wire)
    assert (p.booked, p.write_off_exist) == (expected, expected)


@pytest.mark.parametrize("wire", ["yes", 1, 0, "1"])
def test_unreadable_booleans_are_malformed(wire: object) -> None:
    with pytest.raises(MalformedRecord) as raised:
        parse(Booked=wire)
    assert raised.value.field == "Booked"


def test_absent_booleans_take_their_defaults() -> None:
    p = parse(Booked=None, WriteOffExist="", WriteOffs=[{"Amount": 5}])
    assert p.booked is False
    assert p.write_off_exist is True  # flagged by the write-offs themselves
    assert p.write_offs == (WriteOff(Decimal(5), None, None, None, None, None),)


@pytest.mark.parametrize(
    ("wire", "expected"), [("x", "x"), ("", None), (None, None), (17, "17"), (True, "true"), (1.5, "1.5")]
)
def test_text_from_strings_numbers_and_booleans(wire: object, expected: str | None) -> None:
    p = parse(Source=wire, InvoiceOCR=wire, VoucherSeries=wire, ExternalInvoiceReference1=wire)
    assert (p.source, p.invoice_ocr, p.voucher_series, p.external_invoice_reference1) == (expected,) * 4


def test_number_may_be_a_number_but_not_absent() -> None:
    assert parse(Number=17).number == "17"
    for wire in ("", None):
        with pytest.raises(MalformedRecord) as raised:
            parse(Number=wire)
        assert raised.value.field == "Number"


def test_currency_defaults_to_sek() -> None:
    assert parse(Currency="").currency == "SEK"
    assert parse(Currency=None).currency == "SEK"


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("2026-11-20", date(2026, 11, 20)),
        (" 2026-11-20 ", date(2026, 11, 20)),
        ("2026-11-20T10:00", date(2026, 11, 20)),
    ],
)
def test_dates(wire: str, expected: date) -> None:
    assert parse(PaymentDate=wire, InvoiceDueDate=wire).payment_date == expected
    assert parse(PaymentDate=wire, InvoiceDueDate=wire).invoice_due_date == expected  # second read: cached


@pytest.mark.parametrize("wire", ["2026-13-01", "x", 20261120])
def test_unreadable_dates_are_malformed_every_time(wire: object) -> None:
    for _ in range(2):  # a refused string is never remembered as a date
        with pytest.raises(MalformedRecord) as raised:
            parse(InvoiceDueDate=wire)
        assert raised.value.field == "InvoiceDueDate"


def test_the_date_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "_DAYS_MAX", 3)
    records._DAYS.clear()
    for d in range(1, 10):
        assert parse(PaymentDate=f"2026-01-{d:02d}").payment_date == date(2026, 1, d)
        assert len(records._DAYS) <= 3


def test_missing_payment_date_or_invoice_number_is_malformed() -> None:
    for field in ("PaymentDate", "InvoiceNumber"):
        raw = dict(BASE)
        del raw[field]
        with pytest.raises(MalformedRecord) as raised:
            InvoicePayment.parse(raw)
        assert raised.value.field == field


def test_the_first_bad_field_is_named_in_the_general_order() -> None:
    with pytest.raises(MalformedRecord) as raised:
        parse(Amount="x", Booked="maybe", VoucherYear="y")
    assert raised.value.field == "Amount"
    with pytest.raises(MalformedRecord) as raised:
        parse(InvoiceNumber="n", PaymentDate="d")
    assert raised.value.field == "PaymentDate"


def test_thin_items_are_flagged_incomplete() -> None:
    for field in InvoicePayment.DETAIL_FIELDS:
        raw = dict(BASE)
        del raw[field]
        assert not InvoicePayment.parse(raw).complete
    assert parse(InvoiceOCR=None).complete  # present (null) is not thin


def test_a_parsed_payment_is_an_ordinary_frozen_record() -> None:
    p = parse()
    rebuilt = InvoicePayment(**{f.name: getattr(p, f.name) for f in dataclasses.fields(InvoicePayment)})
    assert type(p) is InvoicePayment
    assert p == rebuilt
    assert hash(p) == hash(rebuilt)
    assert repr(p) == repr(rebuilt)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.amount = Decimal(0)  # type: ignore[misc]
    assert dataclasses.replace(p, number="13").number == "13"


def test_frozen_builder_makes_ordinary_instances() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Pair:
        left: int
        right: tuple[int, ...]

    build = records.frozen_builder(Pair)
    built = build(1, (2,))
    assert type(built) is Pair
    assert built == Pair(1, (2,))
    assert hash(built) == hash(Pair(1, (2,)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.left = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        build(1)  # every field, no defaults


def test_frozen_builder_falls_back_to_the_class_where_the_twin_would_not_fit() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        left: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        left: int

        def __post_init__(self) -> None:
            if self.left < 0:
                raise ValueError("negative")

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived(Checked):
        right: int = 0

    for cls in (NoSlots, Checked, Derived):
        assert records.frozen_builder(cls) is cls
    with pytest.raises(ValueError, match="negative"):
        records.frozen_builder(Checked)(-1)  # __post_init__ still runs
