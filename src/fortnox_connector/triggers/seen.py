"""A bounded set of record numbers already emitted, kept in the cursor as ranges.

Why: ``lastmodified`` has no record timestamps to compare with, so every run re-reads its overlap (and a
restarted paging re-reads its first pages). Dropping numbers already emitted keeps repeats out of the host's
way; the dedup key still catches whatever this set forgets.

Why ranges: Fortnox numbers payments and invoices sequentially, so what a run emits is mostly consecutive
(``[[1, 500], [502, 980]]``): a backfill of 100,000 payments fits in a few ranges. The bound is on ranges,
not numbers: past ``MAX_RANGES`` the lowest ranges (the oldest records, least likely to be modified again
inside an overlap) are forgotten. Worst case (every other number emitted) the set remembers the latest
``MAX_RANGES`` numbers; the cursor then stays under ~25 kB.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from itertools import chain
from operator import le, sub
from typing import Any

MAX_RANGES = 1000


class NumberSet:
    """Integers as sorted, disjoint, non-adjacent inclusive ranges (``starts[i]..ends[i]``)."""

    __slots__ = ("_ends", "_starts", "max_ranges")

    def __init__(self, max_ranges: int = MAX_RANGES) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self.max_ranges = max_ranges

    def __contains__(self, number: int) -> bool:
        i = bisect_right(self._starts, number) - 1
        return i >= 0 and number <= self._ends[i]

    def __len__(self) -> int:
        """How many ranges (not numbers) are held."""
        return len(self._starts)

    def add_all(self, numbers: Iterable[int]) -> None:
        """Add ``numbers`` (one page at a time: one merge per call), then trim to ``max_ranges``."""
        new = sorted(set(numbers))
        if not new:
            return
        starts, ends = self._starts, self._ends
        if not ends or new[0] > ends[-1]:
            # The common case, a page of numbers past all held (Fortnox numbers sequentially): extend or
            # append at the end only, instead of re-sorting every held range (up to MAX_RANGES, each page).
            for n in new:
                if ends and n == ends[-1] + 1:
                    ends[-1] = n
                else:
                    starts.append(n)
                    ends.append(n)
            if len(starts) > self.max_ranges:
                del starts[: -self.max_ranges]
                del ends[: -self.max_ranges]
            return
        merged: list[tuple[int, int]] = []
        pairs = sorted([*zip(self._starts, self._ends, strict=True), *((n, n) for n in new)])
        for start, end in pairs:
            if merged and start <= merged[-1][1] + 1:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        if len(merged) > self.max_ranges:
            merged = merged[-self.max_ranges :]
        self._starts = [s for s, _ in merged]
        self._ends = [e for _, e in merged]

    def to_json(self) -> list[list[int]]:
        return [[s, e] for s, e in zip(self._starts, self._ends, strict=True)]

    def to_json_text(self) -> str:
        """``json.dumps(self.to_json(), separators=(",", ":"))``, in one format call instead of a walk.

        Why: the cursor is encoded after every page, and in the worst case (every other number emitted)
        it holds ``2 * MAX_RANGES`` ranges; building and dumping a list per range cost ~1 µs per event.
        """
        n = len(self._starts)
        flat: list[int] = [0] * (2 * n)
        flat[::2] = self._starts
        flat[1::2] = self._ends
        return "[" + (("[%d,%d]," * n) % tuple(flat))[:-1] + "]"

    @classmethod
    def from_json(cls, data: Any, max_ranges: int = MAX_RANGES) -> NumberSet:
        """Read ``[[start, end], ...]``; raises ``ValueError`` if it is anything else.

        The cursor is decoded before every page, so the common shape (exact lists of two exact ints, as
        ``json.loads`` gives) is checked in whole-list passes; anything else, valid or not, takes the
        range-by-range reader, which accepts and refuses exactly what it always did.
        """
        if data.__class__ is list and {*map(type, data)} <= {list} and {*map(len, data)} <= {2}:
            flat = list(chain.from_iterable(data))
            if {*map(type, flat)} <= {int}:
                starts, ends = flat[::2], flat[1::2]
                # start <= end; each range starts 2 or more past the previous end (disjoint, not adjacent)
                if all(map(le, starts, ends)) and min(map(sub, starts[1:], ends), default=2) >= 2:
                    result = cls(max_ranges)
                    result._starts, result._ends = starts, ends
                    return result
        return cls._from_json_checked(data, max_ranges)

    @classmethod
    def _from_json_checked(cls, data: Any, max_ranges: int) -> NumberSet:
        result = cls(max_ranges)
        if not isinstance(data, list):
            raise ValueError("not a list of ranges")
        last = None
        for pair in data:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(n, int) and not isinstance(n, bool) for n in pair)
                or pair[0] > pair[1]
                or (last is not None and pair[0] <= last + 1)
            ):
                raise ValueError("ranges must be sorted, disjoint [start, end] integer pairs")
            result._starts.append(pair[0])
            result._ends.append(pair[1])
            last = pair[1]
        return result


def as_number(identifier: str) -> int | None:
    """A Fortnox id (``"123"``) as an int for the set; None for a non-numeric one (then only keys dedup)."""
    return int(identifier) if identifier.isascii() and identifier.isdigit() else None
