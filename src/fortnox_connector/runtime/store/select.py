"""Which store a URL names: SQLite (the default, embedded) or PostgreSQL (many workers, many machines).

``postgresql://…`` (or ``postgres://…``) opens a ``PostgresStore`` and needs the ``[postgres]`` extra;
``sqlite:///relative/path``, ``sqlite:////absolute/path`` or nothing opens a ``SqliteStore``. Anything
else is refused with the accepted forms.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.store.base import RuntimeStore
from fortnox_connector.runtime.store.sqlite import SqliteStore

STORE_FIELD = "FORTNOX_CONNECTOR_STORE"


def store_from_url(
    url: str | None,
    default_path: str | os.PathLike[str],
    key: bytes,
    *,
    previous_keys: Sequence[bytes] = (),
) -> RuntimeStore:
    """The store ``url`` names; SQLite at ``default_path`` when ``url`` is None or empty."""
    if not url:
        return SqliteStore(default_path, key, previous_keys=previous_keys)
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        try:
            from fortnox_connector.runtime.store.postgres import PostgresStore
        except ImportError:
            raise ConfigError(
                "the PostgreSQL store needs psycopg, which is not installed",
                field=STORE_FIELD,
                hint="pip install 'fortnox-connector[postgres]'",
            ) from None
        return PostgresStore(url, key, previous_keys=previous_keys)
    if scheme == "sqlite" and url.startswith("sqlite:///"):
        # SQLAlchemy's convention: sqlite:///relative/path, sqlite:////absolute/path
        return SqliteStore(url.removeprefix("sqlite:///"), key, previous_keys=previous_keys)
    raise ConfigError(
        "the store URL is neither postgresql://… nor sqlite:///…",
        field=STORE_FIELD,
        hint="use postgresql://USER@HOST:PORT/DB, sqlite:////ABSOLUTE/PATH, or leave it unset for SQLite "
        "in the state directory",
    )
