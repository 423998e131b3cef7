"""The body of one worker process in the multi-process refresh test (imported by spawned children)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fortnox_connector.auth import AuthorizationCodeTokens, FortnoxOAuth
from fortnox_connector.errors import ConnectorError
from fortnox_connector.secrets import Secret
from tests.auth.fake_fortnox_auth import CLIENT_ID, CLIENT_SECRET
from tests.auth.file_store import JsonFileTokenStore


def refresh_once(
    index: int,
    store_dir: str,
    base_url: str,
    tenant: str,
    now_iso: str,
    start: Any,  # multiprocessing Barrier
    waiting: Any,  # multiprocessing Event: set when this worker asks for the tenant's lock
    results: Any,  # multiprocessing Queue
) -> None:
    now = datetime.fromisoformat(now_iso)
    store = JsonFileTokenStore(store_dir, on_wait=lambda _name: waiting.set())
    oauth = FortnoxOAuth(CLIENT_ID, Secret(CLIENT_SECRET), auth_base_url=base_url, timeout=20)
    tokens = AuthorizationCodeTokens(tenant, oauth, store, clock=lambda: now)
    start.wait(timeout=20)
    try:
        access = tokens.access_token().reveal()
        results.put((index, access, oauth.token_requests, None))
    except ConnectorError as exc:
        results.put((index, None, oauth.token_requests, str(exc)))
    finally:
        oauth.close()
