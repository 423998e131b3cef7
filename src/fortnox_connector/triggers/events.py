"""Event payloads and dedup keys (the shapes are ``schemas/events/*.json``).

Money goes out as decimal strings with at least two decimals (``"1234.50"``), never rounded: a value with
more decimals keeps them. Rates and units keep Fortnox's precision (``"11.2345"``). Dates are ISO 8601,
``observed_at`` an aware date-time. Ids are strings (Fortnox's ``Number`` and ``DocumentNumber`` are).

Dedup keys are stable across runs, crashes and modes:
- ``fortnox:<tenant>:payment:<Number>:booked`` — a payment as booked. The only key in the default mode; in
  the all-payments mode the same payment booked later gets this same key, so switching modes never
  re-announces a booked payment under another name.
- ``fortnox:<tenant>:payment:<Number>:unbooked`` — a payment seen before it was booked (all-payments mode
  only). Its booking is a second, distinct event (the ``:booked`` one).
- ``fortnox:<tenant>:invoice:<DocumentNumber>:paid`` — an invoice that became fully paid.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from fortnox_connector.fortnox.records import Invoice, InvoicePayment, WriteOff
from fortnox_connector.triggers.settlement import ZERO, Settlement


def money(value: Decimal) -> str:
    """``Decimal`` as a plain decimal string with at least two decimals, never rounded.

    String padding rather than ``quantize``: it is on the hot path (three amounts per payment).
    """
    text = str(value)
    if text[-3:-2] == ".":  # the usual öre amount, "1234.50" (an exponent form ends in E±digits instead)
        return text
    if "E" in text or "e" in text:
        text = format(value, "f")
    dot = text.find(".")
    if dot < 0:
        return text + ".00"
    if len(text) - dot == 2:
        return text + "0"
    return text


def money_or_none(value: Decimal | None) -> str | None:
    return None if value is None else money(value)


def plain(value: Decimal) -> str:
    """A rate or unit as Fortnox gave it, as a plain decimal string (no exponent).

    ``format(value, "f")``, faster: ``str`` is already plain unless it chose exponent notation (``1E+2``,
    ``1E-7``; lower case if the context says so).
    """
    text = str(value)
    if "E" in text or "e" in text:
        return format(value, "f")
    return text


_ISO: dict[date, str] = {}  # dates already formatted: a page's payment and due dates repeat
_ISO_MAX = 4096


def iso_date(value: date) -> str:
    """``value.isoformat()``, remembered (bounded: cleared when full)."""
    text = _ISO.get(value)
    if text is None:
        if len(_ISO) >= _ISO_MAX:
            _ISO.clear()
        text = _ISO[value] = value.isoformat()
    return text


def iso(value: date | None) -> str | None:
    return None if value is None else iso_date(value)


def payment_key(tenant: str, number: str, booked: bool) -> str:
    return f"fortnox:{tenant}:payment:{number}:{'booked' if booked else 'unbooked'}"


def invoice_paid_key(tenant: str, document_number: str) -> str:
    return f"fortnox:{tenant}:invoice:{document_number}:paid"


def _write_off(w: WriteOff) -> dict[str, Any]:
    return {
        "amount": money(w.amount),
        "account_number": w.account_number,
        "currency": w.currency,
        "cost_center": w.cost_center,
        "project": w.project,
        "description": w.description,
    }


# The payload's keys in order, each None: ``payment_payload`` copies this and sets the values. Why not a dict
# display: one of 24 keys is built as 16 plus an update of 8, which resizes the table; a copy of a clean
# template clones its key table whole, so setting the values never inserts (~0.5 µs instead of ~0.7 µs).
_PAYMENT_KEYS = dict.fromkeys(
    (
        "tenant",
        "payment_number",
        "invoice_number",
        "ocr",
        "amount_company_currency",
        "amount_invoice_currency",
        "currency",
        "currency_rate",
        "currency_unit",
        "payment_date",
        "booked",
        "mode_of_payment",
        "mode_of_payment_account",
        "source",
        "customer_number",
        "customer_name",
        "external_invoice_reference1",
        "external_invoice_reference2",
        "invoice_total",
        "invoice_due_date",
        "voucher",
        "write_offs",
        "dedup_key",
        "observed_at",
    )
)


def payment_payload(tenant: str, p: InvoicePayment, key: str, observed_at: str) -> dict[str, Any]:
    """The ``payment_received`` payload of a complete payment.

    Built once per payment, on the hot path (every event of a backfill): from a copy of ``_PAYMENT_KEYS``,
    the optional values tested here rather than through ``money_or_none``/``iso`` (a call less each) and
    left None when absent.
    """
    d = _PAYMENT_KEYS.copy()
    d["tenant"] = tenant
    d["payment_number"] = p.number
    d["invoice_number"] = str(p.invoice_number)
    d["ocr"] = p.invoice_ocr
    d["amount_company_currency"] = money(p.amount)
    if p.amount_currency is not None:
        d["amount_invoice_currency"] = money(p.amount_currency)
    d["currency"] = p.currency
    d["currency_rate"] = plain(p.currency_rate)
    d["currency_unit"] = plain(p.currency_unit)
    d["payment_date"] = iso_date(p.payment_date)
    d["booked"] = p.booked
    d["mode_of_payment"] = p.mode_of_payment
    d["mode_of_payment_account"] = p.mode_of_payment_account
    d["source"] = p.source
    d["customer_number"] = p.invoice_customer_number
    d["customer_name"] = p.invoice_customer_name
    d["external_invoice_reference1"] = p.external_invoice_reference1
    d["external_invoice_reference2"] = p.external_invoice_reference2
    if p.invoice_total is not None:
        d["invoice_total"] = money(p.invoice_total)
    if p.invoice_due_date is not None:
        d["invoice_due_date"] = iso_date(p.invoice_due_date)
    if p.voucher_number is not None or p.voucher_series is not None:
        d["voucher"] = {"series": p.voucher_series, "number": p.voucher_number, "year_id": p.voucher_year}
    d["write_offs"] = [_write_off(w) for w in p.write_offs] if p.write_offs else []
    d["dedup_key"] = key
    d["observed_at"] = observed_at
    return d


def invoice_paid_payload(
    tenant: str, inv: Invoice, key: str, observed_at: str, settled: Settlement | None = None
) -> dict[str, Any]:
    """The ``invoice_paid`` payload of a fully paid invoice, with how it was settled."""
    settled = settled or Settlement(payments=inv.total - inv.balance, credit_note=ZERO, write_off=ZERO)
    return {
        "tenant": tenant,
        "document_number": inv.document_number,
        "ocr": inv.ocr,
        "total": money(inv.total),
        "balance": money(inv.balance),
        "currency": inv.currency,
        "currency_rate": plain(inv.currency_rate),
        "currency_unit": plain(inv.currency_unit),
        "invoice_date": iso(inv.invoice_date),
        "due_date": iso(inv.due_date),
        "final_pay_date": iso(inv.final_pay_date),
        "customer_number": inv.customer_number,
        "customer_name": inv.customer_name,
        "external_invoice_reference1": inv.external_invoice_reference1,
        "external_invoice_reference2": inv.external_invoice_reference2,
        "booked": inv.booked,
        "settled_by": settled.settled_by,
        "settlement": {
            "payments": money(settled.payments),
            "credit_note": money(settled.credit_note),
            "write_off": money(settled.write_off),
        },
        "credit_invoice_reference": inv.credit_invoice_reference,
        "dedup_key": key,
        "observed_at": observed_at,
    }
