"""How a payment settles an invoice in the sandbox: write-offs, credit notes and the voucher it books.

What Fortnox documents: a payment may carry ``WriteOffs[]`` (account, amount, currency, description, cost
centre, project; shared/fortnox-openapi/fortnox_PaymentWriteOffSinglePayloadItem.json), used when "the amount
paid differs from the invoice's balance" and the invoice is to be closed (bank fee, reminder fee, customer
loss); for a final payment of a foreign-currency invoice the SEK amount paid makes Fortnox compute the
currency difference and book it on the company's currency-difference accounts (support.fortnox.se,
"Registrera kundinbetalning i utländsk valuta"). What it does not document, and the sandbox therefore chooses
(**sandbox choice**, docs/sandbox.md):

- a write-off in the invoice's currency (or without a currency) lowers the invoice's balance like money does;
  a SEK write-off on a foreign-currency invoice is a currency-difference row: it is booked, not settled;
- the voucher debits the bank (``Amount``, SEK), credits receivables (1510) with what the payment settles at
  the invoice's rate, books each write-off (a positive amount is a debit), and books whatever is left to the
  company's currency-difference accounts (3960 gain, 7960 loss), so a voucher always balances.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .errors import ApiError

CENT = Decimal("0.01")
RECEIVABLES = 1510
CURRENCY_GAIN = 3960
CURRENCY_LOSS = 7960


@dataclass(frozen=True)
class WriteOffRow:
    account: int
    amount: Decimal  # in ``currency``; positive: a debit of ``account``
    currency: str
    description: str = ""
    cost_center: str = ""
    project: str = ""

    def json(self) -> dict[str, Any]:
        return {
            "AccountNumber": self.account,
            "Amount": _num(self.amount),
            "CostCenter": self.cost_center,
            "Currency": self.currency,
            "Description": self.description,
            "Project": self.project,
            "TransactionInformation": "",
        }


def read_write_offs(raw: Any, invoice_currency: str) -> list[WriteOffRow]:
    """``WriteOffs`` of a POST: a list of objects with an account 1000-9999 and a non-zero amount."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(2001392, "Inga eller felaktiga data: WriteOffs måste vara en lista.")
    return [_row(item, invoice_currency) for item in raw]


def _row(item: Any, invoice_currency: str) -> WriteOffRow:
    if not isinstance(item, dict):
        raise ApiError(2001392, "Inga eller felaktiga data: WriteOffs.")
    try:
        account = int(str(item.get("AccountNumber")))
        amount = Decimal(str(item.get("Amount"))).quantize(CENT, rounding=ROUND_HALF_UP)
    except (ValueError, ArithmeticError):
        raise ApiError(2001392, "Inga eller felaktiga data: WriteOffs.") from None
    if not 1000 <= account <= 9999:
        raise ApiError(2000423, f"Kontot hittades inte: {account}")
    if amount == 0:
        raise ApiError(2001392, "Inga eller felaktiga data: WriteOffs.Amount är 0.")
    return WriteOffRow(
        account=account,
        amount=amount,
        currency=str(item.get("Currency") or invoice_currency).upper(),
        description=str(item.get("Description") or ""),
        cost_center=str(item.get("CostCenter") or ""),
        project=str(item.get("Project") or ""),
    )


def settled_by_write_offs(rows: list[WriteOffRow], invoice_currency: str) -> Decimal:
    """What the write-offs settle of the balance, in the invoice's currency (SEK rows on a foreign
    invoice are currency differences and settle nothing)."""
    return sum((r.amount for r in rows if r.currency == invoice_currency), Decimal(0))


def voucher_rows(
    amount_sek: Decimal,
    amount_currency: Decimal,
    rows: list[WriteOffRow],
    invoice_currency: str,
    invoice_rate: Decimal,
    unit: Decimal,
    bank_account: int,
) -> list[tuple[int, Decimal, Decimal]]:
    """``(account, debit, credit)`` of the payment's voucher, in SEK; it always balances (see above)."""

    def sek(value: Decimal, currency: str) -> Decimal:
        if currency == "SEK":
            return value
        return (value * invoice_rate / unit).quantize(CENT, rounding=ROUND_HALF_UP)

    settled = amount_currency + settled_by_write_offs(rows, invoice_currency)
    out: list[tuple[int, Decimal, Decimal]] = [(bank_account, amount_sek, Decimal(0))]
    out.append((RECEIVABLES, Decimal(0), sek(settled, invoice_currency)))
    for r in rows:
        value = sek(r.amount, r.currency)
        out.append((r.account, value, Decimal(0)) if value > 0 else (r.account, Decimal(0), -value))
    left = sum((d - c for _a, d, c in out), Decimal(0))
    if left > 0:
        out.append((CURRENCY_GAIN, Decimal(0), left))
    elif left < 0:
        out.append((CURRENCY_LOSS, -left, Decimal(0)))
    return out


def _num(value: Decimal) -> int | float:
    if value == value.to_integral_value():
        return int(value)
    return float(value)
