"""No cassette holds a token, a code, a client secret or Basic credentials, and the scrubber is what
keeps it so: it is checked on planted secrets in every shape Fortnox's answers and our requests take."""

from __future__ import annotations

import ast
import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cassettes.conftest import CASSETTES
from tests.cassettes.scrub import HOOK_PATTERN, Scrubber, leaks

JWT_LIKE = "eyJhbGciOiJIUzI1NiJ9.eyJ0ZW5hbnRJZCI6MTAwMDAxLCJleHAiOjE3NzI0NDIwMDB9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
REFRESH = "f1e2d3c4b5a6978812345678abcdef00"
SECRET = "sandbox-secret-for-a-test-1234567"
CASSETTE_FILES = sorted(CASSETTES.rglob("*.yaml"))


def test_there_are_cassettes() -> None:
    assert len(CASSETTE_FILES) >= 20


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_cassette_holds_no_token_like_value(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not HOOK_PATTERN.search(text), "matches the before-stop hook's pattern"
    found = list(leaks(text))
    data = yaml.safe_load(text)
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        for name, values in {**request["headers"], **response["headers"]}.items():
            if name.lower() in ("authorization", "cookie", "set-cookie"):
                assert values == ["<SCRUBBED>"], f"{name} header not scrubbed"
        found += leaks(str(request["body"] or ""))
        found += leaks(str(response["body"].get("string") or ""))
    assert not found, f"{path.name}: {found}"


def test_every_cassette_belongs_to_a_test() -> None:
    """A renamed or deleted test must take its cassette along (no stale recordings)."""
    here = Path(__file__).parent
    stale = []
    for path in CASSETTE_FILES:
        module = here / f"{path.parent.name}.py"
        names = (
            {
                node.name
                for node in ast.walk(ast.parse(module.read_text()))
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
            }
            if module.exists()
            else set()
        )
        if path.stem not in names:
            stale.append(f"{path.parent.name}/{path.name}")
    assert not stale


# -- the checker catches what it must ---------------------------------------------------------------


@pytest.mark.parametrize(
    "planted",
    [
        f'{{"access_token": "{JWT_LIKE}"}}',
        f'{{"refresh_token": "{REFRESH}"}}',
        f'{{"client_secret": "{SECRET}"}}',
        f"grant_type=refresh_token&refresh_token={REFRESH}",
        "grant_type=authorization_code&code=abc123&redirect_uri=x",
        f"authorization: Bearer {REFRESH}",
        "authorization: Basic " + base64.b64encode(b"client:secret").decode(),
        f"token_type_hint=refresh_token&token={REFRESH}",
        f"message: 'token {JWT_LIKE} was refused'",
    ],
)
def test_the_checker_finds_a_planted_secret(planted: str) -> None:
    assert list(leaks(planted))


@pytest.mark.parametrize(
    "clean",
    [
        '{"access_token": "<ACCESS_TOKEN_1>", "refresh_token": "<REFRESH_TOKEN_2>", "expires_in": 3600}',
        "grant_type=refresh_token&refresh_token=%3CREFRESH_TOKEN_0%3E",
        "authorization: <SCRUBBED>",
        '{"ErrorInformation": {"Error": 1, "Message": "Kan inte hitta fakturan.", "Code": 2000434}}',
        '{"errorinformation": {"error": 1, "message": "x", "code": "2000434"}}',
    ],
)
def test_the_checker_passes_placeholders_and_fortnox_bodies(clean: str) -> None:
    assert not list(leaks(clean))


# -- the scrubber ------------------------------------------------------------------------------------


class FakeRequest:
    def __init__(self, uri: str, body: bytes, headers: dict[str, str]) -> None:
        self.uri, self.body, self.headers = uri, body, headers


def test_scrubber_replaces_secrets_consistently_across_requests_and_responses() -> None:
    s = Scrubber()
    s.name(SECRET, "<CLIENT_SECRET>")
    request = FakeRequest(
        "http://127.0.0.1:18787/oauth-v1/token",
        f"grant_type=refresh_token&refresh_token={REFRESH}".encode(),
        {"Authorization": "Basic abcdefgh", "Content-Type": "application/x-www-form-urlencoded"},
    )
    out = s.before_record_request(request)
    assert out.body == b"grant_type=refresh_token&refresh_token=%3CREFRESH_TOKEN_1%3E"
    assert out.headers["Authorization"] == "<SCRUBBED>"
    new_refresh = "0" * 32
    answer: dict[str, Any] = {
        "status": {"code": 200},
        "headers": {"Content-Type": ["application/json"], "Date": ["Mon"], "Content-Length": ["1"]},
        "body": {
            "string": json.dumps(
                {"access_token": JWT_LIKE, "refresh_token": new_refresh, "error_description": SECRET}
            ).encode()
        },
    }
    scrubbed = s.before_record_response(answer)
    body = json.loads(scrubbed["body"]["string"])
    assert body == {
        "access_token": "<ACCESS_TOKEN_1>",
        "refresh_token": "<REFRESH_TOKEN_2>",
        "error_description": "<CLIENT_SECRET>",
    }
    assert "Date" not in scrubbed["headers"]
    assert scrubbed["headers"]["Content-Length"] == [str(len(scrubbed["body"]["string"]))]
    # The same real value later gets the same placeholder; a placeholder maps to itself (replay).
    assert s.placeholder(REFRESH, "REFRESH_TOKEN") == "<REFRESH_TOKEN_1>"
    assert s.placeholder("<REFRESH_TOKEN_2>", "REFRESH_TOKEN") == "<REFRESH_TOKEN_2>"


def test_scrubber_rewrites_a_code_in_a_redirect_and_leaves_plain_bodies_alone() -> None:
    s = Scrubber()
    answer: dict[str, Any] = {
        "status": {"code": 302},
        "headers": {"Location": ["http://127.0.0.1/callback?code=abc123def&state=s1"]},
        "body": {"string": b""},
    }
    assert s.before_record_response(answer)["headers"]["Location"] == [
        "http://127.0.0.1/callback?code=%3CCODE_1%3E&state=s1"
    ]
    plain = b'{"InvoicePayments": [{"Number": "1", "Amount": 100.5}]}'
    assert s.body(plain, "application/json") is plain
