"""Pipelined paging: the next pages of a list are fetched while the caller works on this one.

Fortnox answers in 100-300 ms; fetched one at a time, 5 pages a second (the rate limit) are out of reach
with that latency. So when a caller reads page *n* of a list with more pages, pages *n + 1 … n + depth* are
requested in the background through the same client — the same pacer (never more than 25 requests per 5 s
per client and tenant, slots anchored on answers), the same retries — and handed over when the caller asks
for them. The caller still reads, delivers and commits page by page, in order; what it is handed is what a
request at that moment would have returned a little earlier.

- Only when answers are slow: a ``worth_it`` test (the client's: the last round trip took at least
  ``FortnoxClient(read_ahead_after=0.05)`` s) is asked after each page. Read in line, a page costs its round
  trip plus the caller's work on it; Fortnox allows one page per 0.2 s on average, so in-line reading keeps
  that pace while answers take a few tens of milliseconds, and reading ahead would save no time. It would
  cost CPU: a background thread contends with the caller for Python's interpreter lock, measured at ~1 µs
  more per event on loopback, a tenth of the trigger's CPU (docs/bench.md, "CPU per event"). Real Fortnox
  answers a page in 100-300 ms, where reading ahead is what keeps the rate limit's pace
  (docs/fortnox-client.md, "Pipelined paging").
- Memory stays flat: at most ``depth`` pages wait (500 records each).
- Nothing is fetched beyond the last page the list announced; a list of one page costs one request.
- A page that failed in the background raises its error when (and only if) the caller asks for it, so a
  run stops at the page it could not read, with the cursor on the page before.
- Asking for anything else (another query, a page out of order — a restart at page 1 after a deletion)
  drops what was fetched ahead: it is never handed out for a different question.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from fortnox_connector.fortnox.records import Page

Fetch = Callable[[int], Page[Any]]


def always() -> bool:
    return True


class Pipeline:
    """Pages fetched ahead for one client when ``worth_it()``; ``depth`` 0 turns it off. Thread-safe."""

    def __init__(self, depth: int, worth_it: Callable[[], bool] = always) -> None:
        if depth < 0:
            raise ValueError("a pipeline's depth is 0 (off) or more")
        self.depth = depth
        self.worth_it = worth_it
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._query: Hashable = None
        self._ahead: dict[int, Future[Page[Any]]] = {}

    def page(self, query: Hashable, number: int, fetch: Fetch) -> Page[Any]:
        """Page ``number`` of the list ``query`` names: fetched ahead if it was, else now."""
        with self._lock:
            if query != self._query:
                self._drop()
                self._query = query
            future = self._ahead.pop(number, None)
            if future is None:
                self._drop()
        page = fetch(number) if future is None else future.result()
        if self.depth and self.worth_it():
            with self._lock:
                if query == self._query:
                    self._fill(number, page.total_pages, fetch)
        return page

    def close(self) -> None:
        with self._lock:
            self._drop()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _fill(self, number: int, total_pages: int, fetch: Fetch) -> None:
        """Have pages ``number + 1 … number + depth`` (not past ``total_pages``) in flight (lock held)."""
        last = min(total_pages, number + self.depth)
        for ahead in range(number + 1, last + 1):
            if ahead not in self._ahead:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.depth, thread_name_prefix="fortnox-pages")
                # the caller's context goes along: log records name the tenant (runtime.logs), as its own do
                self._ahead[ahead] = self._pool.submit(contextvars.copy_context().run, fetch, ahead)

    def _drop(self) -> None:
        """Forget what was fetched ahead (lock held); a fetch already under way finishes unseen."""
        for future in self._ahead.values():
            future.cancel()
        self._ahead.clear()
