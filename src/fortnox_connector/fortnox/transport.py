"""Pacing as a transport: ``PacedTransport`` wraps the real one (transports wrap transports, as in httpx).

Every request that leaves — a retry, the second try after a 401 — takes a slot of the (client id, tenant)
pair's ``Pacer`` before it is sent and frees it once its answer has been read (or it failed), telling the
pacer when it left, so the slot is anchored between departure and answer (``pacing.py``). It also counts
what it sees: requests sent, 429s received and the last round trip (departure to answer read, the pacer's
wait excluded), and tells the pacer of each 429 (which lowers the pair's limit).
"""

from __future__ import annotations

import threading

import httpx

from fortnox_connector.fortnox.pacing import Pacer


class PacedTransport(httpx.BaseTransport):
    """``inner`` under ``pacer``; thread-safe (several pages may be in flight)."""

    def __init__(self, inner: httpx.BaseTransport, pacer: Pacer) -> None:
        self.inner = inner
        self.pacer = pacer
        self._lock = threading.Lock()
        self.sent = 0  # requests handed to the inner transport (retries included)
        self.throttled = 0  # 429 answers received
        self.last_round_trip: float | None = None  # seconds, the latest request's (None: none answered yet)
        self.last_date: str | None = None  # the latest answer's ``Date`` header, as sent

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send inside a slot; the body is read before the slot is freed (the answer is complete then).

        Counted inside the ``try``: anything raised after ``acquire()`` (a KeyboardInterrupt) frees the slot.
        """
        self.pacer.acquire()
        sent_at = self.pacer.clock()
        try:
            with self._lock:
                self.sent += 1
            response = self.inner.handle_request(request)
            try:
                response.read()
            except BaseException:
                response.close()
                raise
            self.last_round_trip = self.pacer.clock() - sent_at
            self.last_date = response.headers.get("date")
        finally:
            self.pacer.release(sent_at)
        if response.status_code == 429:
            with self._lock:
                self.throttled += 1
            self.pacer.record_throttled()
        return response

    def close(self) -> None:
        self.inner.close()
