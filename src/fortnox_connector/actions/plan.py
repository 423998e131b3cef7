"""Checking a payment against its invoice and working out what to send Fortnox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from fortnox_connector.actions import bounds
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.inputs import PaymentRequest
from fortnox_connector.actions.money import company_amount, money_text, to_ore
from fortnox_connector.fortnox.records import Invoice

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

    def body(self) -> dict[str, Any]:
        """The ``InvoicePayment`` object for ``POST /3/invoicepayments``."""
        return {
            "InvoiceNumber": int(self.invoice_number),
            "Amount": self.amount,
            "AmountCurrency": self.amount_currency,
            "Currency": self.currency,
            "CurrencyRate": self.currency_rate,
            "PaymentDate": self.payment_date,
            "ModeOfPayment": self.mode_of_payment,
            "ModeOfPaymentAccount": self.mode_of_payment_account,
        }

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
        )


def plan_payment(req: PaymentRequest, invoice: Invoice, tenant: str) -> PlannedPayment:
    """Refuse what Fortnox would refuse or what would be wrong; else the payment to send.

    Foreign currency: ``Amount`` (SEK) = ``AmountCurrency * rate / unit`` rounded to the öre, ROUND_HALF_UP.
    """
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
    if req.amount > invoice.balance and not req.allow_overpayment:
        raise reject(
            f"the amount {money_text(req.amount)} {req.currency} is above the invoice's balance "
            f"{money_text(invoice.balance)} {invoice.currency}",
            "pay at most the balance, or pass allow_overpayment=true (or set it in the tenant's config)",
        )
    payment_date = req.payment_date
    if invoice.invoice_date is not None and payment_date < invoice.invoice_date:
        if not req.move_date_to_invoice_date:
            raise reject(
                f"the payment date {payment_date} is before the invoice date {invoice.invoice_date}",
                "Fortnox refuses it: use a later date, or pass move_date_to_invoice_date=true",
            )
        payment_date = invoice.invoice_date
    if req.currency == COMPANY_CURRENCY:
        rate = Decimal(1)
        amount = to_ore(req.amount)
    else:
        rate = req.currency_rate if req.currency_rate is not None else invoice.currency_rate
        bounds.check_rate(
            rate,
            invoice.currency_rate,
            req.currency_rate_band_percent,
            tenant=tenant,
            invoice=doc,
            currency=req.currency,
        )
        amount = company_amount(req.amount, rate, invoice.currency_unit or Decimal(1))
        bounds.check_company_amount(amount, tenant=tenant, invoice=doc)
    return PlannedPayment(
        invoice_number=doc,
        amount=amount,
        amount_currency=to_ore(req.amount),
        currency=req.currency,
        currency_rate=rate,
        payment_date=payment_date,
        mode_of_payment=req.mode_of_payment,
        mode_of_payment_account=req.mode_of_payment_account,
    )
