"""How an invoice was settled: by payments, a credit note, write-offs, or a mix (``invoice_paid``'s
``settled_by``).

Fortnox's invoice says only that its balance is 0. What settled it comes from its payments
(``GET /3/invoicepayments?invoicenumber=…``, all pages: ``AmountCurrency`` — or ``Amount`` in SEK — and the
``WriteOffs[]`` in the invoice's currency) and from its ``CreditInvoiceReference``: what the total minus
payments and write-offs leaves is what the credit note took, when the invoice has one. SEK write-off rows on a
foreign-currency invoice are currency differences and settle nothing. One list request per paid invoice
(plus a single fetch for a payment whose list item only flags write-offs), made only for invoices about to be
announced.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from fortnox_connector.fortnox.errors import NotFound
from fortnox_connector.fortnox.records import Invoice, InvoicePayment

if TYPE_CHECKING:
    from fortnox_connector.fortnox.client import FortnoxClient

COMPANY_CURRENCY = "SEK"
ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Settlement:
    """What settled an invoice, in its currency."""

    payments: Decimal
    credit_note: Decimal
    write_off: Decimal

    @property
    def settled_by(self) -> str:
        """``payments``, ``credit_note``, ``write_off``, or ``mixed`` when more than one did."""
        kinds = [
            name
            for name, value in (
                ("payments", self.payments),
                ("credit_note", self.credit_note),
                ("write_off", self.write_off),
            )
            if value != 0
        ]
        if len(kinds) > 1:
            return "mixed"
        return kinds[0] if kinds else "payments"


def settlement_of(client: FortnoxClient, invoice: Invoice) -> Settlement:
    """Read the invoice's payments and work out what settled it."""
    currency = invoice.currency.upper()
    paid = ZERO
    written = ZERO
    for payment in _payments(client, invoice.document_number):
        if payment.amount_currency is not None:
            paid += payment.amount_currency
        elif currency == COMPANY_CURRENCY:
            paid += payment.amount
        else:  # a foreign payment without its invoice-currency amount: back at its own rate
            back = payment.amount * payment.currency_unit / payment.currency_rate
            paid += back.quantize(CENT, rounding=ROUND_HALF_UP)
        written += sum(
            (w.amount for w in payment.write_offs if (w.currency or currency).upper() == currency), ZERO
        )
    credited = ZERO
    if invoice.credit_invoice_reference is not None:
        credited = max(invoice.total - paid - written - invoice.balance, ZERO)
    return Settlement(payments=paid, credit_note=credited, write_off=written)


def _payments(client: FortnoxClient, document_number: str) -> list[InvoicePayment]:
    found: list[InvoicePayment] = []
    page = 1
    while True:
        got = client.list_invoice_payments(invoice_number=document_number, page=page)
        found.extend(p for p in got.items if str(p.invoice_number) == document_number)
        if got.last or page >= got.total_pages:
            break
        page += 1
    return [_detailed(client, p) for p in found]


def _detailed(client: FortnoxClient, payment: InvoicePayment) -> InvoicePayment:
    """The single payment when the list item flags write-offs without listing them."""
    if not (payment.write_off_exist and not payment.write_offs):
        return payment
    try:
        return client.get_invoice_payment(payment.number)
    except NotFound:
        return payment  # deleted since the list was read: its flag alone says nothing more
