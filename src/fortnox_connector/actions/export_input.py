"""Reading ``upsert_customer``'s and ``export_invoice``'s input into checked requests (errors name the fix).

Money and quantities are Decimal; amounts of at most two decimals, prices and quantities of at most four.
The request's ``body()`` is the Fortnox object to POST.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.inputs import check_input, fingerprint
from fortnox_connector.actions.money import parse_decimal

VAT_TYPES = ("SEVAT", "SEREVERSEDVAT", "EUREVERSEDVAT", "EUVAT", "EXPORT")
# input name -> Fortnox customer field
CUSTOMER_INPUT = {
    "name": "Name",
    "organisation_number": "OrganisationNumber",
    "vat_number": "VATNumber",
    "vat_type": "VATType",
    "email": "Email",
    "address1": "Address1",
    "address2": "Address2",
    "zip_code": "ZipCode",
    "city": "City",
    "country_code": "CountryCode",
    "currency": "Currency",
    "terms_of_payment": "TermsOfPayment",
}
UPPERCASE = frozenset({"VATType", "CountryCode", "Currency"})


@dataclass(frozen=True, slots=True)
class CustomerRequest:
    """A customer as the source system has it: its id and the Fortnox fields to set (given ones only)."""

    source_id: str
    fields: Mapping[str, str]

    def body(self) -> dict[str, str]:
        return {**self.fields, "ExternalReference": self.source_id}


@dataclass(frozen=True, slots=True)
class Row:
    description: str
    quantity: Decimal
    price: Decimal
    vat: Decimal | None
    account: int | None
    article_number: str | None

    def body(self, negate: bool) -> dict[str, Any]:
        row: dict[str, Any] = {
            "Description": self.description,
            "DeliveredQuantity": -self.quantity if negate else self.quantity,
            "Price": self.price,
        }
        if self.vat is not None:
            row["VAT"] = self.vat
        if self.account is not None:
            row["AccountNumber"] = self.account
        if self.article_number:
            row["ArticleNumber"] = self.article_number
        return row


@dataclass(frozen=True, slots=True)
class InvoiceRequest:
    """A checked ``export_invoice`` input."""

    idempotency_key: str
    fingerprint: str
    source_invoice_number: str
    customer_number: str | None
    customer: CustomerRequest | None
    rows: tuple[Row, ...]
    currency: str
    currency_rate: Decimal | None
    currency_unit: Decimal | None
    invoice_date: date
    due_date: date | None
    terms_of_payment: str | None
    your_reference: str | None
    external_reference2: str | None
    credit_of: str | None
    total: Decimal | None
    total_vat: Decimal | None
    bookkeep: bool
    send: str | None = None  # "email": Fortnox e-mails the invoice to the customer

    @property
    def credit(self) -> bool:
        return self.credit_of is not None

    def body(self, customer_number: str, document_number: str | None) -> dict[str, Any]:
        """The Invoice object: a credit note's quantities negative, whatever sign the input gave."""
        negate = self.credit and all(r.quantity > 0 for r in self.rows)
        body: dict[str, Any] = {
            "CustomerNumber": customer_number,
            "InvoiceDate": self.invoice_date,
            "Currency": self.currency,
            "ExternalInvoiceReference1": self.source_invoice_number,
            "InvoiceRows": [r.body(negate) for r in self.rows],
        }
        optional: dict[str, Any] = {
            "CurrencyRate": self.currency_rate,
            "CurrencyUnit": self.currency_unit,
            "DueDate": self.due_date,
            "TermsOfPayment": self.terms_of_payment,
            "YourReference": self.your_reference,
            "ExternalInvoiceReference2": self.external_reference2,
            "CreditInvoiceReference": int(self.credit_of) if self.credit_of else None,
            "DocumentNumber": int(document_number) if document_number else None,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body


def read_customer(data: Mapping[str, Any], tenant: str, *, checked: bool = False) -> CustomerRequest:
    """``upsert_customer``'s input (checked by its schema unless part of an already checked input)."""
    if not checked:
        data = check_input(data, "actions/upsert_customer.input.json", tenant)
    source_id = _text(data.get("source_id"))
    if source_id is None:
        raise _bad(tenant, "'source_id' is required: the customer's id in the source system")
    fields: dict[str, str] = {}
    for name, fortnox in CUSTOMER_INPUT.items():
        value = _text(data.get(name))
        if value is not None:
            fields[fortnox] = value.upper() if fortnox in UPPERCASE else value
    if "Name" not in fields:
        raise _bad(tenant, f"customer {source_id}: 'name' is required")
    if fields.get("VATType", "SEVAT") not in VAT_TYPES:
        raise _bad(tenant, f"customer {source_id}: 'vat_type' must be one of {', '.join(VAT_TYPES)}")
    return CustomerRequest(source_id, fields)


def read_invoice(
    data: Mapping[str, Any], tenant: str, *, default_bookkeep: bool = False, schema: str | None = None
) -> InvoiceRequest:
    """``export_invoice``'s input, checked by ``schema`` (default its own) before it is read."""
    data = check_input(data, schema or "actions/export_invoice.input.json", tenant)
    key = _text(data.get("idempotency_key"))
    if key is None:
        raise _bad(tenant, "'idempotency_key' is required: a retry with the same key exports once")
    number = _text(data.get("source_invoice_number"))
    if number is None:
        raise _bad(tenant, "'source_invoice_number' is required (it becomes ExternalInvoiceReference1)")
    customer_number, customer = _customer(data.get("customer"), tenant, number)
    rows = _rows(data.get("rows"), tenant, number)
    currency = _text(data.get("currency")) or "SEK"
    if len(currency) != 3 or not currency.isalpha():
        raise _bad(tenant, f"invoice {number}: 'currency' must be a three-letter code such as SEK or EUR")
    credit_of = _credit_of(data.get("credit_of"), tenant, number)
    if credit_of is None and any(r.quantity < 0 for r in rows):
        raise _bad(
            tenant, f"invoice {number}: negative rows make a credit note; name the original in 'credit_of'"
        )
    rate = _positive(data.get("currency_rate"), "currency_rate", tenant, number)
    return InvoiceRequest(
        idempotency_key=key,
        fingerprint=fingerprint(data),
        source_invoice_number=number,
        customer_number=customer_number,
        customer=customer,
        rows=rows,
        currency=currency.upper(),
        currency_rate=None if currency.upper() == "SEK" else rate,  # the company's own currency: rate 1
        currency_unit=_positive(data.get("currency_unit"), "currency_unit", tenant, number),
        invoice_date=_date(data.get("invoice_date"), "invoice_date", tenant, number, required=True),
        due_date=_date(data.get("due_date"), "due_date", tenant, number, required=False),
        terms_of_payment=_text(data.get("terms_of_payment")),
        your_reference=_text(data.get("your_reference")),
        external_reference2=_text(data.get("external_reference2")),
        credit_of=credit_of,
        total=_money(data.get("total"), "total", tenant, number),
        total_vat=_money(data.get("total_vat"), "total_vat", tenant, number),
        bookkeep=_flag(data.get("bookkeep"), default_bookkeep, "bookkeep", tenant, number),
        send=_text(data.get("send")),
    )


def _customer(raw: Any, tenant: str, number: str) -> tuple[str | None, CustomerRequest | None]:
    if not isinstance(raw, Mapping):
        raise _bad(tenant, f"invoice {number}: 'customer' must be {{\"customer_number\": …}} or a customer")
    given = _text(raw.get("customer_number"))
    if given is not None and len(raw) == 1:
        return given, None
    if given is not None:
        raise _bad(tenant, f"invoice {number}: give 'customer' either as customer_number or as a customer")
    return None, read_customer(raw, tenant, checked=True)


def _rows(raw: Any, tenant: str, number: str) -> tuple[Row, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(r, Mapping) for r in raw):
        raise _bad(tenant, f"invoice {number}: 'rows' must be a non-empty list of rows")
    rows = []
    for i, row in enumerate(raw, 1):
        where = f"invoice {number} row {i}"
        quantity = _decimal(row.get("quantity", "1"), 4)
        price = _decimal(row.get("price"), 4)
        if quantity is None or quantity == 0:
            raise _bad(tenant, f"{where}: 'quantity' must be a non-zero decimal string")
        if price is None:
            raise _bad(tenant, f"{where}: 'price' must be a decimal string (excluding VAT)")
        vat = _decimal(row.get("vat"), 2) if row.get("vat") is not None else None
        if row.get("vat") is not None and (vat is None or not 0 <= vat <= 100):
            raise _bad(tenant, f"{where}: 'vat' must be a percentage such as \"25\"")
        account = row.get("account")
        if account is not None and (not str(account).strip().isdigit() or len(str(account).strip()) != 4):
            raise _bad(tenant, f"{where}: 'account' must be a four-digit account number such as 3001")
        rows.append(
            Row(
                description=_text(row.get("description")) or "",
                quantity=quantity,
                price=price,
                vat=vat,
                account=int(str(account).strip()) if account is not None else None,
                article_number=_text(row.get("article_number")),
            )
        )
    return tuple(rows)


def _credit_of(raw: Any, tenant: str, number: str) -> str | None:
    if raw is None:
        return None
    doc = _text(raw.get("document_number")) if isinstance(raw, Mapping) else None
    if doc is None or not doc.isdigit():
        raise _bad(
            tenant, f'invoice {number}: \'credit_of\' must be {{"document_number": "<Fortnox number>"}}'
        )
    return doc


def _decimal(value: Any, places: int) -> Decimal | None:
    number = parse_decimal(value)
    if number is None or number != number.quantize(Decimal(1).scaleb(-places)):
        return None
    return number


def _money(value: Any, name: str, tenant: str, number: str) -> Decimal | None:
    if value is None:
        return None
    amount = _decimal(value, 2)
    if amount is None:
        raise _bad(tenant, f"invoice {number}: '{name}' must be a decimal string with at most two decimals")
    return amount


def _positive(value: Any, name: str, tenant: str, number: str) -> Decimal | None:
    if value is None:
        return None
    amount = parse_decimal(value)
    if amount is None or amount <= 0:
        raise _bad(tenant, f"invoice {number}: '{name}' must be a positive decimal string")
    return amount


def _date(value: Any, name: str, tenant: str, number: str, *, required: bool) -> Any:
    if value is None and not required:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _bad(tenant, f"invoice {number}: '{name}' must be a date YYYY-MM-DD") from None


def _flag(value: Any, default: bool, name: str, tenant: str, number: str) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(tenant, f"invoice {number}: '{name}' must be true or false")
    return value


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def _bad(tenant: str, reason: str) -> ActionRejected:
    return ActionRejected(reason, tenant=tenant, hint="correct the action's input")
