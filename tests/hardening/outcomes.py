"""Counting what bad input does: a clear error, an acceptance, a traceback, or a silent acceptance.

Every fuzz target feeds its function through ``Tally.attempt``: an exception of the kinds the target
names (the connector's own errors, each with its message and fix) is a **clear error**; any other exception
is a **traceback** (the input crashed something); a return is an **acceptance**, and a **silent
acceptance** when the target's own judge (an independent check, not the code under test) says the input
should have been refused. The session's totals are printed at the end of ``pytest`` (``conftest.py``) and
in the closing note of issue 11.
"""

from __future__ import annotations

import threading
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("clear error", "accepted", "traceback", "silent acceptance")


@dataclass
class Tally:
    """The outcomes of one fuzz target, with the first few tracebacks and silent inputs for the report."""

    target: str
    counts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def attempt(
        self,
        call: Callable[[], Any],
        *,
        clear: tuple[type[BaseException], ...],
        silent: Callable[[Any], str | None] = lambda _result: None,
    ) -> None:
        """Run ``call`` and count its outcome. ``silent(result)`` names why an acceptance was wrong."""
        try:
            result = call()
        except clear:
            self._count("clear error")
            return
        except Exception as exc:
            self._count("traceback", "".join(traceback.format_exception_only(exc)).strip())
            return
        why = silent(result)
        self._count("silent acceptance" if why else "accepted", why)

    def _count(self, outcome: str, example: str | None = None) -> None:
        with _LOCK:
            self.counts[outcome] += 1
            if example and len(self.examples) < 5:
                self.examples.append(f"{outcome}: {example[:300]}")

    @property
    def tried(self) -> int:
        return sum(self.counts.values())

    def assert_clean(self) -> None:
        """No traceback, no silent acceptance: the goal of issue 11."""
        bad = self.counts["traceback"] + self.counts["silent acceptance"]
        assert bad == 0, f"{self.target}: {dict(self.counts)}; e.g. {self.examples}"


_LOCK = threading.Lock()
TALLIES: dict[str, Tally] = {}


def tally(target: str) -> Tally:
    """The session's tally for ``target`` (made on first use)."""
    with _LOCK:
        return TALLIES.setdefault(target, Tally(target))


def report_lines() -> list[str]:
    """The totals per target and overall, for the terminal summary."""
    lines = [f"{'target':<28} {'tried':>6} " + " ".join(f"{o:>17}" for o in OUTCOMES)]
    total: Counter[str] = Counter()
    for name in sorted(TALLIES):
        t = TALLIES[name]
        total.update(t.counts)
        lines.append(f"{name:<28} {t.tried:>6} " + " ".join(f"{t.counts[o]:>17}" for o in OUTCOMES))
    lines.append(f"{'all':<28} {sum(total.values()):>6} " + " ".join(f"{total[o]:>17}" for o in OUTCOMES))
    return lines
