"""Encryption at rest for the store: Fernet, with every ciphertext bound to where it belongs.

A sealed value names its context (e.g. ``token:acme``); opening it elsewhere fails, so rows copied between
tenants are refused. ``tag`` gives a keyed hash for equality look-ups (the refresh-token compare-and-swap)
without storing the value itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.store.keys import KEY_ENV


class Cipher:
    """Seal and open JSON values with the store's key. Its repr never shows the key."""

    __slots__ = ("_fernet", "_mac_key")

    def __init__(self, key: bytes, previous: Sequence[bytes] = ()) -> None:
        # New values are sealed with ``key``; ``previous`` keys (a rotation) can still open old ones.
        self._fernet = MultiFernet([Fernet(key), *(Fernet(k) for k in previous)])
        raw = base64.urlsafe_b64decode(key)
        self._mac_key = hmac.new(raw, b"fortnox-connector/store-tag/v1", hashlib.sha256).digest()

    def seal(self, context: str, value: Any) -> bytes:
        plain = json.dumps({"ctx": context, "v": value}, separators=(",", ":")).encode()
        return self._fernet.encrypt(plain)

    def open(self, context: str, blob: bytes, *, tenant: str | None = None) -> Any:
        try:
            doc = json.loads(self._fernet.decrypt(blob))
        except InvalidToken:
            raise ConfigError(
                "stored secrets cannot be decrypted with this key",
                field=KEY_ENV,
                tenant=tenant,
                hint=f"set ${KEY_ENV} (or restore the key file) to the key this store was created with",
            ) from None
        if not isinstance(doc, dict) or doc.get("ctx") != context:
            raise ConfigError(
                "a stored secret belongs to another record (the database was edited or mixed up)",
                tenant=tenant,
                hint="store the secret again (for tokens: reconnect the tenant)",
            )
        return doc["v"]

    def reseal(self, blob: bytes, *, tenant: str | None = None) -> bytes:
        """``blob`` sealed again with the current key (its content and context unchanged)."""
        try:
            return self._fernet.rotate(blob)
        except InvalidToken:
            raise ConfigError(
                "a stored secret opens with neither the key nor the previous keys",
                field=KEY_ENV,
                tenant=tenant,
                hint="give the key this store was last written with as a previous key",
            ) from None

    def tag(self, value: str) -> str:
        """A keyed, non-reversible hash of ``value`` for equality look-ups."""
        return hmac.new(self._mac_key, value.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "Cipher(key='***')"
