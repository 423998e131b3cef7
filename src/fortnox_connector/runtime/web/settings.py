"""The web app's settings, from the environment: its public address, its signing key, the operator's token.

- ``FORTNOX_CONNECTOR_WEB_URL``: the address customers' browsers reach the app at (the OAuth redirect URI is
  this plus ``/oauth/callback`` and must be registered with the Fortnox app). Default: where it listens.
- ``FORTNOX_CONNECTOR_WEB_SECRET``: signs connect links, the OAuth state cookie and the forms' CSRF tokens.
  Default: derived from the store's encryption key (one secret less to keep; rotating that key then also
  voids every link sent). Set it when several processes serve the app with different stores.
- ``FORTNOX_CONNECTOR_WEB_TOKEN``: the operator's credential (HTTP Basic password for user ``operator``, or
  ``Authorization: Bearer``). Unset, the operator pages and ``/metrics`` are closed: no open admin page.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from fortnox_connector.secrets import Secret

WEB_URL_ENV: Final = "FORTNOX_CONNECTOR_WEB_URL"
WEB_SECRET_ENV: Final = "FORTNOX_CONNECTOR_WEB_SECRET"  # noqa: S105 - a variable name
WEB_TOKEN_ENV: Final = "FORTNOX_CONNECTOR_WEB_TOKEN"  # noqa: S105 - a variable name
LINK_DAYS: Final = 7


@dataclass(frozen=True, slots=True)
class WebSettings:
    public_url: str
    signing_key: Secret
    operator_token: Secret | None
    link_max_age_s: int = LINK_DAYS * 86400

    @classmethod
    def from_env(
        cls, *, listen_url: str, store_key: bytes, env: Mapping[str, str] | None = None
    ) -> WebSettings:
        e = os.environ if env is None else env
        secret = e.get(WEB_SECRET_ENV, "")
        if not secret:  # a key of its own, derived so that it never equals the store's key
            secret = hmac.new(store_key, b"fortnox-connector web signing key", hashlib.sha256).hexdigest()
        token = e.get(WEB_TOKEN_ENV, "")
        return cls(
            public_url=(e.get(WEB_URL_ENV) or listen_url).rstrip("/"),
            signing_key=Secret(secret),
            operator_token=Secret(token) if token else None,
        )

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/oauth/callback"

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")
