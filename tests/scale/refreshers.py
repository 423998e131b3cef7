"""One process of the many-refreshers test: ``threads`` token providers over one PostgreSQL store."""

from __future__ import annotations

import threading
from typing import Any

from cryptography.fernet import Fernet

from fortnox_connector.auth import AuthorizationCodeTokens, FortnoxOAuth
from fortnox_connector.errors import ConnectorError
from fortnox_connector.runtime.store.postgres import PostgresStore
from fortnox_connector.secrets import Secret


def refresh_rounds(
    url: str,
    key: bytes,
    auth_url: str,
    client: tuple[str, str],
    tenant: str,
    threads: int,
    rounds: int,
    go: Any,  # multiprocessing Barrier of every thread of every process plus the parent
    results: Any,  # multiprocessing Queue of (round, access token or None, error or None)
) -> None:
    Fernet(key)  # a bad key fails here, before any thread waits
    store = PostgresStore(url, key, pool_size=threads + 2)
    oauth = FortnoxOAuth(client[0], Secret(client[1]), auth_base_url=auth_url, timeout=30)

    def refresher() -> None:
        for n in range(rounds):
            go.wait(timeout=120)  # the parent expired the stored token: everybody at once
            tokens = AuthorizationCodeTokens(tenant, oauth, store)  # a fresh worker: nothing cached
            try:
                results.put((n, tokens.access_token().reveal(), None))
            except ConnectorError as exc:
                results.put((n, None, str(exc)))
            go.wait(timeout=120)  # round done

    workers = [threading.Thread(target=refresher) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    oauth.close()
    store.close()
