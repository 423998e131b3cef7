"""Checking a payment against its invoice and working out what to send Fortnox.

The money: ``Amount`` (SEK) and ``AmountCurrency`` (the invoice's currency) of the money received, the rate of
the payment day, and the ``WriteOffs[]`` that settle the rest (``settle``). Decimal only, to the öre.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from fortnox_connector.actions import bounds
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.inputs import PaymentRequest
from fortnox_connector.actions.money import company_amount, money_text, to_ore
from fortnox_connector.actions.settle import (
    WriteOffLine,
    currency_difference,
    currency_line,
    open_after,
    refuse_difference,
    tolerance_line,
    within_tolerance,
)
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.fortnox.records import Invoice

RATE_PLACES = Decimal("0.000001")  # a rate derived from the SEK booked: six decimals

COMPANY_CURRENCY = "SEK"


@dataclass(frozen=True, slots=True)
class PlannedPayment:
    """The payment to POST: ``amount`` in SEK, ``amount_currency`` in the invoice's currency."""

    invoice_number: str
    amount: Decimal
    amount_currency: Decimal
    currency: str
    currency_rate: Decimal
    payment_date: date
    mode_of_payment: str
    mode_of_payment_account: int
    write_offs: tuple[WriteOffLine, ...] = ()
    currency_difference: Decimal = Decimal(0)  # SEK; positive: a gain
    rate_source: str = "invoice"  # input, bank (from the SEK booked), fortnox, invoice, company (SEK)

    def body(self) -> dict[str, Any]:
        """The ``InvoicePayment`` object for ``POST /3/invoicepayments``."""
        body: dict[str, Any] = {
            "InvoiceNumber": int(self.invoice_number),
            "Amount": self.amount,
            "AmountCurrency": self.amount_currency,
            "Currency": self.currency,
            "CurrencyRate": self.currency_rate,
            "PaymentDate": self.payment_date,
            "ModeOfPayment": self.mode_of_payment,
            "ModeOfPaymentAccount": self.mode_of_payment_account,
        }
        if self.write_offs:
            body["WriteOffs"] = [w.body() for w in self.write_offs]
        return body

    def settles(self) -> Decimal:
        """What the payment takes off the balance: money plus write-offs in the invoice's currency."""
        return self.amount_currency + sum(
            (w.amount for w in self.write_offs if w.currency == self.currency), Decimal(0)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "invoice_number": self.invoice_number,
            "amount": money_text(self.amount),
            "amount_currency": money_text(self.amount_currency),
            "currency": self.currency,
            "currency_rate": str(self.currency_rate),
            "payment_date": self.payment_date.isoformat(),
            "mode_of_payment": self.mode_of_payment,
            "mode_of_payment_account": self.mode_of_payment_account,
            "write_offs": [w.to_json() for w in self.write_offs],
            "currency_difference": money_text(self.currency_difference),
            "rate_source": self.rate_source,
        }

    @classmethod
    def from_json(cls, raw: Any) -> PlannedPayment:
        return cls(
            invoice_number=str(raw["invoice_number"]),
            amount=Decimal(raw["amount"]),
            amount_currency=Decimal(raw["amount_currency"]),
            currency=str(raw["currency"]),
            currency_rate=Decimal(raw["currency_rate"]),
            payment_date=date.fromisoformat(raw["payment_date"]),
            mode_of_payment=str(raw["mode_of_payment"]),
            mode_of_payment_account=int(raw["mode_of_payment_account"]),
            write_offs=tuple(WriteOffLine.from_json(w) for w in raw.get("write_offs", ())),
            currency_difference=Decimal(str(raw.get("currency_difference", "0"))),
            rate_source=str(raw.get("rate_source", "invoice")),
        )


def plan_payment(
    req: PaymentRequest,
    invoice: Invoice,
    tenant: str,
    config: TenantConfig | None = None,
    fortnox_rate: Decimal | None = None,
) -> PlannedPayment:
    """Refuse what Fortnox would refuse or what would be wrong; else the payment to send.

    Foreign currency: ``Amount`` (SEK) is the SEK the bank booked when given, else ``AmountCurrency * rate /
    unit`` rounded to the öre (ROUND_HALF_UP), with the rate given, Fortnox's of the day (``fortnox_rate``)
    or the invoice's. What is left open is written off within the tolerance (``settle``).
    """
    config = config or TenantConfig()
    doc = invoice.document_number

    def reject(reason: str, hint: str) -> ActionRejected:
        return ActionRejected(reason, tenant=tenant, invoice=doc, hint=hint)

    if invoice.cancelled:
        raise reject("the invoice is cancelled", "a cancelled invoice takes no payments; check the number")
    if invoice.credit:
        raise reject("it is a credit invoice", "pay the debit invoice, not its credit note")
    if req.currency != invoice.currency.upper():
        raise reject(
            f"the payment is in {req.currency} but the invoice is in {invoice.currency}",
            f"send the amount in {invoice.currency}, the invoice's currency",
        )
    payment_date = req.payment_date
    if invoice.invoice_date is not None and payment_date < invoice.invoice_date:
        if not req.move_date_to_invoice_date:
            raise reject(
                f"the payment date {payment_date} is before the invoice date {invoice.invoice_date}",
                "Fortnox refuses it: use a later date, or pass move_date_to_invoice_date=true",
            )
        payment_date = invoice.invoice_date
    unit = invoice.currency_unit or Decimal(1)
    amount_currency = to_ore(req.amount)
    rate, amount, source = _money(req, invoice, tenant, unit, fortnox_rate)
    write_offs = _write_offs(req, invoice, tenant, config, rate, unit)
    difference = Decimal(0)
    if req.currency != COMPANY_CURRENCY:
        difference = currency_difference(amount, amount_currency, invoice.currency_rate, unit)
        line = currency_line(difference, config)
        if line is not None:
            write_offs = (*write_offs, line)
    return PlannedPayment(
        invoice_number=doc,
        amount=amount,
        amount_currency=amount_currency,
        currency=req.currency,
        currency_rate=rate,
        payment_date=payment_date,
        mode_of_payment=req.mode_of_payment,
        mode_of_payment_account=req.mode_of_payment_account,
        write_offs=write_offs,
        currency_difference=difference,
        rate_source=source,
    )


def _money(
    req: PaymentRequest, invoice: Invoice, tenant: str, unit: Decimal, fortnox_rate: Decimal | None
) -> tuple[Decimal, Decimal, str]:
    """``(rate, Amount in SEK, where the rate came from)``."""
    doc = invoice.document_number
    if req.currency == COMPANY_CURRENCY:
        return Decimal(1), to_ore(req.amount), "company"
    if req.amount_company_currency is not None:
        amount = req.amount_company_currency
        rate = (amount * unit / req.amount).quantize(RATE_PLACES)
        source = "bank"
    else:
        rate, source = _rate(req, invoice, fortnox_rate)
        amount = company_amount(req.amount, rate, unit)
    bounds.check_rate(
        rate,
        invoice.currency_rate,
        req.currency_rate_band_percent,
        tenant=tenant,
        invoice=doc,
        currency=req.currency,
    )
    bounds.check_company_amount(amount, tenant=tenant, invoice=doc)
    return rate, amount, source


def _rate(req: PaymentRequest, invoice: Invoice, fortnox_rate: Decimal | None) -> tuple[Decimal, str]:
    if req.currency_rate is not None:
        return req.currency_rate, "input"
    if fortnox_rate is not None:
        return fortnox_rate, "fortnox"
    return invoice.currency_rate, "invoice"


def _write_offs(
    req: PaymentRequest,
    invoice: Invoice,
    tenant: str,
    config: TenantConfig,
    rate: Decimal,
    unit: Decimal,
) -> tuple[WriteOffLine, ...]:
    """The explicit write-offs, plus the tolerance's when it closes the rest; refusals name the difference."""
    lines = req.write_offs
    diff = open_after(invoice.balance, to_ore(req.amount), lines, invoice.currency.upper())
    if diff.amount == 0:
        return lines
    if within_tolerance(diff, rate, unit, config):
        return (*lines, tolerance_line(diff, config, tenant))
    if req.settle_in_full:
        raise refuse_difference(diff, config, tenant, invoice.document_number)
    if diff.amount < 0 and not req.allow_overpayment:
        raise ActionRejected(
            f"the amount {money_text(req.amount)} {req.currency} is above the invoice's balance "
            f"{money_text(invoice.balance)} {invoice.currency} ({diff.describe()})",
            tenant=tenant,
            invoice=invoice.document_number,
            hint="pay at most the balance, or pass allow_overpayment=true (or set it in the tenant's config)",
        )
    return lines
