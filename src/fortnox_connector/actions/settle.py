"""What a payment settles, and what is written off: explicit write-offs, the tolerance, currency differences.

Fortnox records what a payment does not cover as write-offs on the payment (``WriteOffs[]``: account,
amount, currency, description, cost centre, project). This module decides them, in ``Decimal`` only:

- **explicit** write-offs from the input, in the invoice's currency (a positive amount is a debit of its
  account: a short payment written off; a negative one credits it: an overpayment kept as income);
- the **tolerance** (``payment_tolerance_amount`` in SEK and/or ``payment_tolerance_percent`` of the balance;
  both apply when both are set): when what is left open after the amount and the explicit write-offs is
  within it, it is written off to ``payment_tolerance_account`` and the invoice is paid in full. Beyond it the
  payment is partial, or, with ``settle_in_full``, refused naming the difference; an amount above the balance
  beyond it is refused unless overpayment is allowed. So Fortnox's balance ends at exactly 0 or the error says
  by how much it would not;
- the **currency difference** of a foreign-currency payment: the SEK received minus the SEK the settled
  amount was invoiced at (``AmountCurrency * invoice rate / unit``, to the öre). With
  ``currency_difference_booking: write_off`` (default) it is a SEK write-off row on ``currency_gain_account``
  (a gain, credited) or ``currency_loss_account`` (a loss, debited); with ``fortnox`` no row is sent and
  Fortnox books it on the company's own currency-difference accounts, as its payment dialog does
  (docs/actions.md has the sources and what is unconfirmed).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.money import money_text, to_ore
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.errors import ConfigError

HUNDRED = Decimal(100)
COMPANY_CURRENCY = "SEK"


@dataclass(frozen=True, slots=True)
class WriteOffLine:
    """One ``WriteOffs[]`` row; ``kind`` is ours (explicit, tolerance, currency_difference), never sent."""

    account: int
    amount: Decimal  # in ``currency``; positive: a debit of ``account``
    currency: str
    description: str | None = None
    cost_center: str | None = None
    project: str | None = None
    kind: str = "explicit"

    def body(self) -> dict[str, Any]:
        """The row as Fortnox's ``PaymentWriteOffSinglePayloadItem``."""
        row: dict[str, Any] = {
            "AccountNumber": self.account,
            "Amount": self.amount,
            "Currency": self.currency,
        }
        for key, value in (
            ("Description", self.description),
            ("CostCenter", self.cost_center),
            ("Project", self.project),
        ):
            if value:
                row[key] = value
        return row

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "amount": money_text(self.amount),
            "currency": self.currency,
            "description": self.description,
            "cost_center": self.cost_center,
            "project": self.project,
            "kind": self.kind,
        }

    @classmethod
    def from_json(cls, raw: Any) -> WriteOffLine:
        return cls(
            account=int(raw["account"]),
            amount=Decimal(str(raw["amount"])),
            currency=str(raw["currency"]),
            description=raw.get("description"),
            cost_center=raw.get("cost_center"),
            project=raw.get("project"),
            kind=str(raw.get("kind", "explicit")),
        )


@dataclass(frozen=True, slots=True)
class Difference:
    """What is left open: ``amount`` in the invoice's currency (negative: paid too much)."""

    amount: Decimal
    currency: str
    balance: Decimal
    paid: Decimal
    written_off: Decimal

    def describe(self) -> str:
        side = "short of" if self.amount > 0 else "over"
        return (
            f"the payment is {money_text(abs(self.amount))} {self.currency} {side} the balance "
            f"{money_text(self.balance)} {self.currency} (paid {money_text(self.paid)}, written off "
            f"{money_text(self.written_off)})"
        )


def open_after(
    balance: Decimal, amount: Decimal, write_offs: tuple[WriteOffLine, ...], currency: str
) -> Difference:
    """The balance left after ``amount`` and the write-offs in the invoice's ``currency``."""
    written = sum((w.amount for w in write_offs if w.currency == currency), Decimal(0))
    return Difference(balance - amount - written, currency, balance, amount, written)


def within_tolerance(diff: Difference, rate: Decimal, unit: Decimal, config: TenantConfig) -> bool:
    """Is the difference within every tolerance limit the tenant set (none set: never)?"""
    limits: list[bool] = []
    size = abs(diff.amount)
    if config.payment_tolerance_amount is not None:
        in_sek = size if diff.currency == COMPANY_CURRENCY else to_ore(size * rate / unit)
        limits.append(in_sek <= config.payment_tolerance_amount)
    if config.payment_tolerance_percent is not None:
        limits.append(size * HUNDRED <= abs(diff.balance) * config.payment_tolerance_percent)
    return bool(limits) and all(limits)


def tolerance_line(diff: Difference, config: TenantConfig, tenant: str) -> WriteOffLine:
    """The write-off that closes ``diff`` on the tolerance account."""
    if config.payment_tolerance_account is None:
        raise ConfigError(
            "a payment tolerance is set but no account to write the difference off to",
            field="payment_tolerance_account",
            tenant=tenant,
            hint="set payment_tolerance_account (e.g. 6570 for bank fees, 3740 for rounding)",
        )
    return WriteOffLine(
        account=config.payment_tolerance_account,
        amount=diff.amount,
        currency=diff.currency,
        description="Differens inom tolerans",
        kind="tolerance",
    )


def tolerance_text(config: TenantConfig) -> str:
    parts = []
    if config.payment_tolerance_amount is not None:
        parts.append(f"{money_text(config.payment_tolerance_amount)} SEK")
    if config.payment_tolerance_percent is not None:
        parts.append(f"{config.payment_tolerance_percent} % of the balance")
    return " and ".join(parts) if parts else "none"


def currency_difference(
    amount_sek: Decimal, amount_currency: Decimal, invoice_rate: Decimal, unit: Decimal
) -> Decimal:
    """SEK received minus the SEK ``amount_currency`` was invoiced at (positive: a gain), to the öre."""
    return amount_sek - to_ore(amount_currency * invoice_rate / unit)


def currency_line(difference: Decimal, config: TenantConfig) -> WriteOffLine | None:
    """The SEK row booking ``difference`` (None when zero or when Fortnox books it itself)."""
    if difference == 0 or config.currency_difference_booking != "write_off":
        return None
    gain = difference > 0
    return WriteOffLine(
        account=config.currency_gain_account if gain else config.currency_loss_account,
        amount=-difference,  # a gain credits the gain account, a loss debits the loss account
        currency=COMPANY_CURRENCY,
        description="Valutakursvinst" if gain else "Valutakursförlust",
        kind="currency_difference",
    )


def refuse_difference(diff: Difference, config: TenantConfig, tenant: str, invoice: str) -> ActionRejected:
    """The refusal of a payment that must settle in full but is beyond the tolerance."""
    return ActionRejected(
        f"{diff.describe()}, beyond the tenant's tolerance ({tolerance_text(config)}); nothing was written",
        tenant=tenant,
        invoice=invoice,
        hint="pay the balance, add write_offs for the difference, or raise payment_tolerance_amount / "
        "payment_tolerance_percent",
    )
