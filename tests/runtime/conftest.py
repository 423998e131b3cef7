"""Fixtures shared by the runtime tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.runtime.webhook_support import Receiver, serve_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A scripted webhook receiver on 127.0.0.1 (``tests/runtime/webhook_support.py``)."""
    with serve_receiver() as state:
        yield state
