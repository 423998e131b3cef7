"""The webhook sink against a loopback receiver: signature, idempotency key, retries, refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from decimal import Decimal

import pytest

from fortnox_connector.contract.records import Event
from fortnox_connector.errors import ConfigError, DeliveryError
from fortnox_connector.runtime.sinks import WebhookSink, make_sink, sign, verify_signature
from fortnox_connector.runtime.sinks.webhook import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from fortnox_connector.secrets import Secret
from tests.runtime.webhook_support import Receiver

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])

SECRET = "whsec-7f3a9c2e1b"
NOW = 1_795_000_000.0


def _sink(url: str, sleeps: list[float], **kwargs: object) -> WebhookSink:
    return WebhookSink(
        url,
        Secret(SECRET),
        sleep=sleeps.append,
        clock=lambda: NOW,
        jitter=lambda: 1.0,
        **kwargs,  # type: ignore[arg-type]
    )


def _event(key: str = "payment:acme:42") -> Event:
    return Event("payment_received", "acme", key, {"Number": 42, "Amount": Decimal("1250.50")})


def test_posts_each_event_signed_with_its_dedup_key(receiver: Receiver) -> None:
    with _sink(receiver.url, []) as sink:
        sink.deliver([_event("k1"), _event("k2")])
    assert len(receiver.requests) == 2
    first = receiver.requests[0]
    assert json.loads(first.body) == {
        "dedup_key": "k1",
        "trigger": "payment_received",
        "tenant": "acme",
        "payload": {"Number": 42, "Amount": "1250.50"},
    }
    assert (
        first.headers["idempotency-key"] == "k1" and receiver.requests[1].headers["idempotency-key"] == "k2"
    )
    assert first.headers["content-type"] == "application/json"
    assert first.headers[ID_HEADER] == "k1" and first.headers[TIMESTAMP_HEADER] == str(int(NOW))
    # What a receiver computes by hand: base64 HMAC-SHA256 over "<id>.<timestamp>.<raw body>".
    signed = b"k1." + str(int(NOW)).encode() + b"." + first.body
    expected = base64.b64encode(hmac.new(SECRET.encode(), signed, hashlib.sha256).digest()).decode()
    assert first.headers[SIGNATURE_HEADER] == f"v1,{expected}"
    assert verify_signature(Secret(SECRET), first.headers, first.body, now=NOW)
    assert not verify_signature(Secret(SECRET), first.headers, first.body + b" ", now=NOW)
    assert not verify_signature(Secret("other"), first.headers, first.body, now=NOW)
    assert not verify_signature(Secret(SECRET), first.headers, first.body, now=NOW + 301)
    assert not verify_signature(Secret(SECRET), {**first.headers, ID_HEADER: "k2"}, first.body, now=NOW)
    assert all(SECRET not in v for r in receiver.requests for v in r.headers.values())


def test_signature_matches_an_outside_oracle() -> None:
    # printf 'msg_1.1795000000.{"a":1}' | openssl dgst -sha256 -hmac whsec-test -binary | base64
    expected = "v1,JSCom4f3rSze1bJli0TreZbMPapIzhFGODc2ijZOEFs="
    assert sign(Secret("whsec-test"), "msg_1", 1795000000, b'{"a":1}') == expected


def test_unusual_dedup_key_is_hashed_into_the_header(receiver: Receiver) -> None:
    with _sink(receiver.url, []) as sink:
        sink.deliver([_event("betalning:åäö:1")])
    assert (
        receiver.requests[0].headers["idempotency-key"]
        == "sha256:" + hashlib.sha256("betalning:åäö:1".encode()).hexdigest()
    )
    assert json.loads(receiver.requests[0].body)["dedup_key"] == "betalning:åäö:1"


def test_retries_a_503_then_succeeds(receiver: Receiver) -> None:
    receiver.statuses = [503]
    sleeps: list[float] = []
    with _sink(receiver.url, sleeps) as sink:
        sink.deliver([_event()])
        assert sink.requests == 2
    assert len(receiver.requests) == 2 and sleeps == [0.5]
    assert receiver.requests[0].body == receiver.requests[1].body
    assert receiver.requests[0].headers["idempotency-key"] == receiver.requests[1].headers["idempotency-key"]


def test_a_400_fails_at_once_naming_tenant(receiver: Receiver) -> None:
    receiver.statuses = [400]
    sleeps: list[float] = []
    with _sink(receiver.url, sleeps) as sink, pytest.raises(DeliveryError) as err:
        sink.deliver([_event(), _event("k2")])
    assert len(receiver.requests) == 1 and sleeps == []
    text = str(err.value)
    assert "tenant acme" in text and "HTTP 400" in text and "bad event" in text and "Fix:" in text
    assert SECRET not in text and "query-secret" not in text and "/hooks/fortnox" in text


def test_gives_up_after_max_attempts_with_growing_capped_backoff(receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    sleeps: list[float] = []
    with (
        _sink(receiver.url, sleeps, max_attempts=6, backoff_max_s=5.0) as sink,
        pytest.raises(DeliveryError) as err,
    ):
        sink.deliver([_event()])
    assert len(receiver.requests) == 6
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 5.0]
    assert "after 6 attempts: HTTP 500" in str(err.value)


def test_jitter_spreads_the_delay_between_half_and_full() -> None:
    low = WebhookSink("http://127.0.0.1:1/", Secret(SECRET), jitter=lambda: 0.0)
    high = WebhookSink("http://127.0.0.1:1/", Secret(SECRET), jitter=lambda: 1.0)
    try:
        assert [low._delay(n, None) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]
        assert [high._delay(n, None) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    finally:
        low.close()
        high.close()


def test_429_waits_for_retry_after(receiver: Receiver) -> None:
    receiver.statuses = [(429, {"Retry-After": "7"})]
    sleeps: list[float] = []
    with _sink(receiver.url, sleeps) as sink:
        sink.deliver([_event()])
    assert sleeps == [7.0] and len(receiver.requests) == 2


def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    with (
        _sink(f"http://127.0.0.1:{port}/", sleeps, max_attempts=3) as sink,
        pytest.raises(DeliveryError) as err,
    ):
        sink.deliver([_event()])
    assert sleeps == [0.5, 1.0] and sink.requests == 3
    assert "connection failed" in str(err.value) and "tenant acme" in str(err.value)


def test_batch_mode_sends_one_request(receiver: Receiver) -> None:
    with _sink(receiver.url, [], batch=True) as sink:
        sink.deliver([_event("k1"), _event("k2")])
    assert len(receiver.requests) == 1
    body = json.loads(receiver.requests[0].body)
    assert [e["dedup_key"] for e in body["events"]] == ["k1", "k2"]
    assert receiver.requests[0].headers["idempotency-key"] == hashlib.sha256(b"k1\nk2").hexdigest()


def test_redirect_is_not_followed_and_fails(receiver: Receiver) -> None:
    receiver.statuses = [(302, {"Location": "http://127.0.0.1:1/elsewhere"})]
    with _sink(receiver.url, []) as sink, pytest.raises(DeliveryError, match="HTTP 302"):
        sink.deliver([_event()])


def test_factory_and_validation(receiver: Receiver) -> None:
    sink = make_sink("webhook", {"url": receiver.url, "secret": SECRET, "batch": "true", "max_attempts": "2"})
    try:
        assert isinstance(sink, WebhookSink) and sink.batch and sink.max_attempts == 2
        assert SECRET not in repr(sink) and "query-secret" not in repr(sink)
        sink.deliver([_event()])
    finally:
        sink.close()
    assert len(receiver.requests) == 1
    with pytest.raises(ConfigError, match="needs the option secret"):
        make_sink("webhook", {"url": receiver.url})
    with pytest.raises(ConfigError, match="http"):
        make_sink("webhook", {"url": "ftp://x/", "secret": SECRET})
    with pytest.raises(ConfigError, match="no option"):
        make_sink("webhook", {"url": receiver.url, "secret": SECRET, "retries": 3})
