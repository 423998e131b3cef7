"""Markers of the contract tests."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "install: builds the wheel with pip and installs it into a fresh virtualenv, offline "
        "(slower than a unit test: two subprocesses, about 2 s)",
    )
