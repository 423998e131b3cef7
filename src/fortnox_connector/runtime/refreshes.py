"""The token refreshes a run caused, for its record (and so for ``/metrics``).

A connector's run summary counts what its client sees; a token refresh happens in a token provider, which
may serve several runs of the process (a service account's does). The runtime hears of every refresh (its
``on_token_refreshed`` observers call ``refreshed()``) and credits it to the run whose request caused it: a
run counts inside ``counting()``, a context variable, and the connector's read-ahead threads run in a copy
of the caller's context, so a refresh made on one of them is credited too. A refresh outside any run (a
``check``, a ``connect``) is credited to none.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class RefreshCount:
    """How many refreshes so far; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> None:
        with self._lock:
            self.value += 1


_CURRENT: ContextVar[RefreshCount | None] = ContextVar("fortnox_connector_run_refreshes", default=None)


@contextmanager
def counting() -> Iterator[RefreshCount]:
    """Count the refreshes made in this block (and in threads started with a copy of its context)."""
    count = RefreshCount()
    token = _CURRENT.set(count)
    try:
        yield count
    finally:
        _CURRENT.reset(token)


def refreshed() -> None:
    """A token was refreshed: credit the run counting here, if one is."""
    count = _CURRENT.get()
    if count is not None:
        count.add()
