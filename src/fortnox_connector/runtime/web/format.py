"""How the pages write times, durations and money: Swedish amounts (``15 388,10``), zoned times."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from jinja2 import Environment

NBSP = "\u00a0"


def money(value: object) -> str:
    """A decimal string as Swedes write it: spaces between thousands, a decimal comma, two decimals."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not amount.is_finite():
        return str(value)
    text = f"{amount.quantize(Decimal('0.01')):,.2f}"  # 15,388.10
    return text.replace(",", NBSP).replace(".", ",")


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M %Z") if value is not None else "—"


def ago(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def register_filters(env: Environment) -> None:
    env.filters.update(money=money, when=when, ago=ago)
