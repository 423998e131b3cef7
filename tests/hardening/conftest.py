"""The fuzz suite's totals, printed once at the end of the run (see ``outcomes.py``)."""

from __future__ import annotations

import pytest

from tests.hardening.outcomes import TALLIES, report_lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLIES:
        terminalreporter.section("fuzz outcomes (issue 11)")
        for line in report_lines():
            terminalreporter.write_line(line)
