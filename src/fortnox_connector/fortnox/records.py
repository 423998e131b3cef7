"""Typed records of the Fortnox resources the connector reads, parsed leniently.

Fortnox's types drift (``Number`` a string, ``CurrencyRate`` sometimes a string, ``InvoiceTotal`` a string in
the single item and a number in the list, ``ModeOfPaymentAccount`` the reverse). Every parser here accepts
either form and yields ``Decimal`` for money; ``Source`` is an open set kept as a plain string.
A value that cannot be read at all raises ``MalformedRecord`` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

T = TypeVar("T")


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
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))  # repr keeps the shortest round-trip form: 0.1 -> Decimal('0.1')
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        try:
            return Decimal(text)
        except InvalidOperation:
            raise MalformedRecord(resource, name, value) from None
    raise MalformedRecord(resource, name, value)


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
        r = "InvoicePayment"
        write_offs_raw = raw.get("WriteOffs") or []
        if not isinstance(write_offs_raw, list):
            raise MalformedRecord(r, "WriteOffs", write_offs_raw)
        payment_date = day(raw, "PaymentDate", r)
        invoice_number = integer(raw, "InvoiceNumber", r)
        if payment_date is None:
            raise MalformedRecord(r, "PaymentDate", None)
        if invoice_number is None:
            raise MalformedRecord(r, "InvoiceNumber", None)
        return cls(
            number=req_text(raw, "Number", r),
            invoice_number=invoice_number,
            amount=req_dec(raw, "Amount", r),
            amount_currency=dec(raw, "AmountCurrency", r),
            currency=text(raw, "Currency") or "SEK",
            currency_rate=dec(raw, "CurrencyRate", r, Decimal(1)) or Decimal(1),
            currency_unit=dec(raw, "CurrencyUnit", r, Decimal(1)) or Decimal(1),
            payment_date=payment_date,
            booked=boolean(raw, "Booked", r),
            source=text(raw, "Source"),
            mode_of_payment=text(raw, "ModeOfPayment"),
            mode_of_payment_account=integer(raw, "ModeOfPaymentAccount", r),
            invoice_ocr=text(raw, "InvoiceOCR"),
            invoice_customer_number=text(raw, "InvoiceCustomerNumber"),
            invoice_customer_name=text(raw, "InvoiceCustomerName"),
            invoice_due_date=day(raw, "InvoiceDueDate", r),
            invoice_total=dec(raw, "InvoiceTotal", r),
            external_invoice_reference1=text(raw, "ExternalInvoiceReference1"),
            external_invoice_reference2=text(raw, "ExternalInvoiceReference2"),
            voucher_number=integer(raw, "VoucherNumber", r),
            voucher_series=text(raw, "VoucherSeries"),
            voucher_year=integer(raw, "VoucherYear", r),
            write_offs=tuple(WriteOff.parse(w) for w in write_offs_raw),
            write_off_exist=boolean(raw, "WriteOffExist", r, default=bool(write_offs_raw)),
            complete=all(k in raw for k in cls.DETAIL_FIELDS),
        )


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
        r = "Invoice"
        return cls(
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
