"""Signed, expiring tokens: connect links for customers, the OAuth state cookie, the forms' CSRF tokens.

itsdangerous signs with HMAC and a timestamp; each use has its own salt, so a token made for one purpose is
never accepted for another (a CSRF token is no connect link). A connect link names its tenant and auth mode
inside the signature: a customer cannot edit the URL to connect another tenant or switch mode.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from fortnox_connector.auth.oauth import new_state

STATE_MAX_AGE_S = 600  # a Fortnox code lives ten minutes; a consent that takes longer starts again


class LinkError(Exception):
    """A link, state or form token that is forged, tampered with, expired or for another tenant."""


@dataclass(frozen=True, slots=True)
class ConnectGrant:
    tenant: str
    service_account: bool


class Signer:
    """Signs and checks the app's tokens; ``clock`` (epoch seconds) stamps new ones (tests make old ones)."""

    def __init__(self, key: str, *, clock: Callable[[], float] = time.time) -> None:
        self._key = key

        class _Stamped(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock())

        self._signer = _Stamped

    def _s(self, salt: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._key, salt=salt, signer=self._signer)

    def _load(self, salt: str, token: str, max_age: int) -> Any:
        try:
            return self._s(salt).loads(token, max_age=max_age)
        except BadSignature as exc:  # SignatureExpired is a BadSignature too
            expired = type(exc).__name__ == "SignatureExpired"
            raise LinkError("expired" if expired else "invalid") from None

    # -- connect links ------------------------------------------------------------------------------------
    def connect_token(self, grant: ConnectGrant) -> str:
        return str(self._s("connect-link").dumps({"t": grant.tenant, "sa": grant.service_account}))

    def open_connect_token(self, token: str, tenant: str, max_age: int) -> ConnectGrant:
        data = self._load("connect-link", token, max_age)
        if not isinstance(data, dict) or data.get("t") != tenant:
            raise LinkError("invalid")
        return ConnectGrant(tenant, bool(data.get("sa")))

    # -- the OAuth state, kept in a cookie of the browser that started the consent --------------------------
    def new_state(self, grant: ConnectGrant) -> tuple[str, str]:
        """A fresh ``state`` for the authorize URL and the cookie value that binds it to this browser."""
        state = new_state()
        cookie = self._s("oauth-state").dumps({"t": grant.tenant, "sa": grant.service_account, "n": state})
        return state, str(cookie)

    def check_state(self, cookie: str | None, state: str | None) -> ConnectGrant:
        if not cookie or not state:
            raise LinkError("missing")
        data = self._load("oauth-state", cookie, STATE_MAX_AGE_S)
        if not isinstance(data, dict) or not hmac.compare_digest(str(data.get("n", "")), state):
            raise LinkError("invalid")
        return ConnectGrant(str(data["t"]), bool(data.get("sa")))

    # -- CSRF tokens for the operator's forms ----------------------------------------------------------------
    def csrf_token(self) -> str:
        return str(self._s("csrf").dumps("operator"))

    def check_csrf(self, token: str | None) -> None:
        if not token or self._load("csrf", token, 86400) != "operator":
            raise LinkError("invalid")
