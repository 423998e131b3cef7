"""The triggers' parts without Fortnox: seen-number ranges, cursor encoding, the window, money strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from fortnox_connector.errors import ConfigError
from fortnox_connector.triggers.cursor import Cursor, Run, decode, encode
from fortnox_connector.triggers.events import money, payment_key
from fortnox_connector.triggers.seen import NumberSet, as_number
from fortnox_connector.triggers.window import STOCKHOLM, backfill_since, next_since, wall_minute


def test_number_set_merges_pages_into_ranges() -> None:
    seen = NumberSet()
    seen.add_all(range(1, 501))
    seen.add_all([*range(501, 1000), 1002, 1003])
    assert seen.to_json() == [[1, 999], [1002, 1003]]
    assert 1 in seen and 999 in seen and 1000 not in seen and 1003 in seen and 0 not in seen
    seen.add_all([1000, 1001])
    assert seen.to_json() == [[1, 1003]]


def test_number_set_forgets_the_lowest_ranges_beyond_its_bound() -> None:
    seen = NumberSet(max_ranges=3)
    seen.add_all([1, 3, 5, 7, 9])
    assert seen.to_json() == [[5, 5], [7, 7], [9, 9]]
    assert 1 not in seen and 9 in seen
    assert len(seen) == 3


@pytest.mark.parametrize("bad", ["x", [[1]], [[2, 1]], [[1, 2], [3, 4]], [[1, True]], [[5, 6], [1, 2]]])
def test_number_set_refuses_what_it_did_not_write(bad: object) -> None:
    with pytest.raises(ValueError, match=r"ranges|list"):
        NumberSet.from_json(bad)


def test_as_number_only_for_digits() -> None:
    assert as_number("00123") == 123 and as_number("A-1") is None and as_number("") is None
    assert as_number("²") is None and as_number("١٢") is None  # digits int() refuses or that are not ASCII


def test_cursor_round_trips() -> None:
    cursor = Cursor(
        "payment_received",
        since=datetime(2026, 3, 1, 8, 30, tzinfo=STOCKHOLM),
        run=Run(started=datetime(2026, 3, 2, 9, 0, tzinfo=UTC), page=3, total=1234),
    )
    cursor.seen_set("booked").add_all([1, 2, 3, 7])
    text = encode(cursor)
    back = decode(text, tenant="acme", trigger="payment_received")
    assert back.since == cursor.since and back.run == cursor.run
    assert back.seen["booked"].to_json() == [[1, 3], [7, 7]]
    assert encode(back) == text


def test_cursor_of_another_trigger_is_refused() -> None:
    text = encode(Cursor("invoice_paid", since=datetime(2026, 3, 1, tzinfo=UTC)))
    with pytest.raises(ConfigError) as err:
        decode(text, tenant="acme", trigger="payment_received")
    assert "tenant acme" in str(err.value) and "invoice_paid" in str(err.value)


def test_backfill_starts_at_stockholm_midnight() -> None:
    now = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # 01:30 in Stockholm
    assert backfill_since(now, 30) == datetime(2026, 1, 31, 0, 0, tzinfo=STOCKHOLM)
    assert wall_minute(backfill_since(now, 0)) == "2026-03-02 00:00"


def test_next_since_is_start_minus_overlap_in_wall_time() -> None:
    started = datetime(2026, 3, 2, 10, 0, tzinfo=STOCKHOLM)
    assert wall_minute(next_since(started, 90)) == "2026-03-02 08:30"
    assert wall_minute(next_since(started, 5)) == "2026-03-02 08:55"  # never under an hour plus skew


def test_overlap_covers_the_hour_summer_time_gives_back() -> None:
    # 25 Oct 2026: 03:00 CEST becomes 02:00 CET. A run starts at 02:50 CEST (00:50 UTC); a payment booked
    # 15 minutes later, at 02:05 CET (01:05 UTC), carries the wall-clock stamp 02:05, below the start's.
    started = datetime(2026, 10, 25, 0, 50, tzinfo=UTC)
    booked = datetime(2026, 10, 25, 1, 5, tzinfo=UTC).astimezone(STOCKHOLM)
    assert wall_minute(started) == "2026-10-25 02:50" and wall_minute(booked) == "2026-10-25 02:05"
    assert wall_minute(started - timedelta(minutes=30)) > wall_minute(booked)  # a short overlap misses it
    for minutes in (5, 65, 90):
        assert wall_minute(next_since(started, minutes)) <= wall_minute(booked)


def test_spring_forward_only_asks_for_more() -> None:
    started = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST, an hour after 02:00 CET became 03:00
    assert wall_minute(next_since(started, 90)) == "2026-03-29 01:00"  # 2.5 wall-clock hours back


@pytest.mark.parametrize(
    ("value", "text"),
    [("1234.5", "1234.50"), ("1234", "1234.00"), ("0.1", "0.10"), ("-5", "-5.00"), ("1E+2", "100.00")],
)
def test_money_has_two_decimals_at_least(value: str, text: str) -> None:
    assert money(Decimal(value)) == text


def test_money_is_never_rounded() -> None:
    assert money(Decimal("0.125")) == "0.125"


def test_payment_keys_name_the_state() -> None:
    assert payment_key("acme", "42", True) == "fortnox:acme:payment:42:booked"
    assert payment_key("acme", "42", False) == "fortnox:acme:payment:42:unbooked"


@pytest.mark.parametrize(
    "started",
    [
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),  # 03:30 CEST: 90 minutes back crosses the skipped hour
        datetime(2026, 10, 25, 0, 50, tzinfo=UTC),  # 02:50 CEST, the first of the two 02:50s
        datetime(2026, 10, 25, 1, 50, tzinfo=UTC),  # 02:50 CET, the second
        datetime(2026, 10, 25, 2, 30, tzinfo=UTC),  # 03:30 CET
    ],
)
@pytest.mark.parametrize("minutes", [65, 90])
def test_next_since_subtracts_real_time_whatever_zone_ctx_now_gives(started: datetime, minutes: int) -> None:
    # ctx.now may be Stockholm-zoned (the sandbox's clock is): arithmetic on a zoneinfo datetime is wall-clock
    # arithmetic, which would ask from an hour later after the spring jump; the window must not depend on it
    expected = started - timedelta(minutes=minutes)
    for zoned in (started, started.astimezone(STOCKHOLM), started.astimezone(timezone(timedelta(hours=5)))):
        since = next_since(zoned, minutes)
        assert since.astimezone(UTC) == expected and wall_minute(since) == wall_minute(expected)
