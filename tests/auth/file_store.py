"""A file-backed TokenStore with cross-process locks, for the multi-process refresh test.

Tokens live in one JSON file (test values only), read and compare-and-swapped under an flock guard.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from fortnox_connector.contract.state import Token
from fortnox_connector.runtime.store.file_locks import FileLocks
from fortnox_connector.secrets import Secret


class JsonFileTokenStore:
    def __init__(self, directory: str | os.PathLike[str], *, on_wait: Callable[[str], None] | None = None):
        self.path = Path(directory) / "tokens.json"
        self._locks = FileLocks(Path(directory) / "locks", on_wait=on_wait)
        self._guard = FileLocks(Path(directory) / "guard")

    def lock(self, name: str) -> AbstractContextManager[None]:
        return self._locks.lock(name)

    def load_token(self, tenant: str) -> Token | None:
        with self._guard.lock("data"):
            raw = self._read().get(tenant)
        return _decode(raw) if raw else None

    def swap_token(self, tenant: str, expected_refresh_token: Secret | None, new: Token) -> bool:
        with self._guard.lock("data"):
            data = self._read()
            current = _decode(data[tenant]) if tenant in data else None
            if (current.refresh_token if current else None) != expected_refresh_token:
                return False
            data[tenant] = _encode(new)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(self.path)
            return True

    def _read(self) -> dict[str, dict[str, object]]:
        if not self.path.exists():
            return {}
        value: dict[str, dict[str, object]] = json.loads(self.path.read_text())
        return value


def _encode(token: Token) -> dict[str, object]:
    return {
        "access_token": token.access_token.reveal(),
        "refresh_token": token.refresh_token.reveal() if token.refresh_token else None,
        "expires_at": token.expires_at.isoformat(),
        "scope": sorted(token.scope),
        "token_type": token.token_type,
    }


def _decode(raw: dict[str, object]) -> Token:
    refresh = raw.get("refresh_token")
    scope = raw.get("scope")
    return Token(
        access_token=Secret(str(raw["access_token"])),
        refresh_token=Secret(refresh) if isinstance(refresh, str) else None,
        expires_at=datetime.fromisoformat(str(raw["expires_at"])),
        scope=frozenset(str(s) for s in scope) if isinstance(scope, list) else frozenset(),
        token_type=str(raw.get("token_type") or "bearer"),
    )
