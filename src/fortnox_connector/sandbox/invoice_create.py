"""Creating, bookkeeping and crediting customer invoices: ``POST /3/invoices``, ``PUT …/bookkeep``.

Fortnox's computations as the sandbox copies them (docs/export.md has the sources; **sandbox choice** where
Fortnox documents nothing):

- a row's amount is ``DeliveredQuantity * Price`` (prices without VAT), rounded to the öre half-up; its VAT
  ``amount * VAT / 100``, rounded likewise (sandbox choice: per row);
- ``Net`` = Σ row amounts, ``TotalVAT`` = Σ row VAT, ``Gross`` = ``Net + TotalVAT``;
- öresutjämning: with the tenant's ``round_off`` on (the usual Swedish setting), a **SEK** invoice's total
  is rounded to whole kronor and the difference is ``RoundOff`` (sandbox choice: foreign-currency
  invoices are not rounded); ``Total = Gross + RoundOff``;
- the rate: ``CurrencyRate`` as given, else the company's rate for the currency as ``/3/currencies`` serves
  it (``currencies.py``; Fortnox fills in its own rate for the invoice date when none is sent: unconfirmed);
- the VAT percentage defaults to 25 for a ``SEVAT``/``EUVAT`` customer and 0 for reversed VAT and
  ``EXPORT``; a row's ``AccountNumber`` must be in the chart (``ACCOUNTS``), else 2000423;
- the document number is the next free one unless ``DocumentNumber`` is given (then it must be free); the
  OCR is the document number with a Luhn check digit;
- a credit invoice: negative rows, ``CreditInvoiceReference`` naming an existing invoice; ``Credit`` true;
  the two are linked both ways and the balances offset as ``credit_notes.py`` models it (at most the
  debit invoice's balance can be credited).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from . import currencies, customers
from .errors import ApiError
from .store import Invoice, Store, Tenant, _date, _naive, _ocr
from .wire import num

CENT = Decimal("0.01")
KRONA = Decimal("1")
ACCOUNTS = frozenset({3001, 3002, 3003, 3004, 3011, 3040, 3041, 3105, 3106, 3108, 3305, 3308, 3740})
ROW_FIELDS = frozenset(
    {"ArticleNumber", "Description", "DeliveredQuantity", "Price", "VAT", "AccountNumber", "Unit", "RowId"}
)
INVOICE_FIELDS = frozenset(
    {
        "CustomerNumber",
        "InvoiceRows",
        "Currency",
        "CurrencyRate",
        "CurrencyUnit",
        "InvoiceDate",
        "DueDate",
        "DocumentNumber",
        "ExternalInvoiceReference1",
        "ExternalInvoiceReference2",
        "YourReference",
        "OurReference",
        "Remarks",
        "TermsOfPayment",
        "CreditInvoiceReference",
        "VATIncluded",
        "Comments",
    }
)
DUPLICATE_DOCUMENT_NUMBER = 2000106  # sandbox choice of code: "value must be alphanumeric" is the nearest


def create(store: Store, tenant: Tenant, now: datetime, body: Any) -> Invoice:
    """Check the ``{"Invoice": {...}}`` body, compute the totals and store the invoice (unbooked)."""
    if not isinstance(body, dict) or not isinstance(body.get("Invoice"), dict):
        raise ApiError(2001392, "Inga eller felaktiga data: Invoice saknas.")
    fields = dict(body["Invoice"])
    unknown = sorted(set(fields) - INVOICE_FIELDS)
    if unknown:
        raise ApiError(2001399, f"Ogiltigt fältnamn: {unknown[0]}")
    if not fields.get("CustomerNumber"):
        raise ApiError(2001392, "Inga eller felaktiga data: CustomerNumber saknas.")
    customer = customers.get(tenant, str(fields["CustomerNumber"]))
    currency = str(fields.get("Currency") or customer.full()["Currency"] or "SEK").upper()
    invoice_date = _date(fields.get("InvoiceDate") or now.date())
    rate, unit = _rate(tenant, currency, invoice_date, fields)
    rows = [_row(r, customer.vat_type) for r in _rows(fields.get("InvoiceRows"))]
    net = sum((r["amount"] for r in rows), Decimal(0))
    vat = sum((r["vat_amount"] for r in rows), Decimal(0))
    gross = net + vat
    round_off = Decimal(0)
    if tenant.round_off and currency == "SEK":
        round_off = gross.quantize(KRONA, rounding=ROUND_HALF_UP) - gross
    total = gross + round_off
    credit_of = _credit_reference(tenant, fields.get("CreditInvoiceReference"))
    number = _document_number(tenant, fields.get("DocumentNumber"))
    terms = str(fields.get("TermsOfPayment") or customer.full()["TermsOfPayment"] or "30")
    due = _date(fields["DueDate"]) if fields.get("DueDate") else invoice_date + timedelta(days=_days(terms))
    inv = Invoice(
        document_number=number,
        customer_number=customer.number,
        customer_name=customer.full()["Name"],
        invoice_date=invoice_date,
        due_date=due,
        total=total,
        balance=total,
        currency=currency,
        currency_rate=rate,
        ocr=_ocr(number),
        modified=_naive(now),
        booked=False,
        credit=total < 0 or credit_of is not None,
        external_ref1=str(fields.get("ExternalInvoiceReference1") or ""),
        external_ref2=str(fields.get("ExternalInvoiceReference2") or ""),
        currency_unit=unit,
    )
    inv.detail = {
        "InvoiceRows": [_row_json(r) for r in rows],
        "Net": num(net),
        "TotalVAT": num(vat),
        "Gross": num(gross),
        "RoundOff": num(round_off),
        "TermsOfPayment": terms,
        "YourReference": str(fields.get("YourReference") or ""),
        "OurReference": str(fields.get("OurReference") or ""),
        "Remarks": str(fields.get("Remarks") or ""),
        "OrganisationNumber": customer.full()["OrganisationNumber"],
        "Sent": False,
    }
    tenant.invoices[number] = inv
    if credit_of is not None:
        _settle_credit(store, tenant, store.invoice(tenant, credit_of), inv, now)
    return inv


def email(tenant: Tenant, number: int, store: Store) -> Invoice:
    """``PUT /3/invoices/{n}/email``: ``Sent`` true; a customer without an e-mail address cannot be sent to
    (**sandbox choice** of code and text)."""
    inv = store.invoice(tenant, number)
    customer = customers.get(tenant, inv.customer_number).full()
    if not (customer["EmailInvoice"] or customer["Email"]):
        raise ApiError(2001392, "Inga eller felaktiga data: kunden saknar e-postadress.")
    inv.detail = {**(inv.detail or {}), "Sent": True}
    return inv


def _settle_credit(store: Store, tenant: Tenant, debit: Invoice, note: Invoice, now: datetime) -> None:
    """Link the two both ways and offset the balances, as ``credit_notes.py`` models Fortnox's crediting."""
    value = -note.total
    if debit.credit or debit.cancelled or value <= 0 or value > debit.balance:
        del tenant.invoices[note.document_number]
        raise ApiError(2001392, "Inga eller felaktiga data: fakturan kan inte krediteras med detta belopp.")
    note.credit_ref = debit.document_number
    debit.credit_ref = note.document_number
    store.settle(debit, value, now.date(), now)
    store.settle(note, -value, now.date(), now)


def bookkeep(tenant: Tenant, number: int, now: datetime, store: Store) -> Invoice:
    """``PUT /3/invoices/{n}/bookkeep``: booked, with a voucher; a booked invoice is answered as it is."""
    inv = store.invoice(tenant, number)
    if not inv.booked:
        inv.booked = True
        inv.modified = _naive(now)
        detail = inv.detail if inv.detail is not None else {}
        detail.update({"VoucherSeries": "B", "VoucherNumber": tenant.next_voucher, "VoucherYear": 1})
        inv.detail = detail
        tenant.next_voucher += 1
    return inv


def _rate(tenant: Tenant, currency: str, day: date, fields: dict[str, Any]) -> tuple[Decimal, Decimal]:
    """The rate and unit sent, else the company's for the currency (``currencies.py``); SEK is 1."""
    given = _decimal(fields.get("CurrencyRate"), "CurrencyRate")
    unit = _decimal(fields.get("CurrencyUnit"), "CurrencyUnit")
    if currency == "SEK":
        return Decimal(1), Decimal(1)
    if given is not None:
        return given, unit or Decimal(1)
    known = currencies.rates(tenant, day).get(currency)
    if known is None:
        raise ApiError(2001392, f"Inga eller felaktiga data: valutan {currency} finns inte.")
    return known[1], unit or known[2]


def _rows(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw or not all(isinstance(r, dict) for r in raw):
        raise ApiError(2001392, "Inga eller felaktiga data: InvoiceRows saknas.")
    return raw


def _row(raw: dict[str, Any], vat_type: str) -> dict[str, Any]:
    unknown = sorted(set(raw) - ROW_FIELDS)
    if unknown:
        raise ApiError(2001399, f"Ogiltigt fältnamn: {unknown[0]}")
    quantity = _decimal(raw.get("DeliveredQuantity"), "DeliveredQuantity")
    price = _decimal(raw.get("Price"), "Price")
    quantity = Decimal(1) if quantity is None else quantity
    price = Decimal(0) if price is None else price
    default_vat = Decimal(25) if vat_type in ("SEVAT", "EUVAT") else Decimal(0)
    vat_percent = _decimal(raw.get("VAT"), "VAT")
    vat_percent = default_vat if vat_percent is None else vat_percent
    account = raw.get("AccountNumber")
    if account is not None:
        try:
            account_no = int(account)
        except (TypeError, ValueError):
            raise ApiError(2000108, "Värdet måste vara numeriskt (AccountNumber).") from None
        if account_no not in ACCOUNTS:
            raise ApiError(2000423, f"Kontot hittades inte: {account_no}")
    amount = (quantity * price).quantize(CENT, rounding=ROUND_HALF_UP)
    return {
        **raw,
        "quantity": quantity,
        "price": price,
        "vat": vat_percent,
        "amount": amount,
        "vat_amount": (amount * vat_percent / 100).quantize(CENT, rounding=ROUND_HALF_UP),
    }


def _row_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "AccountNumber": int(row["AccountNumber"]) if row.get("AccountNumber") is not None else 3001,
        "ArticleNumber": str(row.get("ArticleNumber") or ""),
        "DeliveredQuantity": num(row["quantity"]),
        "Description": str(row.get("Description") or ""),
        "Price": num(row["price"]),
        "Total": num(row["amount"]),
        "VAT": num(row["vat"]),
        "Unit": str(row.get("Unit") or ""),
    }


def _credit_reference(tenant: Tenant, raw: Any) -> int | None:
    if raw in (None, "", 0):
        return None
    try:
        number = int(raw)
    except (TypeError, ValueError):
        raise ApiError(2000108, "Värdet måste vara numeriskt (CreditInvoiceReference).") from None
    if number not in tenant.invoices:
        raise ApiError(2000434)
    return number


def _document_number(tenant: Tenant, raw: Any) -> int:
    if raw in (None, ""):
        number = tenant.next_invoice
    else:
        try:
            number = int(raw)
        except (TypeError, ValueError):
            raise ApiError(2000108, "Värdet måste vara numeriskt (DocumentNumber).") from None
        if number in tenant.invoices:
            raise ApiError(DUPLICATE_DOCUMENT_NUMBER, f"Dokumentnummer {number} används redan.")
    tenant.next_invoice = max(tenant.next_invoice, number + 1)
    return number


def _decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ApiError(2000108, f"Värdet måste vara numeriskt ({name}).")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ApiError(2000108, f"Värdet måste vara numeriskt ({name}).") from None
    if not number.is_finite():
        raise ApiError(2000108, f"Värdet måste vara numeriskt ({name}).")
    return number


def _days(terms: str) -> int:
    digits = "".join(ch for ch in terms if ch.isdigit())
    return int(digits) if digits else 30
