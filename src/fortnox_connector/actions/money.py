"""Money arithmetic for payments: Decimal only, rounded to the öre with ROUND_HALF_UP."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ORE = Decimal("0.01")


def to_ore(value: Decimal) -> Decimal:
    """Round to two decimals, halves away from zero (12.345 → 12.35), as Swedish bookkeeping does."""
    return value.quantize(ORE, rounding=ROUND_HALF_UP)


def company_amount(amount_currency: Decimal, rate: Decimal, unit: Decimal) -> Decimal:
    """The amount in the company's currency (SEK): ``amount_currency * rate / unit``, rounded to the öre."""
    return to_ore(amount_currency * rate / unit)


def parse_decimal(value: object) -> Decimal | None:
    """A finite Decimal from a decimal string or an int; None when it is not one (floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        return None
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def money_text(value: Decimal) -> str:
    """A decimal string with two decimals (the actions' output form)."""
    return str(to_ore(value))
