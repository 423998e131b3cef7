"""Two worker processes refresh one tenant at once: one token request, one refresh-token use, both agree."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fortnox_connector.contract.state import Token
from fortnox_connector.secrets import Secret
from tests.auth.fake_fortnox_auth import FakeFortnoxAuth, TokenRequest
from tests.auth.file_store import JsonFileTokenStore
from tests.auth.worker import refresh_once

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TENANT = "acme"


def test_two_processes_refresh_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    fake = FakeFortnoxAuth()
    old_refresh = fake.issue_refresh_token(TENANT)
    store = JsonFileTokenStore(tmp_path)
    soon = NOW + timedelta(seconds=60)
    expiring = Token(Secret("at-old"), soon, frozenset({"payment"}), Secret(old_refresh))
    assert store.swap_token(TENANT, None, expiring)

    start = ctx.Barrier(2)
    waiting = [ctx.Event(), ctx.Event()]
    results = ctx.Queue()

    def hold_until_both_wait(_request: TokenRequest) -> None:
        # The first worker holds the tenant lock while its request is here: answer only once the other
        # worker is queued on that lock, so the two refreshes truly overlap.
        for event in waiting:
            assert event.wait(timeout=20)

    fake.before_token = hold_until_both_wait
    with fake.serve() as base_url:
        procs = [
            ctx.Process(
                target=refresh_once,
                args=(i, str(tmp_path), base_url, TENANT, NOW.isoformat(), start, waiting[i], results),
            )
            for i in range(2)
        ]
        for p in procs:
            p.start()
        outcomes = sorted(results.get(timeout=60) for _ in procs)
        for p in procs:
            p.join(timeout=30)
            assert p.exitcode == 0

    assert [o[3] for o in outcomes] == [None, None]  # no errors
    assert len(fake.token_requests) == 1
    assert fake.refresh_tokens_presented() == [old_refresh]
    assert sorted(o[2] for o in outcomes) == [0, 1]  # one worker sent the request, the other none
    stored = store.load_token(TENANT)
    assert stored is not None
    assert stored.refresh_token is not None and stored.refresh_token != Secret(old_refresh)
    assert {o[1] for o in outcomes} == {stored.access_token.reveal()}
