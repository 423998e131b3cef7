"""The HTTP webhook sink: each event POSTed as JSON, signed the Standard Webhooks way, retried with backoff.

One request per event by default (``batch=False``): the body is the event, its message id (and
``Idempotency-Key``) its ``dedup_key``. With ``batch=True`` a delivery is one request ``{"events": [...]}``
whose id is the SHA-256 of the events' dedup keys joined by newlines (a dedup key that is not printable
ASCII, or is longer than 200 characters, is sent as ``sha256:<hex of it>``).

**Signatures** follow Standard Webhooks (standardwebhooks.com), so any receiver library of that spec checks
them: ``webhook-id`` (the message id: the same on every retry), ``webhook-timestamp`` (Unix seconds when
signed) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>")>``, one
entry per secret, space-separated. Several secrets (space-separated in the ``secret`` option) sign every
request during a rotation, so the receiver can switch keys at its own pace. A secret ``whsec_<base64>`` is
that key (the spec's form); any other text is its UTF-8 bytes as the key (a receiver's library then takes
``whsec_`` + base64 of it). The MAC covers the message id, so a receiver that remembers the ids it saw (or
``ReplayGuard``) refuses a replay; the timestamp bounds how long it must remember them.

**Deadline**: ``timeout_s`` bounds each request as a whole — connect, send, the answer's headers and body —
not each socket read: a receiver dripping one byte a second once held a run and its lock for minutes.

A 2xx is the delivery. Connection errors, timeouts, 5xx and 429 are retried (exponential backoff with jitter,
a 429's ``Retry-After`` seconds respected, all capped) up to ``max_attempts``; any other status fails at once.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import hashlib
import hmac
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx
from standardwebhooks import Webhook

from fortnox_connector import __version__
from fortnox_connector.contract.records import Event
from fortnox_connector.errors import ConfigError, DeliveryError
from fortnox_connector.runtime.sinks.base import check_options
from fortnox_connector.runtime.sinks.encoding import dumps, event_to_dict
from fortnox_connector.secrets import Secret, redact

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
MAX_ATTEMPTS = 20
MAX_TIMEOUT_S = 600.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def signing_keys(secret: Secret) -> list[bytes]:
    """The HMAC keys of ``secret``: space-separated entries, each ``whsec_<base64>`` or plain text."""
    keys: list[bytes] = []
    for entry in secret.reveal().split():
        if entry.startswith(SECRET_PREFIX):
            try:
                key = base64.b64decode(entry[len(SECRET_PREFIX) :] + "==", validate=False)
            except (binascii.Error, ValueError):
                key = b""
            if not key:
                raise ConfigError(
                    "a webhook secret starting with whsec_ is not base64",
                    field="secret",
                    hint="give whsec_ followed by the base64 key, or a plain secret without the prefix",
                )
            keys.append(key)
        else:
            keys.append(entry.encode())
    if not keys:
        raise ConfigError("the webhook secret is empty", field="secret", hint="give the signing secret")
    return keys


def sign(secret: Secret, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64>`` per key of ``secret``, space-separated."""
    sent = datetime.fromtimestamp(timestamp, tz=UTC)
    text = body.decode("utf-8")
    return " ".join(Webhook(key).sign(msg_id, sent, text) for key in signing_keys(secret))


class ReplayGuard:
    """For receivers: remembers the (id, timestamp) of verified messages for ``window_s``; a second one is
    a replay. A retry of the sink is *not* one: it is signed anew, with a new timestamp (dedupe it by id)."""

    def __init__(self, window_s: float = 600) -> None:
        self.window_s = window_s
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def first_time(self, msg_id: str, timestamp: str, now: float) -> bool:
        with self._lock:
            self._seen = {k: t for k, t in self._seen.items() if now - t <= self.window_s}
            if (msg_id, timestamp) in self._seen:
                return False
            self._seen[(msg_id, timestamp)] = now
            return True


def verify_signature(
    secret: Secret,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: float = 300,
    replays: ReplayGuard | None = None,
) -> bool:
    """For receivers: True if a ``v1`` signature fits the id, timestamp and raw ``body`` under one of the
    secret's keys, the timestamp is within ``tolerance_s`` and (with ``replays``) it was not seen before."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, given = (lower.get(h, "") for h in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
    if not (msg_id and stamp and given):
        return False
    try:
        sent = int(stamp)
        expected = {sig.split(",", 1)[1] for sig in sign(secret, msg_id, sent, body).split()}
    except (ValueError, OverflowError, OSError, UnicodeDecodeError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance_s:
        return False
    entries = [e.partition(",") for e in given.split()]
    if not any(v == "v1" and any(hmac.compare_digest(s, x) for x in expected) for v, _, s in entries):
        return False
    return replays is None or replays.first_time(msg_id, stamp, current)


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
        signing_keys(secret)  # refuses an empty or malformed secret now, not at the first delivery
        if not 1 <= max_attempts <= MAX_ATTEMPTS:
            raise _bad_option("max_attempts", str(max_attempts), f"a whole number from 1 to {MAX_ATTEMPTS}")
        if not (math.isfinite(timeout_s) and 0 < timeout_s <= MAX_TIMEOUT_S):
            raise _bad_option("timeout_s", str(timeout_s), f"seconds above 0, at most {MAX_TIMEOUT_S:g}")
        self._secret = secret
        self.timeout_s = timeout_s
        self.batch = batch
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._owns_client = client is None
        self._client = client or self._new_client()
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
            timestamp = int(self._clock())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"fortnox-connector/{__version__}",
                ID_HEADER: idempotency_key,
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(self._secret, idempotency_key, timestamp, body),
                IDEMPOTENCY_HEADER: idempotency_key,
            }
            retry_after: float | None = None
            self.requests += 1
            try:
                response = self._send(body, headers)
            except httpx.TransportError as exc:  # connect, read or write failed, or timed out
                reason = f"the connection failed ({type(exc).__name__})"
            except _DeadlinePassed:
                reason = f"no complete answer within {self.timeout_s:g} s (timeout_s bounds the request)"
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

    def _send(self, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        """POST and read the whole answer within ``timeout_s`` (one deadline, not one per socket read).

        The request runs on a daemon thread; when the deadline passes first, the sink stops waiting, and
        its connection pool is closed (and replaced) so the slow connection is dropped, not reused.
        """
        box: dict[str, Any] = {}
        done = threading.Event()
        client = self._client

        def work() -> None:
            try:
                response = client.post(self.url, content=body, headers=dict(headers))
                response.read()
                box["response"] = response
            except BaseException as exc:  # handed to the caller's thread below
                box["error"] = exc
            finally:
                done.set()

        context = contextvars.copy_context()  # the tenant of the log lines (``logs.tenant_scope``) goes along
        threading.Thread(target=context.run, args=(work,), name="webhook-post", daemon=True).start()
        if not done.wait(self.timeout_s):
            if self._owns_client:
                self._client = self._new_client()
                threading.Thread(target=client.close, daemon=True).start()
            raise _DeadlinePassed
        if "error" in box:
            raise box["error"]
        response: httpx.Response = box["response"]
        return response

    def _new_client(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout_s, follow_redirects=False)

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
    """Options: ``url``, ``secret`` (required); ``batch``, ``max_attempts``, ``timeout_s``, each checked:
    ``max_attempts=abc``, ``timeout_s=-1`` or ``batch=maybe`` is a ``ConfigError`` naming it and the fix."""
    check_options(
        "webhook", options, {"url", "secret", "batch", "max_attempts", "timeout_s"}, {"url", "secret"}
    )
    secret = options["secret"]
    return WebhookSink(
        str(options["url"]),
        secret if isinstance(secret, Secret) else Secret(str(secret)),
        batch=_flag("batch", options.get("batch", False)),
        max_attempts=_whole("max_attempts", options.get("max_attempts", 5)),
        timeout_s=_seconds("timeout_s", options.get("timeout_s", 10.0)),
    )


class _DeadlinePassed(Exception):
    """The whole request took longer than ``timeout_s``."""


def _bad_option(name: str, value: str, expected: str) -> ConfigError:
    shown = value if len(value) <= 40 else value[:39] + "…"
    return ConfigError(
        f"the webhook sink's option {name}={shown!r} is not {expected}",
        field=name,
        hint=f"give {name} as {expected}",
    )


def _flag(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise _bad_option(name, str(value), "true or false")


def _whole(name: str, value: object) -> int:
    text = str(value).strip()
    digits = not isinstance(value, bool) and text.isascii() and text.isdigit()
    if not digits or not 1 <= int(text) <= MAX_ATTEMPTS:
        raise _bad_option(name, str(value), f"a whole number from 1 to {MAX_ATTEMPTS}")
    return int(text)


def _seconds(name: str, value: object) -> float:
    try:
        seconds = float(str(value).strip()) if not isinstance(value, bool) else math.nan
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_TIMEOUT_S):
        raise _bad_option(name, str(value), f"seconds above 0, at most {MAX_TIMEOUT_S:g}")
    return seconds
