"""Typed records of the Fortnox resources the connector reads, parsed leniently.

Fortnox's types drift (``Number`` a string, ``CurrencyRate`` sometimes a string, ``InvoiceTotal`` a string in
the single item and a number in the list, ``ModeOfPaymentAccount`` the reverse). Every parser here accepts
either form and yields ``Decimal`` for money; ``Source`` is an open set kept as a plain string.
A value that cannot be read at all raises ``MalformedRecord`` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, make_dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")
_ONE = Decimal(1)
_WORDS = {"true": True, "false": False}  # booleans as Fortnox spells them in strings (``Credit``)


class MalformedRecord(ValueError):
    """A field of a Fortnox record could not be read."""

    def __init__(self, resource: str, field: str, value: object) -> None:
        super().__init__(f"{resource}.{field} has an unreadable value of type {type(value).__name__}")
        self.resource = resource
        self.field = field


def _get(raw: Mapping[str, Any], name: str) -> Any:
    return raw.get(name)


def dec(raw: Mapping[str, Any], name: str, resource: str, default: Decimal | None = None) -> Decimal | None:
    """A Decimal from a number or a numeric string ('1 234,50' and '1234.50' both read); None stays None."""
    value = _get(raw, name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise MalformedRecord(resource, name, value)
    if isinstance(value, int | Decimal):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))  # repr keeps the shortest round-trip form: 0.1 -> Decimal('0.1')
    elif isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise MalformedRecord(resource, name, value) from None
    else:
        raise MalformedRecord(resource, name, value)
    if not result.is_finite():  # NaN or Infinity is no amount: never let it reach an event as "NaN.00"
        raise MalformedRecord(resource, name, value)
    return result


def req_dec(raw: Mapping[str, Any], name: str, resource: str) -> Decimal:
    value = dec(raw, name, resource)
    if value is None:
        raise MalformedRecord(resource, name, None)
    return value


def text(raw: Mapping[str, Any], name: str) -> str | None:
    """A string from a string or a number; '' becomes None."""
    value = _get(raw, name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def req_text(raw: Mapping[str, Any], name: str, resource: str) -> str:
    value = text(raw, name)
    if value is None:
        raise MalformedRecord(resource, name, None)
    return value


def integer(raw: Mapping[str, Any], name: str, resource: str) -> int | None:
    value = _get(raw, name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MalformedRecord(resource, name, value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise MalformedRecord(resource, name, value) from None


def boolean(raw: Mapping[str, Any], name: str, resource: str, default: bool = False) -> bool:
    """A bool from a bool or the strings 'true'/'false' (Fortnox sends ``Credit`` as a string)."""
    value = _get(raw, name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise MalformedRecord(resource, name, value)


def day(raw: Mapping[str, Any], name: str, resource: str) -> date | None:
    value = _get(raw, name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise MalformedRecord(resource, name, value)


_DAYS: dict[str, date] = {}  # date strings already read: a page's dates repeat (a few days per backfill)
_DAYS_MAX = 4096


def cached_day(raw: Mapping[str, Any], name: str, resource: str) -> date | None:
    """``day``, remembering what each date string read as (bounded: cleared when full)."""
    value = raw.get(name)
    if value.__class__ is str:
        found = _DAYS.get(value)
        if found is not None:
            return found
        parsed = day(raw, name, resource)
        if parsed is not None:
            if len(_DAYS) >= _DAYS_MAX:
                _DAYS.clear()
            _DAYS[value] = parsed
        return parsed
    return day(raw, name, resource)


def frozen_builder(cls: type[T]) -> Callable[..., T]:
    """A positional constructor for a frozen slots dataclass, several times faster than its ``__init__``.

    Why: a frozen dataclass's ``__init__`` sets every field through ``object.__setattr__`` (to get past the
    ``__setattr__`` that refuses), ~100-200 ns a field; a payment has 25 and a backfill has 100,000 of them.
    A mutable twin with the same slots, in the same order, fills them with plain stores; the instance is then
    given the frozen class, which Python allows because the two layouts are identical. The result is an
    ordinary instance of ``cls`` (frozen, hashable, equal to one built by ``__init__``). Callers pass every
    field, in declaration order. A class this does not fit (no slots of its own, a base class, a
    ``__post_init__``, a field outside ``__init__``) gets its own constructor back, so a change to it is never
    silently skipped.
    """
    own = fields(cast(Any, cls))
    names = tuple(f.name for f in own)
    if (
        cls.__dict__.get("__slots__") != names
        or cls.__bases__ != (object,)
        or hasattr(cls, "__post_init__")
        or not all(f.init for f in own)
    ):
        return cls
    twin: Any = make_dataclass(
        f"_{cls.__name__}Builder", [(f.name, f.type) for f in own], slots=True, eq=False
    )

    def build(*values: Any) -> T:
        obj = twin(*values)
        obj.__class__ = cls
        return obj  # type: ignore[no-any-return]

    return build


@dataclass(frozen=True, slots=True)
class WriteOff:
    amount: Decimal
    account_number: int | None
    cost_center: str | None
    currency: str | None
    description: str | None
    project: str | None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> WriteOff:
        r = "WriteOff"
        return cls(
            amount=req_dec(raw, "Amount", r),
            account_number=integer(raw, "AccountNumber", r),
            cost_center=text(raw, "CostCenter"),
            currency=text(raw, "Currency"),
            description=text(raw, "Description"),
            project=text(raw, "Project"),
        )


@dataclass(frozen=True, slots=True)
class InvoicePayment:
    """An invoice payment, from a list item (thin: ``complete`` False) or a single item."""

    number: str
    invoice_number: int
    amount: Decimal  # in the company's currency (SEK)
    amount_currency: Decimal | None  # in the invoice's currency
    currency: str
    currency_rate: Decimal
    currency_unit: Decimal
    payment_date: date
    booked: bool
    source: str | None
    mode_of_payment: str | None
    mode_of_payment_account: int | None
    invoice_ocr: str | None
    invoice_customer_number: str | None
    invoice_customer_name: str | None
    invoice_due_date: date | None
    invoice_total: Decimal | None
    external_invoice_reference1: str | None
    external_invoice_reference2: str | None
    voucher_number: int | None
    voucher_series: str | None
    voucher_year: int | None
    write_offs: tuple[WriteOff, ...]
    write_off_exist: bool
    complete: bool  # False when a field the events need was absent (an older, thin list item)

    DETAIL_FIELDS = ("InvoiceOCR", "InvoiceCustomerNumber", "InvoiceCustomerName", "ModeOfPayment")

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> InvoicePayment:
        """Read a payment; a backfill reads 100,000 of them, so each field has an inline fast path.

        The fast path takes only the type Fortnox usually sends (money as ``Decimal``, which is how
        ``wire.loads_lenient`` reads JSON fractions, or ``int``; ``str`` text; exact ``int``; ``bool``) and
        gives what the general reader (``dec``, ``text``, ``integer``, ``boolean``, ``day``) would; anything
        else goes to the general reader, in the same field order, so drift and errors read as before.
        """
        r = "InvoicePayment"
        get = raw.get
        v: Any
        write_offs_raw = get("WriteOffs") or []
        if not isinstance(write_offs_raw, list):
            raise MalformedRecord(r, "WriteOffs", write_offs_raw)
        payment_date = cached_day(raw, "PaymentDate", r)
        v = get("InvoiceNumber")
        invoice_number = v if v.__class__ is int else integer(raw, "InvoiceNumber", r)
        if payment_date is None:
            raise MalformedRecord(r, "PaymentDate", None)
        if invoice_number is None:
            raise MalformedRecord(r, "InvoiceNumber", None)
        v = get("Number")
        number = v if v.__class__ is str and v else req_text(raw, "Number", r)
        v = get("Amount")
        c = v.__class__
        amount = (
            v if c is Decimal and v.is_finite() else Decimal(v) if c is int else req_dec(raw, "Amount", r)
        )
        v = get("AmountCurrency")
        c = v.__class__
        amount_currency = (
            v if c is Decimal and v.is_finite() else Decimal(v) if c is int else dec(raw, "AmountCurrency", r)
        )
        v = get("Currency")
        currency = (v if v is None or v.__class__ is str else text(raw, "Currency")) or "SEK"
        v = get("CurrencyRate")
        c = v.__class__
        currency_rate = (
            v
            if c is Decimal and v.is_finite()
            else Decimal(v)
            if c is int
            else dec(raw, "CurrencyRate", r, _ONE)
        ) or _ONE
        v = get("CurrencyUnit")
        c = v.__class__
        currency_unit = (
            v
            if c is Decimal and v.is_finite()
            else Decimal(v)
            if c is int
            else dec(raw, "CurrencyUnit", r, _ONE)
        ) or _ONE
        v = get("Booked")
        booked = v if v is True or v is False else boolean(raw, "Booked", r)
        v = get("Source")
        source = (v or None) if v is None or v.__class__ is str else text(raw, "Source")
        v = get("ModeOfPayment")
        mode_of_payment = (v or None) if v is None or v.__class__ is str else text(raw, "ModeOfPayment")
        v = get("ModeOfPaymentAccount")
        c = v.__class__
        mode_of_payment_account = (
            v
            if c is int
            else int(v)
            if c is str and v.isascii() and v.isdigit()
            else integer(raw, "ModeOfPaymentAccount", r)
        )
        v = get("InvoiceOCR")
        invoice_ocr = (v or None) if v is None or v.__class__ is str else text(raw, "InvoiceOCR")
        v = get("InvoiceCustomerNumber")
        customer_number = (
            (v or None) if v is None or v.__class__ is str else text(raw, "InvoiceCustomerNumber")
        )
        v = get("InvoiceCustomerName")
        customer_name = (v or None) if v is None or v.__class__ is str else text(raw, "InvoiceCustomerName")
        due_date = cached_day(raw, "InvoiceDueDate", r)
        v = get("InvoiceTotal")
        c = v.__class__
        invoice_total = (
            v if c is Decimal and v.is_finite() else Decimal(v) if c is int else dec(raw, "InvoiceTotal", r)
        )
        v = get("ExternalInvoiceReference1")
        reference1 = (
            (v or None) if v is None or v.__class__ is str else text(raw, "ExternalInvoiceReference1")
        )
        v = get("ExternalInvoiceReference2")
        reference2 = (
            (v or None) if v is None or v.__class__ is str else text(raw, "ExternalInvoiceReference2")
        )
        v = get("VoucherNumber")
        voucher_number = v if v.__class__ is int or v is None else integer(raw, "VoucherNumber", r)
        v = get("VoucherSeries")
        voucher_series = (v or None) if v is None or v.__class__ is str else text(raw, "VoucherSeries")
        v = get("VoucherYear")
        voucher_year = v if v.__class__ is int or v is None else integer(raw, "VoucherYear", r)
        write_offs = tuple(WriteOff.parse(w) for w in write_offs_raw) if write_offs_raw else ()
        v = get("WriteOffExist")
        write_off_exist = (
            v if v is True or v is False else boolean(raw, "WriteOffExist", r, default=bool(write_offs_raw))
        )
        complete = (
            "InvoiceOCR" in raw
            and "InvoiceCustomerNumber" in raw
            and "InvoiceCustomerName" in raw
            and "ModeOfPayment" in raw
        )  # DETAIL_FIELDS, spelled out: ``all()`` over a generator costs a frame per item
        return _build_payment(
            number,
            invoice_number,
            amount,
            amount_currency,
            currency,
            currency_rate,
            currency_unit,
            payment_date,
            booked,
            source,
            mode_of_payment,
            mode_of_payment_account,
            invoice_ocr,
            customer_number,
            customer_name,
            due_date,
            invoice_total,
            reference1,
            reference2,
            voucher_number,
            voucher_series,
            voucher_year,
            write_offs,
            write_off_exist,
            complete,
        )


_build_payment = frozen_builder(InvoicePayment)


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice, from a list item or a single item (the single item has more fields, parsed if present)."""

    document_number: str
    customer_number: str | None
    customer_name: str | None
    invoice_date: date | None
    due_date: date | None
    final_pay_date: date | None
    currency: str
    currency_rate: Decimal
    currency_unit: Decimal
    total: Decimal
    balance: Decimal
    booked: bool
    cancelled: bool
    credit: bool
    ocr: str | None
    external_invoice_reference1: str | None
    external_invoice_reference2: str | None
    total_to_pay: Decimal | None

    @property
    def fully_paid(self) -> bool:
        """No FullyPaid field exists: an invoice is paid when its balance is 0 and it is not cancelled."""
        return self.balance == 0 and not self.cancelled

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Invoice:
        """Read an invoice; ``invoice_paid`` reads every invoice of a backfill, so fields have fast paths.

        As in ``InvoicePayment.parse``: the fast path takes only the type Fortnox usually sends (``Decimal``
        or ``int`` money, ``str`` text, ``bool``, and ``Credit`` as the exact strings ``"true"``/``"false"``);
        anything else goes to the general reader, in the same field order, so drift and errors read as before.
        """
        r = "Invoice"
        get = raw.get
        v: Any
        v = get("DocumentNumber")
        document_number = v if v.__class__ is str and v else req_text(raw, "DocumentNumber", r)
        v = get("CustomerNumber")
        customer_number = (v or None) if v is None or v.__class__ is str else text(raw, "CustomerNumber")
        v = get("CustomerName")
        customer_name = (v or None) if v is None or v.__class__ is str else text(raw, "CustomerName")
        invoice_date = cached_day(raw, "InvoiceDate", r)
        due_date = cached_day(raw, "DueDate", r)
        final_pay_date = cached_day(raw, "FinalPayDate", r)
        v = get("Currency")
        currency = (v if v is None or v.__class__ is str else text(raw, "Currency")) or "SEK"
        v = get("CurrencyRate")
        c = v.__class__
        currency_rate = (
            v
            if c is Decimal and v.is_finite()
            else Decimal(v)
            if c is int
            else dec(raw, "CurrencyRate", r, _ONE)
        ) or _ONE
        v = get("CurrencyUnit")
        c = v.__class__
        currency_unit = (
            v
            if c is Decimal and v.is_finite()
            else Decimal(v)
            if c is int
            else dec(raw, "CurrencyUnit", r, _ONE)
        ) or _ONE
        v = get("Total")
        c = v.__class__
        total = v if c is Decimal and v.is_finite() else Decimal(v) if c is int else req_dec(raw, "Total", r)
        v = get("Balance")
        c = v.__class__
        balance = (
            v if c is Decimal and v.is_finite() else Decimal(v) if c is int else req_dec(raw, "Balance", r)
        )
        v = get("Booked")
        booked = v if v is True or v is False else boolean(raw, "Booked", r)
        v = get("Cancelled")
        cancelled = v if v is True or v is False else boolean(raw, "Cancelled", r)
        v = get("Credit")  # a string in Fortnox's lists
        credit = (
            v
            if v is True or v is False
            else _WORDS[v]
            if v.__class__ is str and v in _WORDS
            else boolean(raw, "Credit", r)
        )
        v = get("OCR")
        ocr = (v or None) if v is None or v.__class__ is str else text(raw, "OCR")
        v = get("ExternalInvoiceReference1")
        reference1 = (
            (v or None) if v is None or v.__class__ is str else text(raw, "ExternalInvoiceReference1")
        )
        v = get("ExternalInvoiceReference2")
        reference2 = (
            (v or None) if v is None or v.__class__ is str else text(raw, "ExternalInvoiceReference2")
        )
        v = get("TotalToPay")
        c = v.__class__
        total_to_pay = (
            v if c is Decimal and v.is_finite() else Decimal(v) if c is int else dec(raw, "TotalToPay", r)
        )
        return _build_invoice(
            document_number,
            customer_number,
            customer_name,
            invoice_date,
            due_date,
            final_pay_date,
            currency,
            currency_rate,
            currency_unit,
            total,
            balance,
            booked,
            cancelled,
            credit,
            ocr,
            reference1,
            reference2,
            total_to_pay,
        )


_build_invoice = frozen_builder(Invoice)


@dataclass(frozen=True, slots=True)
class CompanyInformation:
    company_name: str | None
    organization_number: str | None
    database_number: int | None  # the tenant id used by service accounts' TenantId header

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> CompanyInformation:
        r = "CompanyInformation"
        return cls(
            company_name=text(raw, "CompanyName"),
            organization_number=text(raw, "OrganizationNumber"),
            database_number=integer(raw, "DatabaseNumber", r),
        )


@dataclass(frozen=True, slots=True)
class Currency:
    """A currency of the company's settings (``GET /3/currencies/{Code}``): its rates and their date.

    ``BuyRate``/``SellRate`` are SEK per ``Unit`` units; with automatic rates Fortnox takes them from
    Riksbanken every weekday at 16:15 (support.fortnox.se, "Automatisk uppdatering av valutakurser").
    """

    code: str
    buy_rate: Decimal | None
    sell_rate: Decimal | None
    unit: Decimal
    date: date | None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Currency:
        r = "Currency"
        return cls(
            code=req_text(raw, "Code", r),
            buy_rate=dec(raw, "BuyRate", r),
            sell_rate=dec(raw, "SellRate", r),
            unit=dec(raw, "Unit", r, _ONE) or _ONE,
            date=day(raw, "Date", r),
        )


@dataclass(frozen=True, slots=True)
class ModeOfPayment:
    code: str
    description: str | None
    account_number: int | None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ModeOfPayment:
        r = "ModeOfPayment"
        return cls(
            code=req_text(raw, "Code", r),
            description=text(raw, "Description"),
            account_number=integer(raw, "AccountNumber", r),
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a Fortnox list, with its ``MetaInformation``."""

    items: tuple[T, ...]
    current_page: int
    total_pages: int
    total_resources: int

    @property
    def last(self) -> bool:
        return self.current_page >= self.total_pages
