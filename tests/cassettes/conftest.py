"""Cassette tests: one cassette per test in ``cassettes/<module>/<test>.yaml`` at the repository root.

``--record-mode=none`` (``make test``) replays with no server; any other record mode records against the
in-process sandbox, or against the real Fortnox when ``FORTNOX_LIVE=1`` (see ``tests/cassettes/target.py``
and ``docs/cassettes.md``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from fortnox_connector.auth.oauth import FortnoxOAuth
from fortnox_connector.secrets import Secret
from tests.cassettes.scrub import SCRUBBED_HEADERS, Scrubber
from tests.cassettes.target import LiveCredentials, Mode, Target, start_sandbox

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"
NOT_RECORDED_PATHS = ("/oauth-v1/auth",)  # the consent step: test setup, and a browser's job when live


def recording_mode(config: pytest.Config) -> Mode:
    if (config.getoption("--record-mode", default=None) or "none") == "none":
        return "replay"
    return "live" if os.environ.get("FORTNOX_LIVE") == "1" else "sandbox"


def semantic_body(r1: Any, r2: Any) -> None:
    """vcr matcher: bodies equal as JSON, as a form (order kept), or byte for byte."""
    b1, b2 = _text(r1.body), _text(r2.body)
    if b1 == b2:
        return
    try:
        if json.loads(b1) == json.loads(b2):
            return
    except ValueError:
        pass
    if parse_qsl(b1, keep_blank_values=True) == parse_qsl(b2, keep_blank_values=True) and "=" in b1:
        return
    raise AssertionError("bodies differ")


def _text(body: bytes | str | None) -> str:
    if body is None:
        return ""
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else body


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_matcher("semantic_body", semantic_body)


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(CASSETTES / request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture
def scrubber() -> Scrubber:
    """One per test, so placeholders are numbered per cassette."""
    return Scrubber()


@pytest.fixture
def vcr_config(scrubber: Scrubber) -> dict[str, Any]:
    def before_request(request: Any) -> Any:
        if urlsplit(request.uri).path in NOT_RECORDED_PATHS:
            return None
        return scrubber.before_record_request(request)

    return {
        "filter_headers": [(name, "<SCRUBBED>") for name in SCRUBBED_HEADERS],
        "before_record_request": before_request,
        "before_record_response": scrubber.before_record_response,
        "match_on": ["method", "path", "query", "semantic_body"],
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }


@pytest.fixture(scope="session")
def live_credentials(pytestconfig: pytest.Config) -> LiveCredentials | None:
    """Live only: credentials from the environment and a client-credentials token, got before any cassette."""
    if recording_mode(pytestconfig) != "live":
        return None
    creds = LiveCredentials.from_env()
    oauth = FortnoxOAuth(creds.client_id, Secret(creds.client_secret))
    try:
        token = oauth.client_credentials(creds.tenant_id)
    finally:
        oauth.close()
    return dataclasses.replace(creds, access_token=token.access_token.reveal())


@pytest.fixture
def target(
    pytestconfig: pytest.Config, scrubber: Scrubber, live_credentials: LiveCredentials | None
) -> Iterator[Target]:
    mode = recording_mode(pytestconfig)
    if mode == "sandbox":
        with start_sandbox() as sb:
            target = Target(mode, scrubber, sandbox=sb)
            yield target
            target.close()
    else:
        target = Target(mode, scrubber, live=live_credentials)
        yield target
        target.close()
