"""Sanity bounds on what an action would book: amounts, currency rates and payment dates.

A payment registered and booked in Fortnox cannot be undone by the connector, so input that passes its
schema but is absurd is refused before anything is sent:

- **amounts** below ``MAX_AMOUNT`` (one trillion, in any currency: above every real invoice, far below what
  breaks decimal arithmetic or Fortnox's fields);
- **currency rates** within ``currency_rate_band_percent`` (tenant config, default 50) of the invoice's own
  ``CurrencyRate`` — Fortnox's rate for the invoice day. The rate *of the payment day* would need Fortnox's
  ``currency`` scope, which the connector does not ask for (adding a scope makes every customer consent
  again), so the invoice's rate is the reference and the band is wide enough for months of drift;
  and the amount in SEK must not round to zero (a rate of 1e-10 once booked 0.00 SEK for 10.00 EUR);
- **payment dates** at most ``MAX_DAYS_AHEAD`` days after today in Stockholm (a payment is registered
  when it happened; ``9999-12-31`` is a typo, never a plan).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from fortnox_connector.actions.errors import ActionRejected

MAX_AMOUNT = Decimal("1000000000000")  # 10^12, exclusive
MAX_DAYS_AHEAD = 31
DEFAULT_RATE_BAND_PERCENT = 50
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def check_amount(amount: Decimal, *, tenant: str, invoice: str) -> None:
    """Refuse an amount of one trillion or more (any currency)."""
    if amount >= MAX_AMOUNT:
        raise ActionRejected(
            f"'amount' {amount:.2f} is not below {MAX_AMOUNT:,.0f}",
            tenant=tenant,
            invoice=invoice,
            hint='send the amount paid, a decimal string such as "1250.00"',
        )


def check_payment_date(day: date, *, tenant: str, invoice: str, today: date | None = None) -> None:
    """Refuse a payment date more than ``MAX_DAYS_AHEAD`` days after today (Stockholm)."""
    today = today or datetime.now(STOCKHOLM).date()
    latest = today + timedelta(days=MAX_DAYS_AHEAD)
    if day > latest:
        raise ActionRejected(
            f"'payment_date' {day.isoformat()} is more than {MAX_DAYS_AHEAD} days after today ({today})",
            tenant=tenant,
            invoice=invoice,
            hint="give the day the payment was made, YYYY-MM-DD",
        )


def check_rate(
    rate: Decimal, invoice_rate: Decimal, band_percent: int, *, tenant: str, invoice: str, currency: str
) -> None:
    """Refuse a rate more than ``band_percent`` away from the invoice's rate (when the invoice has one)."""
    if invoice_rate <= 0:
        return  # nothing to compare with; the amount-in-SEK check below still applies
    band = Decimal(band_percent) / 100
    low, high = invoice_rate * (1 - band), invoice_rate * (1 + band)
    if not low <= rate <= high:
        raise ActionRejected(
            f"'currency_rate' {rate} for {currency} is more than {band_percent}% away from the invoice's "
            f"rate {invoice_rate}",
            tenant=tenant,
            invoice=invoice,
            hint="check the rate (SEK per currency unit); leave it out to use the invoice's rate, or widen "
            "currency_rate_band_percent in the tenant's config",
        )


def check_company_amount(amount: Decimal, *, tenant: str, invoice: str) -> None:
    """Refuse a payment whose amount in SEK rounds to nothing."""
    if amount <= 0:
        raise ActionRejected(
            "the amount in SEK rounds to 0.00 at this rate",
            tenant=tenant,
            invoice=invoice,
            hint="check 'currency_rate' (SEK per currency unit) and 'amount'",
        )
