"""Money, rates and dates in event payloads: the fast formatting gives what ``format(value, "f")`` gives."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, localcontext

import pytest

from fortnox_connector.triggers import events
from fortnox_connector.triggers.events import iso, money, money_or_none, plain


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1234.50", "1234.50"),
        ("1234.5", "1234.50"),
        ("0.10", "0.10"),
        ("0.125", "0.125"),
        ("-0.01", "-0.01"),
        ("-0", "-0.00"),
        ("0E-7", "0.0000000"),
        ("1E+2", "100.00"),
        ("1.5E+3", "1500.00"),
        ("1E-7", "0.0000001"),
        ("12345678901234567890.12", "12345678901234567890.12"),
    ],
)
def test_money_is_plain_with_two_decimals_at_least(value: str, text: str) -> None:
    assert money(Decimal(value)) == text
    assert money_or_none(Decimal(value)) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [("11.2345", "11.2345"), ("1", "1"), ("1E+2", "100"), ("1.0", "1.0"), ("2.5E-7", "0.00000025")],
)
def test_rates_keep_their_digits_without_exponent(value: str, text: str) -> None:
    assert plain(Decimal(value)) == text


def test_no_exponent_whatever_the_context_capitals() -> None:
    with localcontext() as ctx:
        ctx.capitals = 0  # str() would write 1e+2
        assert money(Decimal("1E+2")) == "100.00"
        assert plain(Decimal("1E-7")) == "0.0000001"


def test_money_or_none_of_none() -> None:
    assert money_or_none(None) is None


def test_dates_are_iso_and_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "_ISO_MAX", 3)
    events._ISO.clear()
    day = date(2026, 2, 27)
    for n in range(10):
        assert iso(day + timedelta(days=n)) == (day + timedelta(days=n)).isoformat()
        assert iso(day) == "2026-02-27"
        assert len(events._ISO) <= 3
    assert iso(None) is None
