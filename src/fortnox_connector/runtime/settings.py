"""The runtime's own settings: where its state lives and which Fortnox app (client) it acts as.

Everything comes from the environment (or the CLI's options, which override it), so the same state
directory can be served by a container, a systemd unit or a shell. The client secret is a ``Secret``
and is never written to the state directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from fortnox_connector.errors import ConfigError
from fortnox_connector.secrets import Secret

HOME_ENV: Final = "FORTNOX_CONNECTOR_HOME"
CLIENT_ID_ENV: Final = "FORTNOX_CLIENT_ID"
CLIENT_SECRET_ENV: Final = "FORTNOX_CLIENT_SECRET"  # noqa: S105 - a variable name
API_URL_ENV: Final = "FORTNOX_API_URL"
AUTH_URL_ENV: Final = "FORTNOX_AUTH_URL"
STORE_ENV: Final = "FORTNOX_CONNECTOR_STORE"  # postgresql://… ; unset: SQLite under the home directory
FEED_URL_ENV: Final = "FORTNOX_FEED_URL"  # the WebSocket feed (default wss://ws.fortnox.se/topics-v1)
DEFAULT_HOME: Final = ".fortnox-connector"
DB_NAME: Final = "state.db"
KEY_NAME: Final = "key"
KEY_FILE_ENV: Final = "FORTNOX_CONNECTOR_KEY_FILE"  # the key file elsewhere than beside the database

# What the connector asks a customer to consent to (Fortnox "Scopes": payments, invoices, the company's
# DatabaseNumber, modes of payment, customers for the export actions). Adding one later forces every customer
# to consent again; `check` names a missing one and the actions that need it.
DEFAULT_SCOPES: Final = ("companyinformation", "invoice", "payment", "settings", "customer")


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """``home`` holds ``state.db`` and ``key`` (unless ``$FORTNOX_CONNECTOR_KEY`` is set)."""

    home: Path
    client_id: str | None = None
    client_secret: Secret | None = None
    api_url: str | None = None  # None: the connector's own (its declaration's base URL)
    auth_url: str | None = None  # None: the connector's own
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    store_url: str | None = None  # None: SQLite at ``db_path``; ``postgresql://…``: PostgreSQL
    feed_url: str | None = None  # None: Fortnox's own (fortnox.feed.FEED_URL)
    key_file: Path | None = None  # None: ``home/key`` (beside the database: see docs/runtime-store.md)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, home: str | Path | None = None
    ) -> RuntimeSettings:
        e = os.environ if env is None else env
        secret = e.get(CLIENT_SECRET_ENV, "")
        return cls(
            home=Path(home or e.get(HOME_ENV) or DEFAULT_HOME),
            client_id=e.get(CLIENT_ID_ENV) or None,
            client_secret=Secret(secret) if secret else None,
            api_url=e.get(API_URL_ENV) or None,
            auth_url=e.get(AUTH_URL_ENV) or None,
            store_url=e.get(STORE_ENV) or None,
            feed_url=e.get(FEED_URL_ENV) or None,
            key_file=Path(e[KEY_FILE_ENV]) if e.get(KEY_FILE_ENV) else None,
        )

    def with_overrides(self, **changes: object) -> RuntimeSettings:
        """A copy with the non-None ``changes`` applied (CLI options over the environment)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]

    @property
    def db_path(self) -> Path:
        return self.home / DB_NAME

    @property
    def key_path(self) -> Path:
        """``$FORTNOX_CONNECTOR_KEY_FILE`` if set (e.g. a secrets volume), else ``key`` in the home."""
        return self.key_file or self.home / KEY_NAME

    def require_client(self, tenant: str | None = None) -> tuple[str, Secret]:
        """The Fortnox app's client id and secret, or a ``ConfigError`` saying which variable to set."""
        if not self.client_id:
            raise ConfigError(
                "no Fortnox client id is configured",
                field=CLIENT_ID_ENV,
                tenant=tenant,
                hint=f"set ${CLIENT_ID_ENV} (from the Fortnox developer portal) or pass --client-id",
            )
        if not self.client_secret:
            raise ConfigError(
                "no Fortnox client secret is configured",
                field=CLIENT_SECRET_ENV,
                tenant=tenant,
                hint=f"set ${CLIENT_SECRET_ENV} (from the Fortnox developer portal)",
            )
        return self.client_id, self.client_secret
