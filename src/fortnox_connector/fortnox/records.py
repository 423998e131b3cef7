"""Typed records of the Fortnox resources the connector reads: one msgspec ``Struct`` per record.

A Struct declares each field once — its Python name, Fortnox's name (``rename``), its type — and msgspec
decodes an answer's bytes straight into those records (``Decimal`` money from the JSON digits, never a
float). Fortnox's types drift (``Number`` a number or a string, ``CurrencyRate`` sometimes a string,
``InvoiceTotal`` a string in the single item and a number in the list, ``Credit`` the string ``"true"``):

- msgspec's lax mode (``strict=False``) reads what it can from strings: ``"1930"`` as an int, ``"true"``
  (any case, or ``"1"``/``"0"``) as a bool, ``"250.00"`` as a Decimal;
- what it cannot (``"1 234,50"``, a number where text is expected, ``""`` for an absent value, a date with a
  time) is mended by ``lenient``, a pass driven by the declared field types, used only when the fast decode
  refused (so the usual page costs nothing for it);
- each record's ``__post_init__`` keeps the rules a type cannot say: money must be finite (NaN is no amount),
  ``""`` text is None, an absent or zero rate is 1, an absent currency is SEK.

A value that still cannot be read raises ``MalformedRecord`` naming the record and the field (never the
value: it may be a customer's data). ``Source`` is an open set kept as a plain string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, ClassVar, Final, Generic, TypeVar, get_args

import msgspec
from msgspec.structs import force_setattr

T = TypeVar("T")
S = TypeVar("S", bound=msgspec.Struct)
_ONE = Decimal(1)
_ABSENT: Final = "\x00absent"  # default of the detail fields: tells a key left out from one sent as null


class MalformedRecord(ValueError):
    """A field of a Fortnox record could not be read."""

    def __init__(self, resource: str, field: str, why: str = "an unreadable value") -> None:
        super().__init__(f"{resource}.{field} has {why}")
        self.resource = resource
        self.field = field


def _fortnox_name(name: str, exceptions: Mapping[str, str]) -> str:
    """``invoice_due_date`` → ``InvoiceDueDate``; acronyms (``OCR``) are listed as exceptions."""
    return exceptions.get(name) or "".join(part.capitalize() for part in name.split("_"))


def _names(**exceptions: str) -> Callable[[str], str]:
    return lambda name: _fortnox_name(name, exceptions)


def _finite(record: msgspec.Struct, resource: str, *names: str) -> None:
    """NaN or Infinity is no amount: refuse it here rather than let an event say "NaN.00"."""
    for name in names:
        value = getattr(record, name)
        if value is not None and not value.is_finite():
            raise MalformedRecord(resource, _wire_name(type(record), name), "a value that is not finite")


def _blank_to_none(record: msgspec.Struct, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(record, name) == "":
            force_setattr(record, name, None)


def _currency(record: InvoicePayment | Invoice) -> None:
    """An empty currency is SEK; a zero rate or unit reads as 1 (absent ones default to SEK and 1).

    Their finiteness is checked with the amounts, before: a 0 or absent value is finite either way.
    """
    if not record.currency:
        force_setattr(record, "currency", "SEK")
    if not record.currency_rate:
        force_setattr(record, "currency_rate", _ONE)
    if not record.currency_unit:
        force_setattr(record, "currency_unit", _ONE)


class WriteOff(msgspec.Struct, frozen=True, kw_only=True, rename=_names(), gc=False):
    amount: Decimal
    account_number: int | None = None
    cost_center: str | None = None
    currency: str | None = None
    description: str | None = None
    project: str | None = None

    def __post_init__(self) -> None:
        _finite(self, "WriteOff", "amount")
        _blank_to_none(self, ("cost_center", "currency", "description", "project"))


_PAYMENT_TEXT = (
    "source",
    "voucher_series",
    "external_invoice_reference1",
    "external_invoice_reference2",
)
_PAYMENT_DETAIL = ("invoice_ocr", "invoice_customer_number", "invoice_customer_name", "mode_of_payment")
_PAYMENT_MONEY = ("amount", "amount_currency", "invoice_total", "currency_rate", "currency_unit")


class InvoicePayment(
    msgspec.Struct, frozen=True, kw_only=True, rename=_names(invoice_ocr="InvoiceOCR"), dict=False, gc=False
):
    """An invoice payment, from a list item (thin: ``complete`` False) or a single item."""

    number: str
    invoice_number: int
    amount: Decimal  # in the company's currency (SEK)
    amount_currency: Decimal | None = None  # in the invoice's currency
    currency: str = "SEK"
    currency_rate: Decimal = _ONE
    currency_unit: Decimal = _ONE
    payment_date: date
    booked: bool = False
    source: str | None = None
    mode_of_payment: str | None = _ABSENT
    mode_of_payment_account: int | None = None
    invoice_ocr: str | None = _ABSENT
    invoice_customer_number: str | None = _ABSENT
    invoice_customer_name: str | None = _ABSENT
    invoice_due_date: date | None = None
    invoice_total: Decimal | None = None
    external_invoice_reference1: str | None = None
    external_invoice_reference2: str | None = None
    voucher_number: int | None = None
    voucher_series: str | None = None
    voucher_year: int | None = None
    write_offs: tuple[WriteOff, ...] = ()
    write_off_exist: bool = False  # also True when write-offs are listed
    # Not on the wire: False when a field the events need was absent (an older, thin list item).
    complete: bool = msgspec.field(default=False, name="~complete")

    DETAIL_FIELDS: ClassVar[tuple[str, ...]] = (
        "InvoiceOCR",
        "InvoiceCustomerNumber",
        "InvoiceCustomerName",
        "ModeOfPayment",
    )

    def __post_init__(self) -> None:
        """Runs for every record of every page, so the usual record (finite amounts, every detail field
        present, no ``""``, a currency and its rate) is recognised in a few comparisons and left as is;
        only a record that needs mending goes through the field-by-field helpers."""
        amount_currency, invoice_total = self.amount_currency, self.invoice_total
        if not (
            self.amount.is_finite()
            and (amount_currency is None or amount_currency.is_finite())
            and (invoice_total is None or invoice_total.is_finite())
            and self.currency_rate.is_finite()
            and self.currency_unit.is_finite()
        ):
            _finite(self, "InvoicePayment", *_PAYMENT_MONEY)  # raises, naming the first such field
        details = (
            self.invoice_ocr,
            self.invoice_customer_number,
            self.invoice_customer_name,
            self.mode_of_payment,
        )
        complete = _ABSENT not in details
        if not complete or "" in details:
            for name, value in zip(_PAYMENT_DETAIL, details, strict=True):
                if value == _ABSENT or value == "":
                    force_setattr(self, name, None)
        force_setattr(self, "complete", complete)
        if "" in (
            self.source,
            self.voucher_series,
            self.external_invoice_reference1,
            self.external_invoice_reference2,
        ):
            _blank_to_none(self, _PAYMENT_TEXT)
        if not (self.currency and self.currency_rate and self.currency_unit):
            _currency(self)
        if self.write_offs and not self.write_off_exist:
            force_setattr(self, "write_off_exist", True)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> InvoicePayment:
        return parse_record(cls, raw)


_INVOICE_TEXT = (
    "customer_number",
    "customer_name",
    "ocr",
    "external_invoice_reference1",
    "external_invoice_reference2",
)


class Invoice(msgspec.Struct, frozen=True, kw_only=True, rename=_names(ocr="OCR"), dict=False):
    """An invoice, from a list item or a single item (the single item has more fields, read if present)."""

    document_number: str
    customer_number: str | None = None
    customer_name: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    final_pay_date: date | None = None
    currency: str = "SEK"
    currency_rate: Decimal = _ONE
    currency_unit: Decimal = _ONE
    total: Decimal
    balance: Decimal
    booked: bool = False
    cancelled: bool = False
    credit: bool = False
    ocr: str | None = None
    external_invoice_reference1: str | None = None
    external_invoice_reference2: str | None = None
    total_to_pay: Decimal | None = None
    # On a debit invoice: the credit invoice that credits it; on a credit invoice: the invoice it credits.
    credit_invoice_reference: str | None = None

    def __post_init__(self) -> None:
        _finite(self, "Invoice", "total", "balance", "total_to_pay", "currency_rate", "currency_unit")
        _blank_to_none(self, _INVOICE_TEXT)
        if self.credit_invoice_reference in ("", "0"):  # "0": no reference, as Fortnox's number fields say
            force_setattr(self, "credit_invoice_reference", None)
        _currency(self)

    @property
    def fully_paid(self) -> bool:
        """No FullyPaid field exists: an invoice is paid when its balance is 0 and it is not cancelled."""
        return self.balance == 0 and not self.cancelled

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Invoice:
        return parse_record(cls, raw)


class CompanyInformation(msgspec.Struct, frozen=True, kw_only=True, rename=_names()):
    company_name: str | None = None
    organization_number: str | None = None
    database_number: int | None = None  # the tenant id used by service accounts' TenantId header

    def __post_init__(self) -> None:
        _blank_to_none(self, ("company_name", "organization_number"))

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> CompanyInformation:
        return parse_record(cls, raw)


class Currency(msgspec.Struct, frozen=True, kw_only=True, rename=_names()):
    """A currency of the company's settings (``GET /3/currencies/{Code}``): its rates and their date.

    ``BuyRate``/``SellRate`` are SEK per ``Unit`` units; with automatic rates Fortnox takes them from
    Riksbanken every weekday at 16:15 (support.fortnox.se, "Automatisk uppdatering av valutakurser").
    """

    code: str
    buy_rate: Decimal | None = None
    sell_rate: Decimal | None = None
    unit: Decimal = _ONE
    date: date | None = None

    def __post_init__(self) -> None:
        if not self.code:
            raise MalformedRecord("Currency", "Code", "no value")
        _finite(self, "Currency", "buy_rate", "sell_rate", "unit")
        if not self.unit:
            force_setattr(self, "unit", _ONE)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Currency:
        return parse_record(cls, raw)


class ModeOfPayment(msgspec.Struct, frozen=True, kw_only=True, rename=_names()):
    code: str
    description: str | None = None
    account_number: int | None = None

    def __post_init__(self) -> None:
        if not self.code:
            raise MalformedRecord("ModeOfPayment", "Code", "no value")
        _blank_to_none(self, ("description",))

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ModeOfPayment:
        return parse_record(cls, raw)


class Page(msgspec.Struct, Generic[T], frozen=True):
    """One page of a Fortnox list, with its ``MetaInformation``."""

    items: tuple[T, ...]
    current_page: int
    total_pages: int
    total_resources: int

    @property
    def last(self) -> bool:
        return self.current_page >= self.total_pages


# -- reading ------------------------------------------------------------------------------------------------
_INTEGER = re.compile(r"[+-]?\d+")
_PATH_KEYS = re.compile(r"\.([^.\[\]`]+)")


def parse_record(cls: type[S], raw: Mapping[str, Any]) -> S:
    """One record from a decoded JSON object (``wire.loads_lenient``), with the drift mended."""
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError:
        pass
    try:
        return msgspec.convert(lenient(cls, raw), cls, strict=False)
    except msgspec.ValidationError as exc:
        raise malformed(cls, exc) from None


def lenient(cls: type[msgspec.Struct], raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` with each value mended towards its field's declared type; unknown keys pass unchanged.

    ``""`` and null are None where the field allows it, else the field keeps its default; money strings
    lose spaces and take ``,`` as the decimal mark; a float becomes the Decimal of its shortest repr;
    integers are read from signed digit strings; booleans from ``" True "``; text from numbers and
    booleans; dates from their first ten characters; nested records (write-offs) the same way.
    """
    menders, nullable = _menders(cls), _nullable(cls)
    mended: dict[str, Any] = {}
    for key, value in raw.items():
        mend = menders.get(key)
        if mend is None:
            mended[key] = value
        elif value is not None and value != "":
            mended[key] = mend(value)
        elif key in nullable:
            mended[key] = None  # sent empty: present, so a thin item is told from a full one
    return mended


def malformed(cls: type[msgspec.Struct], exc: msgspec.ValidationError) -> MalformedRecord:
    """msgspec's error as a ``MalformedRecord`` naming the record and the Fortnox field.

    ``… - at `$.Amount``` names ``InvoicePayment.Amount``; ``$.WriteOffs[0].Amount``, ``WriteOff.Amount``.
    """
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, MalformedRecord):
        return cause
    text = str(exc)
    why, _, where = text.partition(" - at ")
    path = _PATH_KEYS.findall(where)
    resource = cls
    for key in path[:-1]:
        resource = _nested(resource).get(key, resource)
    missing = re.search(r"missing required field `([^`]+)`", why)
    if missing:
        return MalformedRecord(resource.__name__, missing.group(1), "no value")
    return MalformedRecord(resource.__name__, path[-1] if path else "?", f"an unreadable value ({why})")


@cache
def _nested(cls: type[msgspec.Struct]) -> dict[str, type[msgspec.Struct]]:
    """The records nested in ``cls``, by Fortnox name (``WriteOffs`` → ``WriteOff``)."""
    found = {}
    for info in msgspec.structs.fields(cls):
        for arg in _flatten(info.type):
            if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
                found[info.encode_name] = arg
    return found


def _flatten(tp: Any) -> list[Any]:
    args = get_args(tp)
    if not args:
        return [tp]
    return [leaf for arg in args for leaf in _flatten(arg)]


def _wire_name(cls: type[msgspec.Struct], name: str) -> str:
    return next(i.encode_name for i in msgspec.structs.fields(cls) if i.name == name)


@cache
def _nullable(cls: type[msgspec.Struct]) -> frozenset[str]:
    return frozenset(i.encode_name for i in msgspec.structs.fields(cls) if type(None) in _flatten(i.type))


@cache
def _menders(cls: type[msgspec.Struct]) -> dict[str, Callable[[Any], Any]]:
    menders: dict[str, Callable[[Any], Any]] = {}
    for info in msgspec.structs.fields(cls):
        kinds = set(_flatten(info.type))
        mend = next((m for kind, m in _MENDERS.items() if kind in kinds), None)
        for arg in kinds:
            if isinstance(arg, type) and issubclass(arg, msgspec.Struct):
                mend = _nested_mender(arg)
        if mend is not None:
            menders[info.encode_name] = mend
    return menders


def _nested_mender(struct: type[msgspec.Struct]) -> Callable[[Any], Any]:
    def mend(value: Any) -> Any:
        if isinstance(value, list):
            return [lenient(struct, item) if isinstance(item, dict) else item for item in value]
        return value

    return mend


def _money(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))  # repr keeps the shortest round-trip form: 0.1 -> Decimal('0.1')
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        try:
            return Decimal(text)
        except InvalidOperation:
            return value  # msgspec names the field
    return value


def _integer(value: Any) -> Any:
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    return value


def _boolean(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


def _day(value: Any) -> Any:
    return value.strip()[:10] if isinstance(value, str) else value


_MENDERS: dict[type, Callable[[Any], Any]] = {
    Decimal: _money,
    bool: _boolean,  # before int: a bool field is never an int field
    int: _integer,
    str: _text,
    date: _day,
}
