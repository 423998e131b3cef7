"""What a cassette test talks to: a replayed cassette, the in-process sandbox, or the real Fortnox.

The same test body runs in all three modes; only this object differs:

- ``replay`` (``--record-mode=none``, CI): no server at all. URLs point at ``REPLAY_BASE_URL`` and every
  secret the test needs is the placeholder the scrubber wrote into the cassette.
- ``sandbox`` (``make record``): a fresh sandbox (seed ``SEED``, business clock frozen at ``START``) on
  ``127.0.0.1:RECORD_PORT``, so the recorded URLs equal the replay URLs.
- ``live`` (``make record-live``, ``FORTNOX_LIVE=1``): the real Fortnox with credentials from the
  environment (``docs/cassettes.md`` lists them). Tests that need sandbox-only setup skip themselves.

Matching ignores scheme, host and port (method, path, query and body decide), so a cassette recorded live
replays against the same replay URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import httpx
import pytest

from fortnox_connector.auth.oauth import FortnoxOAuth
from fortnox_connector.auth.providers import FixedToken
from fortnox_connector.fortnox.client import FortnoxClient, TokenProvider
from fortnox_connector.fortnox.pacing import PACERS, PacerRegistry
from fortnox_connector.fortnox.retry import RetryPolicy
from fortnox_connector.sandbox import Sandbox, SandboxOptions
from fortnox_connector.secrets import Secret
from tests.cassettes.scrub import Scrubber

Mode = Literal["replay", "sandbox", "live"]

SEED = 1
START = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
RECORD_PORT = 18787
REPLAY_BASE_URL = f"http://127.0.0.1:{RECORD_PORT}"
REPLAY_TENANT_ID = "100001"  # the sandbox's first tenant
REDIRECT_URI = "http://127.0.0.1/callback"
LIVE_API = "https://api.fortnox.se"
LIVE_AUTH = "https://apps.fortnox.se"

# Placeholders for values the test holds before any request (the scrubber numbers the rest from 1).
ACCESS_0 = "<ACCESS_TOKEN_0>"
REFRESH_0 = "<REFRESH_TOKEN_0>"
CODE_0 = "<CODE_0>"
CLIENT_SECRET = "<CLIENT_SECRET>"
REPLAY_CLIENT_ID = "sandbox-client"

# A SEK invoice the payment tests pay part of; created in the sandbox, FORTNOX_LIVE_INVOICE when live.
TEST_INVOICE = "9001"
TEST_INVOICE_TOTAL = Decimal("1000")
TEST_INVOICE_DATE = date(2026, 2, 20)


class FakeTime:
    """Monotonic time that moves only when slept: pacing and back-off cost nothing in tests."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


@dataclass(frozen=True)
class LiveCredentials:
    """The real Fortnox app and company, from the environment; never written anywhere."""

    client_id: str
    client_secret: str
    tenant_id: str  # the company's DatabaseNumber (TenantId header of client credentials)
    refresh_token_file: Path | None
    auth_code: str | None
    invoice: str | None
    access_token: str = field(repr=False, default="")

    @classmethod
    def from_env(cls) -> LiveCredentials:
        missing = [
            v
            for v in ("FORTNOX_CLIENT_ID", "FORTNOX_CLIENT_SECRET", "FORTNOX_TENANT_ID")
            if not os.environ.get(v)
        ]
        if missing:
            raise pytest.UsageError(f"FORTNOX_LIVE=1 needs {', '.join(missing)} (see docs/cassettes.md)")
        file = os.environ.get("FORTNOX_REFRESH_TOKEN_FILE")
        return cls(
            client_id=os.environ["FORTNOX_CLIENT_ID"],
            client_secret=os.environ["FORTNOX_CLIENT_SECRET"],
            tenant_id=os.environ["FORTNOX_TENANT_ID"],
            refresh_token_file=Path(file) if file else None,
            auth_code=os.environ.get("FORTNOX_AUTH_CODE") or None,
            invoice=os.environ.get("FORTNOX_LIVE_INVOICE") or None,
        )


@dataclass
class Target:
    mode: Mode
    scrubber: Scrubber
    sandbox: Sandbox | None = None
    live: LiveCredentials | None = None
    _opened: list[FortnoxOAuth] = field(default_factory=list)

    def close(self) -> None:
        """Close the OAuth clients the test made (their sockets would otherwise warn)."""
        for oauth in self._opened:
            oauth.close()

    # -- where and who ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.sandbox is not None:
            return self.sandbox.base_url
        return LIVE_API if self.live is not None else REPLAY_BASE_URL

    @property
    def auth_base_url(self) -> str:
        return LIVE_AUTH if self.live is not None else self.base_url

    @property
    def client_id(self) -> str:
        if self.sandbox is not None:
            return self.sandbox.client_id
        return self.live.client_id if self.live is not None else REPLAY_CLIENT_ID

    @property
    def client_secret(self) -> Secret:
        if self.sandbox is not None:
            raw = self.sandbox.client_secret
        elif self.live is not None:
            raw = self.live.client_secret
        else:
            raw = CLIENT_SECRET
        self.scrubber.name(raw, CLIENT_SECRET)
        return Secret(raw)

    @property
    def tenant_id(self) -> str:
        """The Fortnox company id (DatabaseNumber)."""
        if self.sandbox is not None:
            return str(self.sandbox.tenant_ids()[0])
        return self.live.tenant_id if self.live is not None else REPLAY_TENANT_ID

    def sandbox_only(self, why: str) -> Sandbox | None:
        """Skip when live (the setup needs the sandbox); the sandbox when recording, None in replay."""
        if self.mode == "live":
            pytest.skip(f"sandbox-only cassette: {why}")
        return self.sandbox

    # -- credentials --------------------------------------------------------------------------------
    def access_token(self, scopes: tuple[str, ...] | None = None) -> str:
        """An access token for the tenant (never recorded: it travels only in the scrubbed header)."""
        if self.sandbox is not None:
            tenant = int(self.tenant_id)
            answer = self.sandbox.issue_token(tenant, scopes) if scopes else self.sandbox.issue_token(tenant)
            return str(answer["access_token"])
        if self.live is not None:
            if scopes:
                pytest.skip("a token with fewer scopes needs the sandbox")
            return self.live.access_token
        return ACCESS_0

    def refresh_token(self) -> str:
        """A refresh token held before the test's first request; the scrubber calls it ``REFRESH_0``."""
        if self.sandbox is not None:
            raw = str(self.sandbox.issue_token(int(self.tenant_id))["refresh_token"])
        elif self.live is not None:
            path = self.live.refresh_token_file
            if path is None or not path.exists():
                pytest.skip("FORTNOX_REFRESH_TOKEN_FILE is not set (see docs/cassettes.md)")
            raw = path.read_text().strip()
        else:
            raw = REFRESH_0
        self.scrubber.name(raw, REFRESH_0)
        return raw

    def keep_refresh_token(self, token: Secret | None) -> None:
        """Live: the last refresh token of a rotation goes back into FORTNOX_REFRESH_TOKEN_FILE."""
        if self.live is not None and self.live.refresh_token_file is not None and token is not None:
            self.live.refresh_token_file.write_text(token.reveal())

    def authorization_code(self) -> str:
        """A fresh code from the consent step (a browser's job; the sandbox's ``auto=1`` here)."""
        if self.sandbox is not None:
            query = {
                "client_id": self.client_id,
                "response_type": "code",
                "state": "cassette-state",
                "scope": "invoice payment companyinformation",
                "redirect_uri": REDIRECT_URI,
                "access_type": "offline",
                "auto": "1",
                "tenant": self.tenant_id,
            }
            # The scrubber's hook leaves /oauth-v1/auth out of the cassette: it is setup, not under test.
            answer = httpx.get(f"{self.auth_base_url}/oauth-v1/auth", params=query)
            raw = httpx.URL(answer.headers["location"]).params["code"]
        elif self.live is not None:
            if self.live.auth_code is None:
                pytest.skip("FORTNOX_AUTH_CODE is not set (a fresh code from the consent page)")
            raw = self.live.auth_code
        else:
            raw = CODE_0
        self.scrubber.name(raw, CODE_0)
        return raw

    # -- clients -------------------------------------------------------------------------------------
    def client(self, token: str | None = None, *, tokens: TokenProvider | None = None) -> FortnoxClient:
        """A real FortnoxClient for the tenant. Pacing is real when live, unlimited otherwise."""
        fake = FakeTime()
        provider = tokens or FixedToken(token if token is not None else self.access_token())
        if self.live is not None:
            return FortnoxClient(
                tenant=self.tenant_id,
                tokens=provider,
                client_id=self.client_id,
                base_url=self.base_url,
                pacers=PACERS,
            )
        return FortnoxClient(
            tenant=self.tenant_id,
            tokens=provider,
            client_id=self.client_id,
            base_url=self.base_url,
            pacers=PacerRegistry(limit=1_000_000),
            clock=fake.clock,
            sleep=fake.sleep,
            retry=RetryPolicy(rate_limit_jitter=0.0),
        )

    def oauth(self, clock: object) -> FortnoxOAuth:
        """The app's OAuth client on an injected clock (closed when the test ends)."""
        oauth = FortnoxOAuth(
            self.client_id,
            self.client_secret,
            auth_base_url=self.auth_base_url,
            redirect_uri=REDIRECT_URI,
            clock=clock,  # type: ignore[arg-type]
        )
        self._opened.append(oauth)
        return oauth

    # -- data ------------------------------------------------------------------------------------------
    def test_invoice(self) -> str:
        """A SEK invoice of 1000, nothing paid, dated 2026-02-20 (created when recording on the sandbox)."""
        if self.sandbox is not None:
            self.sandbox.add_invoice(
                int(self.tenant_id),
                DocumentNumber=int(TEST_INVOICE),
                Total=TEST_INVOICE_TOTAL,
                Balance=TEST_INVOICE_TOTAL,
                Currency="SEK",
                CurrencyRate=Decimal(1),
                InvoiceDate=TEST_INVOICE_DATE,
                DueDate=date(2026, 3, 22),
                OCR="90017",
                CustomerNumber="1",
                CustomerName="Cassette Kund AB",
                Booked=True,
            )
            return TEST_INVOICE
        if self.live is not None:
            if self.live.invoice is None:
                pytest.skip("FORTNOX_LIVE_INVOICE is not set (an unpaid SEK invoice of >= 1000 to pay into)")
            return self.live.invoice
        return TEST_INVOICE


def start_sandbox() -> Sandbox:
    """The recording sandbox: seed SEED, frozen clock at START, rate limit off, on the fixed port."""
    options = SandboxOptions(seed=SEED, rate_limit=False, start=START, frozen_clock=True)
    return Sandbox.start(options, host="127.0.0.1", port=RECORD_PORT)
