"""``GET /3/currencies`` and ``/3/currencies/{Code}``: the company's currency rates (scope ``currency``).

Fields as other clients model Fortnox's ``Currency`` (``Code``, ``Description``, ``BuyRate``, ``SellRate``,
``Unit``, ``Date``, ``IsAutomatic``; zenta-ab/fortnox.NET, softwerkab/fortnox-csharp-api-sdk). Each tenant has
the seeded rates (``store.RATES``) dated the business clock's day until a test sets one with
``Sandbox.set_currency_rate``; ``BuyRate`` and ``SellRate`` are equal (**sandbox choice**).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from .errors import ApiError
from .store import RATES, Tenant
from .wire import num

NAMES = {"SEK": "Svenska kronor", "EUR": "Euro", "USD": "Amerikanska dollar"}


def set_rate(tenant: Tenant, code: str, rate: Decimal, day: date, unit: Decimal) -> None:
    tenant.currency_rates[code.upper()] = (day, rate, unit)


def rates(tenant: Tenant, today: date) -> dict[str, tuple[date, Decimal, Decimal]]:
    """Code -> (day, rate, unit): the seeded rates of ``today``, overridden by those set."""
    seeded = {code: (today, rate, Decimal(1)) for code, rate in RATES.items() if code != "SEK"}
    return {**seeded, **tenant.currency_rates}


def currency_json(code: str, day: date, rate: Decimal, unit: Decimal) -> dict[str, Any]:
    return {
        "@url": f"https://api.fortnox.se/3/currencies/{code}",
        "BuyRate": num(rate),
        "Code": code,
        "Date": day.isoformat(),
        "Description": NAMES.get(code, code),
        "IsAutomatic": True,
        "SellRate": num(rate),
        "Unit": num(unit),
    }


def one(tenant: Tenant, code: str, today: date) -> tuple[int, Any]:
    found = rates(tenant, today).get(code.upper())
    if found is None:
        raise ApiError(2001305)
    return 200, {"Currency": currency_json(code.upper(), *found)}


def listing(tenant: Tenant, today: date) -> tuple[int, Any]:
    items = [currency_json(code, *found) for code, found in sorted(rates(tenant, today).items())]
    meta = {"@TotalResources": len(items), "@TotalPages": 1, "@CurrentPage": 1}
    return 200, {"MetaInformation": meta, "Currencies": items}
