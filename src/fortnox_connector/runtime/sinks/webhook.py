"""The HTTP webhook sink: each event POSTed as JSON, signed with HMAC-SHA256, retried with backoff.

One request per event by default (``batch=False``): the body is the event, ``Idempotency-Key`` its
``dedup_key``. With ``batch=True`` a delivery is one request ``{"events": [...]}`` whose ``Idempotency-Key``
is the SHA-256 of the events' dedup keys joined by newlines (a dedup key that is not printable ASCII, or is
longer than 200 characters, is sent as ``sha256:<hex of it>``). Headers:

- ``X-Fortnox-Connector-Timestamp``: Unix seconds when the request was signed;
- ``X-Fortnox-Connector-Signature``: ``sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>``.

A 2xx is the delivery. Connection errors, 5xx and 429 are retried (exponential backoff with jitter, a 429's
``Retry-After`` seconds respected, all capped) up to ``max_attempts``; any other status fails at once.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from fortnox_connector import __version__
from fortnox_connector.contract.records import Event
from fortnox_connector.errors import ConfigError, DeliveryError
from fortnox_connector.runtime.sinks.base import check_options
from fortnox_connector.runtime.sinks.encoding import dumps, event_to_dict
from fortnox_connector.secrets import Secret, redact

SIGNATURE_HEADER = "X-Fortnox-Connector-Signature"
TIMESTAMP_HEADER = "X-Fortnox-Connector-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: Secret, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``: ``sha256=<hex>``."""
    mac = hmac.new(secret.reveal().encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: Secret,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance_s: float = 300,
) -> bool:
    """For receivers: True if ``signature`` fits ``body`` and ``timestamp`` is recent (replays fail)."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def _safe_url(url: httpx.URL) -> str:
    """The URL without credentials or query (either may hold a token)."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


class WebhookSink:
    """POSTs events to ``url``, signed with ``secret``. ``sleep``, ``clock`` and ``jitter`` are for tests."""

    def __init__(
        self,
        url: str,
        secret: Secret,
        *,
        batch: bool = False,
        max_attempts: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 30.0,
        timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = httpx.URL(url)
        if self.url.scheme not in ("http", "https") or not self.url.host:
            raise ConfigError(
                "the webhook URL must be an http(s) URL with a host",
                field="url",
                hint="give a URL like https://receiver.example/fortnox-events",
            )
        if not secret:
            raise ConfigError(
                "the webhook secret is empty", field="secret", hint="give the shared signing secret"
            )
        if max_attempts < 1:
            raise ConfigError("max_attempts must be at least 1", field="max_attempts")
        self._secret = secret
        self.batch = batch
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
        self.requests = 0  # requests sent, for summaries and tests

    def deliver(self, events: Sequence[Event]) -> None:
        """POST the events (one by one, or as one batch); raise ``DeliveryError`` if any is not accepted.

        After a failure some events of the batch may have been accepted already; they are sent again with
        the same ``Idempotency-Key`` next time.
        """
        if not events:
            return
        if self.batch:
            keys = "\n".join(e.dedup_key for e in events)
            body = dumps({"events": [event_to_dict(e) for e in events]}).encode()
            self._post(body, hashlib.sha256(keys.encode()).hexdigest(), events[0].tenant, len(events))
            return
        for event in events:
            self._post(dumps(event_to_dict(event)).encode(), _header_safe(event.dedup_key), event.tenant, 1)

    def _post(self, body: bytes, idempotency_key: str, tenant: str, count: int) -> None:
        where = _safe_url(self.url)
        reason = ""
        for attempt in range(1, self.max_attempts + 1):
            timestamp = str(int(self._clock()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"fortnox-connector/{__version__}",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self._secret, timestamp, body),
                IDEMPOTENCY_HEADER: idempotency_key,
            }
            retry_after: float | None = None
            self.requests += 1
            try:
                response = self._client.post(self.url, content=body, headers=headers)
            except httpx.TransportError as exc:  # connect, read or write failed, or timed out
                reason = f"the connection failed ({type(exc).__name__})"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return
                if status != 429 and status < 500:
                    raise DeliveryError(
                        f"the webhook {where} refused {count} event(s) with HTTP {status}"
                        f"{self._excerpt(response)}",
                        tenant=tenant,
                        hint="fix the receiver or the sink's URL and secret; the events stay queued "
                        "and are sent again on the next run",
                    )
                reason = f"HTTP {status}"
                retry_after = _retry_after(response)
            if attempt == self.max_attempts:
                break
            self._sleep(self._delay(attempt, retry_after))
        raise DeliveryError(
            f"the webhook {where} did not accept {count} event(s)"
            f" after {self.max_attempts} attempts: {reason}",
            tenant=tenant,
            hint="check that the receiver is up; the events stay queued and are sent again on the next run",
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter (half fixed, half random), at least a 429's Retry-After, capped."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (attempt - 1))
        delay = ceiling / 2 + self._jitter() * ceiling / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max_s))
        return delay

    def _excerpt(self, response: httpx.Response) -> str:
        text = redact(response.text[:200].strip(), self._secret)
        return f": {text}" if text else ""

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> WebhookSink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"WebhookSink(url={_safe_url(self.url)!r}, batch={self.batch})"


def _header_safe(key: str) -> str:
    """The dedup key as a header value: itself if printable ASCII, else its SHA-256 (still stable)."""
    if key.isascii() and key.isprintable() and 0 < len(key) <= 200:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date, or nothing: use the backoff


def webhook_sink(options: Mapping[str, Any]) -> WebhookSink:
    """Options: ``url``, ``secret`` (required); ``batch``, ``max_attempts``, ``timeout_s``."""
    check_options(
        "webhook", options, {"url", "secret", "batch", "max_attempts", "timeout_s"}, {"url", "secret"}
    )
    secret = options["secret"]
    return WebhookSink(
        str(options["url"]),
        secret if isinstance(secret, Secret) else Secret(str(secret)),
        batch=_flag(options.get("batch", False)),
        max_attempts=int(options.get("max_attempts", 5)),
        timeout_s=float(options.get("timeout_s", 10.0)),
    )


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
