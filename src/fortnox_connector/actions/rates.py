"""The rate of the payment day from Fortnox (``GET /3/currencies/{Code}``, scope ``currency``).

Fortnox keeps one current rate per currency in the company's settings, with the ``Date`` it is of; with
automatic rates it is Riksbanken's, updated every weekday at 16:15 (support.fortnox.se, "Automatisk
uppdatering av valutakurser"). There is no history by date in the API, so the rate is used only when it is
of the payment day or of the last few days before it (a weekend, a holiday); otherwise the action refuses
and asks for the rate. ``BuyRate`` is taken (the bank buys the currency the customer paid), ``SellRate``
when there is no buy rate. Rates are per the currency's ``Unit``; they are converted to the invoice's unit.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.lookup import explained
from fortnox_connector.fortnox.errors import NotFound

if TYPE_CHECKING:
    from fortnox_connector.fortnox.client import FortnoxClient

MAX_RATE_AGE_DAYS = 4  # Friday's rate for a Monday payment after a Friday holiday, and no older


def fortnox_rate(
    client: FortnoxClient, currency: str, payment_date: date, unit: Decimal, *, tenant: str, invoice: str
) -> Decimal:
    """SEK per ``unit`` units of ``currency`` on ``payment_date``, from Fortnox; else ``ActionRejected``."""
    hint = "pass 'currency_rate' (the payment day's rate) or 'amount_company_currency' (the SEK booked)"
    try:
        with explained(tenant, invoice, "currency"):
            found = client.get_currency(currency)
    except ActionRejected as exc:
        if isinstance(exc.__cause__, NotFound):
            raise ActionRejected(
                f"Fortnox has no currency {currency} in the company's settings", tenant=tenant, hint=hint
            ) from exc
        raise
    rate = found.buy_rate or found.sell_rate
    if rate is None or rate <= 0:
        raise ActionRejected(f"Fortnox has no rate for {currency}", tenant=tenant, invoice=invoice, hint=hint)
    oldest = payment_date - timedelta(days=MAX_RATE_AGE_DAYS)
    if found.date is None or not oldest <= found.date <= payment_date:
        raise ActionRejected(
            f"Fortnox's {currency} rate is of {found.date or 'no date'}, not of the payment day "
            f"{payment_date} or the {MAX_RATE_AGE_DAYS} days before it",
            tenant=tenant,
            invoice=invoice,
            hint=hint,
        )
    return rate * unit / (found.unit or Decimal(1))
