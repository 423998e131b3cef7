"""Records to Fortnox JSON, with Fortnox's type quirks; money goes out as exact JSON numbers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .store import Invoice, Payment, Tenant

API = "https://api.fortnox.se/3"
LIST_DETAIL = frozenset({"TermsOfPayment", "Sent"})  # a created invoice's fields also shown in list items


def num(value: Decimal) -> int | float:
    """A JSON number: integral amounts as ints; öre amounts round-trip exactly through float repr."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def payment_json(p: Payment, single: bool) -> dict[str, Any]:
    """Quirks: ``InvoiceTotal`` a string when single, a number in lists; ``ModeOfPaymentAccount`` reversed."""
    return {
        "@url": f"{API}/invoicepayments/{p.number}",
        "Amount": num(p.amount),
        "AmountCurrency": num(p.amount_currency),
        "Booked": p.booked,
        "Currency": p.currency,
        "CurrencyRate": str(p.currency_rate) if p.rate_as_string else num(p.currency_rate),
        "CurrencyUnit": num(p.currency_unit),
        "ExternalInvoiceReference1": "",
        "ExternalInvoiceReference2": "",
        "InvoiceCustomerName": "",
        "InvoiceCustomerNumber": "",
        "InvoiceDueDate": None,
        "InvoiceNumber": p.invoice_number,
        "InvoiceOCR": "",
        "InvoiceTotal": "0",
        "ModeOfPayment": p.mode_of_payment,
        "ModeOfPaymentAccount": p.mode_of_payment_account if single else str(p.mode_of_payment_account),
        "Number": str(p.number),
        "PaymentDate": p.payment_date.isoformat(),
        "Source": p.source,
        "VoucherNumber": p.voucher_number,
        "VoucherSeries": p.voucher_series,
        "VoucherYear": p.voucher_year,
        "WriteOffs": [w.json() for w in p.write_offs],
        **({} if single else {"WriteOffExist": bool(p.write_offs)}),
    }


def payment_full(tenant: Tenant, p: Payment, single: bool) -> dict[str, Any]:
    body = payment_json(p, single)
    inv = tenant.invoices.get(p.invoice_number)
    if inv is not None:
        body["ExternalInvoiceReference1"] = inv.external_ref1
        body["ExternalInvoiceReference2"] = inv.external_ref2
        body["InvoiceCustomerName"] = inv.customer_name
        body["InvoiceCustomerNumber"] = inv.customer_number
        body["InvoiceDueDate"] = inv.due_date.isoformat()
        body["InvoiceOCR"] = inv.ocr
        body["InvoiceTotal"] = str(inv.total) if single else num(inv.total)
    if not single:
        body["InvoiceTotal"] = num(Decimal(str(body["InvoiceTotal"])))
    return body


def invoice_json(inv: Invoice, single: bool) -> dict[str, Any]:
    vat = (inv.total * Decimal("0.2")).quantize(Decimal("0.01"))
    body: dict[str, Any] = {
        "@url": f"{API}/invoices/{inv.document_number}",
        "Balance": num(inv.balance),
        "Booked": inv.booked,
        "Cancelled": inv.cancelled,
        "Credit": "true" if inv.credit else "false",
        "Currency": inv.currency,
        "CurrencyRate": num(inv.currency_rate),
        "CurrencyUnit": num(inv.currency_unit),
        "CustomerName": inv.customer_name,
        "CustomerNumber": inv.customer_number,
        "DocumentNumber": str(inv.document_number),
        "DueDate": inv.due_date.isoformat(),
        "ExternalInvoiceReference1": inv.external_ref1,
        "ExternalInvoiceReference2": inv.external_ref2,
        "FinalPayDate": inv.final_pay_date.isoformat() if inv.final_pay_date else None,
        "InvoiceDate": inv.invoice_date.isoformat(),
        "InvoiceType": "INVOICE",
        "NoxFinans": False,
        "OCR": inv.ocr,
        "Sent": True,
        "Total": num(inv.total),
        "TotalToPay": num(inv.total),
        "VoucherNumber": None,
        "VoucherSeries": None,
        "VoucherYear": None,
    }
    if inv.credit_ref is not None:  # served only when set (sandbox choice: older answers stay as they were)
        body["CreditInvoiceReference"] = str(inv.credit_ref)
    if single:
        body["TotalVAT"] = num(vat)
        body["Net"] = num(inv.total - vat)
        body["Gross"] = num(inv.total - vat)
        body["Country"] = "Sverige"
        body["Language"] = "SV"
        body["InvoiceRows"] = []
    if inv.detail is not None:
        body.update({k: v for k, v in inv.detail.items() if single or k in LIST_DETAIL})
    return body
