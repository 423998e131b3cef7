"""Structured logs: a secret logged by accident never reaches the stream; the tenant is on every line."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime

import pytest

from fortnox_connector.runtime.logs import (
    MASK,
    configure_logging,
    redact_text,
    register_secret,
    set_default_tenant,
    tenant_logger,
    tenant_scope,
)
from fortnox_connector.secrets import Secret

TOKEN = "s3cr3t-t0ken-value-ABCDEFG"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXZhbHVl"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A fresh stream the root logger writes to; the handler is removed again afterwards."""
    root = logging.getLogger()
    level = root.level
    out = io.StringIO()
    configure_logging(stream=out)
    yield out
    for handler in [h for h in root.handlers if getattr(h, "_fortnox_connector_handler", False)]:
        root.removeHandler(handler)
    root.setLevel(level)


def lines(out: io.StringIO) -> list[str]:
    return [line for line in out.getvalue().splitlines() if line]


@pytest.mark.parametrize(
    ("template", "args"),
    [
        ("header: Authorization: Bearer %s", (TOKEN,)),
        ("form body grant_type=refresh_token&refresh_token=%s&x=1", (TOKEN,)),
        ("answer %s", ({"access_token": TOKEN, "expires_in": 3600},)),
        ('json {"client_secret": "%s"}', (TOKEN,)),
        ("redirect /callback?code=%s&state=abc", (TOKEN,)),
        ("client auth Basic %s", ("Y2xpZW50OnNlY3JldC12YWx1ZS1sb25n",)),
        ("a bare JWT %s in text", (JWT,)),
        ("url https://client:%s@example.test/token", (TOKEN,)),
        ("password=%s", (TOKEN,)),
    ],
)
def test_secret_values_in_text_never_reach_the_stream(
    stream: io.StringIO, template: str, args: tuple[object, ...]
) -> None:
    logging.getLogger("fortnox_connector.test").warning(template, *args)
    written = stream.getvalue()
    assert MASK in written
    for arg in args:
        text = arg if isinstance(arg, str) else TOKEN
        assert text not in written


def test_secret_objects_are_masked_in_args_and_extra(stream: io.StringIO) -> None:
    secret = Secret(TOKEN)
    log = logging.getLogger("fortnox_connector.test")
    log.info("token %s and %r", secret, secret, extra={"token": secret, "nested": {"refresh_token": "raw"}})
    configure_logging(json=True, stream=stream)
    log.info("again", extra={"token": secret, "body": {"access_token": TOKEN}})
    written = stream.getvalue()
    assert TOKEN not in written
    assert "raw" not in written


def test_registered_values_are_masked_wherever_they_appear(stream: io.StringIO) -> None:
    raw = "opaque-host-token-9f8e7d6c"
    register_secret(Secret(raw))
    logging.getLogger("x").error("the host gave %s for tenant", raw)
    assert raw not in stream.getvalue()


def test_an_exception_traceback_is_redacted(stream: io.StringIO) -> None:
    try:
        raise RuntimeError(f"Authorization: Bearer {TOKEN}")
    except RuntimeError:
        logging.getLogger("x").exception("request failed")
    written = stream.getvalue()
    assert "RuntimeError" in written
    assert TOKEN not in written


def test_fortnox_error_codes_and_payment_mode_codes_are_kept() -> None:
    text = 'Fortnox answered 400 with code=2000311; {"Code": "BG", "AccountNumber": 1930}'
    assert redact_text(text) == text


def test_tenant_on_every_line(stream: io.StringIO) -> None:
    logging.getLogger("fortnox_connector.x").info("no tenant here")
    tenant_logger("acme").info("from the adapter")
    logging.getLogger("fortnox_connector.fortnox").info("from extra", extra={"tenant": "globex"})
    tenant_logger("acme").info("a call's own tenant wins", extra={"tenant": "initech"})
    out = lines(stream)
    assert len(out) == 4
    assert "tenant=- " in out[0]
    assert "tenant=acme " in out[1]
    assert "tenant=globex " in out[2]
    assert "tenant=initech " in out[3]


def test_json_lines_parse_with_the_client_fields(stream: io.StringIO) -> None:
    configure_logging(json=True, level="DEBUG", stream=stream)
    extra = {"tenant": "acme", "http_method": "GET", "http_path": "/3/invoices", "http_status": 200}
    logging.getLogger("fortnox_connector.fortnox").debug(
        "Fortnox %s %s -> %d", "GET", "/3/invoices", 200, extra=extra
    )
    logging.getLogger("other").warning("plain")
    docs = [json.loads(line) for line in lines(stream)]
    assert len(docs) == 2
    first, second = docs
    assert first["message"] == "Fortnox GET /3/invoices -> 200"
    assert first["level"] == "DEBUG"
    assert first["logger"] == "fortnox_connector.fortnox"
    assert (first["tenant"], first["http_method"], first["http_path"], first["http_status"]) == (
        "acme",
        "GET",
        "/3/invoices",
        200,
    )
    assert datetime.fromisoformat(first["time"]).tzinfo is not None
    assert second["tenant"] == "-"


def test_configure_twice_installs_one_handler(stream: io.StringIO) -> None:
    configure_logging(stream=stream)
    configure_logging(stream=stream, level="warning")
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_fortnox_connector_handler", False)]
    assert len(ours) == 1
    logging.getLogger("y").warning("once")
    logging.getLogger("y").info("filtered out by level")
    assert len(lines(stream)) == 1


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging(level="LOUD", stream=io.StringIO())


def test_a_broken_format_string_keeps_the_line_and_drops_its_args(stream: io.StringIO) -> None:
    logging.getLogger("z").info("two %s %s", TOKEN)
    written = stream.getvalue()
    assert "could not be formatted" in written
    assert TOKEN not in written


def test_a_one_tenant_process_names_its_tenant_on_library_lines(stream: io.StringIO) -> None:
    previous = set_default_tenant("acme")
    try:
        logging.getLogger("httpx").warning("a library line")
        tenant_logger("globex").warning("another tenant's line")
    finally:
        set_default_tenant(previous)
    logging.getLogger("httpx").warning("after")
    out = lines(stream)
    assert "tenant=acme " in out[0]
    assert "tenant=globex " in out[1]
    assert "tenant=- " in out[2]


def test_a_tenant_scope_names_the_tenant_on_lines_that_name_none(stream: io.StringIO) -> None:
    """Each thread has its own scope (serve's workers); a line's own tenant wins; scopes nest and end."""
    seen = threading.Barrier(2)

    def work(tenant: str) -> None:
        with tenant_scope(tenant):
            seen.wait()  # both scopes are open at once
            logging.getLogger("httpx").warning("request of %s", tenant)

    threads = [threading.Thread(target=work, args=(t,)) for t in ("acme", "globex")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with tenant_scope("acme"):
        tenant_logger("initech").warning("its own")
        with tenant_scope("globex"):
            logging.getLogger("x").warning("inner")
        logging.getLogger("x").warning("outer again")
    logging.getLogger("x").warning("outside")
    out = lines(stream)
    assert sorted(line.split()[2] for line in out[:2]) == ["tenant=acme", "tenant=globex"]
    assert all(line.endswith(f"request of {line.split()[2][7:]}") for line in out[:2])
    assert [line.split()[2] for line in out[2:]] == [
        "tenant=initech",
        "tenant=globex",
        "tenant=acme",
        "tenant=-",
    ]


def test_an_oauth_code_that_starts_with_digits_is_still_masked() -> None:
    """token_urlsafe codes may begin "57-5…": only an all-digit value is a Fortnox error code."""
    code = "57-5ahumA8Mbc-4p8_cpbfnKNHBuIk-5"
    text = redact_text(f"GET http://127.0.0.1:1/callback?code={code}&state=abc")
    assert code not in text and "state=abc" in text
    assert redact_text("Fortnox answered 400 with code=2000311") == "Fortnox answered 400 with code=2000311"
