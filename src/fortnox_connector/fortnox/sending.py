"""Whether and when to try a request again: bounded retries around ``classify``.

The layers under this one are httpx's: ``BearerAuth`` puts the token on and makes the one re-authentication
after a 401; ``PacedTransport`` paces and counts every request that leaves. This module sends one logical
request and, per ``classify``'s verdict or a transport error, returns, waits and sends again, or raises:

- a 429: every request of the pair pauses (``Retry-After``, else at least a window with jitter); a
  ``Retry-After`` too long to wait out is raised at once as ``RateLimited``;
- a safe request's 5xx, timeout or dropped connection: backoff and retry; a POST's is ``AmbiguousWrite``;
- a connection never made (``ConnectError`` …): nothing left the machine, so every method is retried;
- a DELETE that finds nothing after an earlier try's outcome was unknown: that try deleted it, done.

One budget (``RetryPolicy.max_retries``) covers 429s, 5xx and transport errors.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import httpx

from fortnox_connector.fortnox.classify import Retriable, classify
from fortnox_connector.fortnox.errors import AmbiguousWrite, FortnoxUnavailable, NotFound, RateLimited
from fortnox_connector.fortnox.pacing import Pacer, Sleep
from fortnox_connector.fortnox.retry import RetryPolicy, is_safe

log = logging.getLogger("fortnox_connector.fortnox")

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before the request left: safe to retry for every method, a POST included."""


@dataclass(slots=True)
class _Attempt:
    method: str
    path: str
    tenant: str
    safe: bool
    retries: int = 0
    tries: int = 0  # sent (or about to be): a try after the first is a retry (a 429's too)
    outcome_unknown: bool = False  # an earlier try may have been done (timeout, drop, 5xx)

    def extra(self, **more: Any) -> dict[str, Any]:
        return {"tenant": self.tenant, "http_method": self.method, "http_path": self.path, **more}


class Sender:
    """Sends through ``http`` (auth and pacing are its layers) with ``retry``'s bounds; thread-safe."""

    def __init__(
        self, http: httpx.Client, *, tenant: str, retry: RetryPolicy, pacer: Pacer, sleep: Sleep
    ) -> None:
        self.http = http
        self.tenant = tenant
        self.retry = retry
        self.pacer = pacer
        self.sleep = sleep
        self._lock = threading.Lock()
        self.retried = 0  # requests sent again after a 429, a 5xx or no answer (not their first try)

    def send(
        self, method: str, path: str, *, params: dict[str, Any], content: bytes | None
    ) -> httpx.Response:
        """Send until a 2xx answer comes or an error is final; returns the 2xx response."""
        attempt = _Attempt(method, path, self.tenant, is_safe(method, path))
        headers = {"Content-Type": "application/json"} if content is not None else None
        while True:
            if attempt.tries:
                with self._lock:
                    self.retried += 1
            attempt.tries += 1
            try:
                response = self.http.request(method, path, params=params, content=content, headers=headers)
            except httpx.RequestError as exc:
                self._after_transport_error(attempt, exc)
                continue
            verdict = self._classify(attempt, response)
            if isinstance(verdict, httpx.Response):
                return verdict
            self._after_retriable(attempt, verdict)

    def _classify(self, attempt: _Attempt, response: httpx.Response) -> httpx.Response | Retriable:
        log.debug(
            "Fortnox %s %s -> %d",
            attempt.method,
            attempt.path,
            response.status_code,
            extra=attempt.extra(http_status=response.status_code),
        )
        try:
            verdict = classify(response, method=attempt.method, path=attempt.path, tenant=self.tenant)
        except NotFound:
            if attempt.method == "DELETE" and attempt.outcome_unknown:
                return httpx.Response(204, request=response.request)  # an earlier try deleted it
            raise
        return response if verdict is None else verdict

    def _after_transport_error(self, attempt: _Attempt, exc: httpx.RequestError) -> None:
        if not isinstance(exc, NOT_SENT):
            if not attempt.safe:
                raise AmbiguousWrite(
                    f"{attempt.method} {attempt.path} got no answer ({type(exc).__name__}): Fortnox may or "
                    "may not have done it",
                    method=attempt.method,
                    path=attempt.path,
                    tenant=self.tenant,
                ) from exc
            attempt.outcome_unknown = True
        if attempt.retries >= self.retry.max_retries:
            raise FortnoxUnavailable(
                f"{attempt.method} {attempt.path} failed {attempt.retries + 1} times; last: "
                f"{type(exc).__name__}",
                method=attempt.method,
                path=attempt.path,
                tenant=self.tenant,
            ) from exc
        self._backoff(attempt, type(exc).__name__)

    def _after_retriable(self, attempt: _Attempt, verdict: Retriable) -> None:
        if verdict.throttled:
            self._after_429(attempt, verdict)
            return
        attempt.outcome_unknown = True
        if attempt.retries >= self.retry.max_retries:
            raise verdict.error
        self._backoff(attempt, f"HTTP {verdict.error.status}")

    def _backoff(self, attempt: _Attempt, why: str) -> None:
        attempt.retries += 1
        delay = self.retry.backoff(attempt.retries)
        log.warning(
            "Fortnox %s %s failed (%s); retry %d in %.1f s",
            attempt.method,
            attempt.path,
            why,
            attempt.retries,
            delay,
            extra=attempt.extra(),
        )
        self.sleep(delay)

    def _after_429(self, attempt: _Attempt, verdict: Retriable) -> None:
        """Pause the pair's pacer and go on, or raise ``RateLimited``.

        The pause applies even when this request gives up, so the pair's other requests let the window
        recover; a ``Retry-After`` too long to wait out is raised at once and pauses nobody.
        """
        error = verdict.error
        assert isinstance(error, RateLimited)
        retry_after = self.retry.parse_retry_after(verdict.retry_after)
        if retry_after is not None and retry_after > self.retry.max_retry_after:
            error.retry_after = retry_after
            raise error
        attempt.retries += 1
        delay = self.retry.rate_limit_delay(attempt.retries, retry_after)
        self.pacer.pause_until(self.pacer.clock() + delay)
        if attempt.retries > self.retry.max_retries:
            error.retry_after = delay
            raise error
        log.warning(
            "Fortnox rate limit hit on %s %s; every request of this tenant pauses %.1f s (retry %d)",
            attempt.method,
            attempt.path,
            delay,
            attempt.retries,
            extra=attempt.extra(http_status=429),
        )
