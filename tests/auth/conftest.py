from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from fortnox_connector.auth import FortnoxOAuth
from fortnox_connector.secrets import Secret
from tests.auth.fake_fortnox_auth import CLIENT_ID, CLIENT_SECRET, FakeFortnoxAuth

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> FakeFortnoxAuth:
    return FakeFortnoxAuth(service_tenants={"123456"})


@pytest.fixture
def oauth(fake: FakeFortnoxAuth, clock: FakeClock) -> Iterator[FortnoxOAuth]:
    client = FortnoxOAuth(
        CLIENT_ID,
        Secret(CLIENT_SECRET),
        auth_base_url="https://apps.example.test",
        redirect_uri="https://host.example.test/callback",
        transport=fake.transport(),
        clock=clock,
    )
    yield client
    client.close()
