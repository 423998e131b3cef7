"""The cursor's fast paths (``NumberSet`` reading, writing, adding; ``cursor.encode``) change no outcome.

``from_json`` checks the common shape in whole-list passes and hands anything else to the range-by-range
reader; ``encode`` splices the ranges in as text; ``add_all`` appends a page past all held numbers without
re-sorting. These tests pin them against the plain forms: the same sets accepted and kept, the same inputs
refused with the same message, byte-identical cursor text.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

import pytest

from fortnox_connector.errors import ConfigError
from fortnox_connector.triggers.cursor import VERSION, Cursor, Run, decode, encode
from fortnox_connector.triggers.seen import MAX_RANGES, NumberSet
from fortnox_connector.triggers.window import STOCKHOLM


class Small(IntEnum):
    ONE = 1
    FIVE = 5


def plain_encode(cursor: Cursor) -> str:
    """``encode`` as it was written before the splice: one ``json.dumps`` of the whole object."""
    run = None
    if cursor.run is not None:
        run = {"started": cursor.run.started.isoformat(), "page": cursor.run.page, "total": cursor.run.total}
    data = {
        "v": VERSION,
        "trigger": cursor.trigger,
        "since": cursor.since.isoformat(),
        "run": run,
        "seen": {kind: numbers.to_json() for kind, numbers in sorted(cursor.seen.items()) if len(numbers)},
    }
    return json.dumps(data, separators=(",", ":"))


def number_set(numbers: list[int], max_ranges: int = MAX_RANGES) -> NumberSet:
    seen = NumberSet(max_ranges)
    seen.add_all(numbers)
    return seen


WORST_CASE = list(range(1, 2 * MAX_RANGES + 1, 2))  # every other number: MAX_RANGES single-number ranges
SETS = [
    [],
    [7],
    [0],
    [-3, -2, 5],
    [1, 2, 3, 7, 9, 10],
    [2**63, 2**63 + 1, 10**30],  # past any fixed-width integer
    WORST_CASE,
    random.Random(11).sample(range(100_000), 3000),
]


@pytest.mark.parametrize("numbers", SETS)
def test_ranges_as_text_are_what_json_writes(numbers: list[int]) -> None:
    seen = number_set(numbers)
    assert seen.to_json_text() == json.dumps(seen.to_json(), separators=(",", ":"))


def test_ranges_read_by_the_slow_path_write_as_json_does() -> None:
    seen = NumberSet.from_json([[Small.ONE, Small.ONE], [Small.FIVE, 6]])  # int subclasses: the slow path
    assert seen.to_json_text() == json.dumps(seen.to_json(), separators=(",", ":")) == "[[1,1],[5,6]]"


@pytest.mark.parametrize("numbers", SETS)
def test_both_readers_accept_what_the_set_writes(numbers: list[int]) -> None:
    seen = number_set(numbers)
    data = json.loads(seen.to_json_text())
    fast = NumberSet.from_json(data)
    checked = NumberSet._from_json_checked(data, MAX_RANGES)
    assert fast.to_json() == checked.to_json() == seen.to_json()
    assert [n in fast for n in range(-5, 12)] == [n in seen for n in range(-5, 12)]
    assert fast.max_ranges == MAX_RANGES and NumberSet.from_json(data, max_ranges=4).max_ranges == 4


def plain_add_all(ranges: list[list[int]], numbers: list[int], max_ranges: int) -> list[list[int]]:
    """``add_all`` as it was written before the append path: sort everything held and new, merge, trim."""
    merged: list[list[int]] = []
    for start, end in sorted([*map(tuple, ranges), *((n, n) for n in set(numbers))]):
        if merged and start <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged[-max_ranges:] if len(merged) > max_ranges else merged


PAGES = [
    ([], [[5, 5]]),  # first page
    ([[1, 3]], [[4, 4]]),  # adjacent to the last range: extends it
    ([[1, 3]], [[4, 6], [9, 9], [10, 10]]),
    ([[1, 3]], [[5, 5]]),
    ([[1, 3], [7, 9]], [[3, 3]]),  # already held
    ([[1, 3], [7, 9]], [[9, 9], [10, 10]]),  # the last held number again, then past it
    ([[1, 3], [7, 9]], [[5, 5]]),  # a gap filled below the last range
    ([[1, 3], [7, 9]], [[0, 0], [11, 11]]),
    ([[1, 3], [7, 9]], [[4, 6]]),  # joins two ranges
    ([[5, 5]], [[9, 9], [7, 7], [8, 8], [9, 9]]),  # unsorted, repeated
    ([[-9, -5]], [[-4, -4], [-1, -1]]),
]


@pytest.mark.parametrize(("held", "page"), PAGES)
@pytest.mark.parametrize("max_ranges", [1, 2, 3, MAX_RANGES])
def test_adding_a_page_keeps_what_sorting_everything_kept(
    held: list[list[int]], page: list[list[int]], max_ranges: int
) -> None:
    numbers = [n for start, end in page for n in range(start, end + 1)]
    seen = NumberSet.from_json(held, max_ranges=max_ranges)
    seen.add_all(numbers)
    assert seen.to_json() == plain_add_all(held, numbers, max_ranges)


def test_many_pages_keep_what_sorting_everything_kept() -> None:
    rng = random.Random(5)
    for max_ranges in (1, 7, 50):
        seen = NumberSet(max_ranges)
        plain: list[list[int]] = []
        for _ in range(200):
            base = rng.choice([0, 100, 1000, plain[-1][1] if plain else 0])
            numbers = [base + rng.randrange(0, 40) for _ in range(rng.randrange(0, 15))]
            seen.add_all(numbers)
            plain = plain_add_all(plain, numbers, max_ranges)
            assert seen.to_json() == plain


def test_a_read_set_is_its_own() -> None:
    data = [[1, 2], [5, 5]]
    seen = NumberSet.from_json(data)
    seen.add_all([3, 4])
    assert data == [[1, 2], [5, 5]] and seen.to_json() == [[1, 5]]


REFUSED: list[Any] = [
    None,
    "x",
    {"1": 2},
    ([1, 2],),  # a tuple of ranges
    [(1, 2)],  # a range as a tuple
    [[1]],
    [[1, 2, 3]],
    [[]],
    [[2, 1]],
    [[1, 2], [3, 4]],  # adjacent: the writer merges them
    [[1, 5], [4, 8]],  # overlapping
    [[5, 6], [1, 2]],  # unsorted
    [[1, 2], [1, 2]],
    [[1, True]],
    [[False, 1]],
    [[1, 2.0]],
    [[1.5, 2]],
    [["1", "2"]],
    [[1, None]],
    [[1, 2], None],
    [[1, 2], [[3], 4]],
    [[1, 2], [4, 5], [5, 9]],  # the bad range last
    [[1, 10**30], [10**30, 10**30 + 5]],
]


@pytest.mark.parametrize("bad", REFUSED)
def test_both_readers_refuse_alike(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"ranges|list") as checked:
        NumberSet._from_json_checked(bad, MAX_RANGES)
    with pytest.raises(ValueError, match=r"ranges|list") as fast:
        NumberSet.from_json(bad)
    assert str(fast.value) == str(checked.value)


def test_valid_ranges_outside_the_common_shape_still_read() -> None:
    class Ranges(list[Any]):
        pass

    assert NumberSet.from_json(Ranges([[1, 2], [4, 4]])).to_json() == [[1, 2], [4, 4]]
    assert NumberSet.from_json([[Small.ONE, 2], [Small.FIVE, Small.FIVE]]).to_json() == [[1, 2], [5, 5]]


def cursors() -> list[Cursor]:
    since = datetime(2026, 3, 1, 8, 30, tzinfo=STOCKHOLM)
    bare = Cursor("payment_received", since=since)
    running = Cursor("payment_received", since=since, run=Run(datetime(2026, 3, 2, 9, tzinfo=UTC), 3, 1234))
    running.seen_set("booked").add_all(WORST_CASE)
    running.seen_set("unbooked").add_all(range(2, 2 * MAX_RANGES + 2, 2))
    emptied = Cursor("invoice_paid", since=since, run=Run(datetime(2026, 3, 2, 9, tzinfo=UTC)))
    emptied.seen_set("paid")  # an empty set is left out of the text
    emptied.seen_set("Zahlung/ö\u2603").add_all([1])  # a kind JSON escapes
    emptied.seen_set("a").add_all([9, 10])
    return [bare, running, emptied]


@pytest.mark.parametrize("cursor", cursors())
def test_encode_writes_what_one_json_dump_wrote(cursor: Cursor) -> None:
    text = encode(cursor)
    assert text == plain_encode(cursor)
    back = decode(text, tenant="acme", trigger=cursor.trigger)
    assert {k: s.to_json() for k, s in back.seen.items()} == {
        k: s.to_json() for k, s in cursor.seen.items() if len(s)
    }
    assert encode(back) == text


@pytest.mark.parametrize(
    "seen",
    [
        '{"booked":[[1,2],[3,4]]}',
        '{"booked":[[1,2]],"unbooked":[[4,3]]}',
        '{"booked":[[1,true]]}',
        '{"booked":[[1,2.0]]}',
        '{"booked":[[1,2]],"unbooked":{"1":2}}',
    ],
)
def test_a_malformed_seen_set_is_still_a_config_error(seen: str) -> None:
    text = (
        f'{{"v":{VERSION},"trigger":"payment_received","since":"2026-03-01T08:30:00+01:00","run":null,'
        f'"seen":{seen}}}'
    )
    with pytest.raises(ConfigError) as err:
        decode(text, tenant="acme", trigger="payment_received")
    message = str(err.value)
    assert "tenant acme" in message and "payment_received" in message
    assert "ranges" in message or "list" in message
