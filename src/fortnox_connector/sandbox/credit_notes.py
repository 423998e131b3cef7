"""Credit notes settling invoices: a credit invoice that credits a debit invoice offsets it.

Fortnox links the two by ``CreditInvoiceReference`` (the credit invoice names the invoice it credits, and the
credited invoice names its credit invoice; official spec: ``Invoice.CreditInvoiceReference``), and an
invoice settled by its credit note is listed as fully paid (issue 12). How Fortnox moves the balances is not
documented; the sandbox's model (**sandbox choice**): the credited amount comes off the debit invoice's
balance and the credit invoice's balance goes up by as much, so crediting an unpaid invoice in full leaves
both at 0, with ``FinalPayDate`` the credit day, and no payment on either. Creating credit invoices for
export is the invoice-export issue's (``Sandbox.add_invoice(…, Credit=True)``); this module only settles.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from .errors import ApiError
from .store import Invoice, Store, Tenant, money


def credit(
    store: Store, tenant: Tenant, document_number: int, now: datetime, amount: Decimal | None
) -> Invoice:
    """Credit ``amount`` (default: the whole balance) of the invoice with a new credit invoice; return it."""
    debit = store.invoice(tenant, document_number)
    if debit.credit or debit.cancelled:
        raise ApiError(2001392, "Inga eller felaktiga data: fakturan kan inte krediteras.")
    value = money(amount) if amount is not None else debit.balance
    if value <= 0 or value > debit.balance:
        raise ApiError(2001392, "Inga eller felaktiga data: kreditbeloppet.")
    note = store.add_invoice(
        tenant,
        now,
        Currency=debit.currency,
        CurrencyRate=debit.currency_rate,
        CurrencyUnit=debit.currency_unit,
        CustomerNumber=debit.customer_number,
        CustomerName=debit.customer_name,
        InvoiceDate=now.date(),
        Total=-value,
        Credit=True,
    )
    note.credit_ref = debit.document_number
    debit.credit_ref = note.document_number
    day = now.date()
    store.settle(debit, value, day, now)
    store.settle(note, -value, day, now)
    return note
