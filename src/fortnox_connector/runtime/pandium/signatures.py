"""Checking what a webhook or API trigger carries before anything is written to Fortnox (Standard Webhooks).

A partner system signs its request the Standard Webhooks way: headers ``webhook-id``, ``webhook-timestamp``
(Unix seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256>`` entries, space-separated), the MAC over
``{id}.{timestamp}.{body}`` with the secret ``whsec_<base64>`` held in ``PAN_SEC_INBOUND_WEBHOOK_SECRET``.
The signature is computed by the ``standardwebhooks`` package; the timestamp is checked here, against the
run's clock, with a window wider than the library's five minutes: Pandium holds a trigger that arrives
during a run until that run ends (up to ten minutes), so a fresh request can be that old when we read it.
A replay inside the window is harmless: every item runs once per idempotency key.

Rules: a signed trigger must verify (no secret configured is a refusal naming the fix); an unsigned one
is refused unless the tenant's ``allow_unsigned_requests`` setting is on (then it is marked unsigned).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final, Literal

from standardwebhooks import Webhook

from fortnox_connector.errors import ConfigError
from fortnox_connector.secrets import Secret

INBOUND_SECRET_ENV: Final = "PAN_SEC_INBOUND_WEBHOOK_SECRET"  # noqa: S105 - a variable name
SIGNATURE_HEADERS: Final = ("webhook-id", "webhook-timestamp", "webhook-signature")
DEFAULT_TOLERANCE_S: Final = 1200.0  # Pandium's ten-minute run limit, twice: a trigger waits for a run

Verdict = Literal["verified", "unsigned"]


class SignatureRefused(Exception):
    """The trigger's signature is missing, malformed or wrong; ``reason`` says which, ``hint`` the fix."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def inbound_verifier(secret: Secret | None, *, tenant: str) -> Webhook | None:
    """The verifier for the secret; one that is not ``whsec_<base64>`` is a ``ConfigError``."""
    if secret is None:
        return None
    try:
        return Webhook(secret.reveal())
    except Exception as exc:  # binascii.Error, EmptyWebhookSecretError, …: the library raises several kinds
        raise ConfigError(
            f"{INBOUND_SECRET_ENV} is not a Standard Webhooks secret ({type(exc).__name__})",
            field=INBOUND_SECRET_ENV,
            tenant=tenant,
            hint="give the secret the partner signs with, as whsec_ followed by base64 (at least 24 bytes)",
        ) from None


def check_signature(
    body: bytes,
    headers: Mapping[str, str],
    verifier: Webhook | None,
    *,
    allow_unsigned: bool,
    now: datetime,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> Verdict:
    """``"verified"`` or ``"unsigned"`` (allowed); else raise ``SignatureRefused``. Headers are lower-case."""
    present = [h for h in SIGNATURE_HEADERS if headers.get(h)]
    if not present:
        if allow_unsigned:
            return "unsigned"
        raise SignatureRefused(
            "the request is not signed",
            "sign it with Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature), "
            "or turn on 'Accept unsigned requests' in the tenant's settings",
        )
    if verifier is None:
        raise SignatureRefused(
            "the request is signed but no secret to check it is configured",
            f"set {INBOUND_SECRET_ENV} (whsec_…) in the integration's secrets",
        )
    missing = [h for h in SIGNATURE_HEADERS if h not in present]
    if missing:
        raise SignatureRefused(
            f"the signature header(s) {', '.join(missing)} are missing",
            "send all three of webhook-id, webhook-timestamp and webhook-signature",
        )
    sent_at = _timestamp(headers["webhook-timestamp"])
    age = now.timestamp() - sent_at.timestamp()
    if abs(age) > tolerance_s:
        when = "old" if age > 0 else "far in the future"
        raise SignatureRefused(
            f"the signature's timestamp is {abs(age):.0f} s {when} (the limit is {tolerance_s:.0f} s)",
            "send the request again, freshly signed (same idempotency keys: nothing runs twice)",
        )
    if not _matches(verifier, headers["webhook-id"], sent_at, body, headers["webhook-signature"]):
        raise SignatureRefused(
            "the signature does not match the body",
            f"sign with the secret in {INBOUND_SECRET_ENV}, over '<webhook-id>.<webhook-timestamp>.<body>'",
        )
    return "verified"


def _timestamp(raw: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(raw.strip()), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise SignatureRefused(
            f"webhook-timestamp {raw[:40]!r} is not Unix seconds", "send the signing time as whole seconds"
        ) from None


def _matches(verifier: Webhook, msg_id: str, sent_at: datetime, body: bytes, header: str) -> bool:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    expected = base64.b64decode(verifier.sign(msg_id, sent_at, text).split(",", 1)[1])
    for entry in header.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return True
    return False
