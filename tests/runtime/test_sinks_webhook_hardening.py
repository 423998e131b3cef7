"""Issue 11 items 6, 10: a whole-request deadline, options refused clearly, Standard Webhooks signatures."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from fortnox_connector.contract.records import Event
from fortnox_connector.errors import ConfigError, DeliveryError
from fortnox_connector.runtime.sinks import ReplayGuard, WebhookSink, make_sink, verify_signature
from fortnox_connector.secrets import Secret
from tests.runtime.webhook_support import Receiver

pytestmark = pytest.mark.block_network(allowed_hosts=["127.0.0.1"])

KEY = b"a 32-byte key for the test sink!"
WHSEC = "whsec_" + base64.b64encode(KEY).decode()
OLD_KEY = b"the key being rotated out, 32 b."
OLD = "whsec_" + base64.b64encode(OLD_KEY).decode()


def _event(key: str = "fortnox:acme:payment:42:booked") -> Event:
    return Event("payment_received", "acme", key, {"Number": 42, "Amount": Decimal("1250.50")})


def test_the_standardwebhooks_package_verifies_what_the_sink_sends(receiver: Receiver) -> None:
    with WebhookSink(receiver.url, Secret(WHSEC)) as sink:
        sink.deliver([_event()])
    [sent] = receiver.requests
    payload = Webhook(WHSEC).verify(sent.body, sent.headers)  # the spec's own verifier, wall clock
    assert payload["dedup_key"] == "fortnox:acme:payment:42:booked"
    assert sent.headers["webhook-id"] == "fortnox:acme:payment:42:booked"
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(sent.body, {**sent.headers, "webhook-id": "another-message"})  # id is signed


def test_a_plain_secret_is_its_bytes_as_the_key(receiver: Receiver) -> None:
    with WebhookSink(receiver.url, Secret("plain-shared-secret")) as sink:
        sink.deliver([_event()])
    [sent] = receiver.requests
    Webhook(base64.b64encode(b"plain-shared-secret").decode()).verify(sent.body, sent.headers)


def test_during_a_rotation_every_request_carries_a_signature_per_secret(receiver: Receiver) -> None:
    with WebhookSink(receiver.url, Secret(f"{WHSEC} {OLD}")) as sink:
        sink.deliver([_event()])
    [sent] = receiver.requests
    assert len(sent.headers["webhook-signature"].split()) == 2
    Webhook(WHSEC).verify(sent.body, sent.headers)  # a receiver on the new key
    Webhook(OLD).verify(sent.body, sent.headers)  # and one still on the old key
    assert verify_signature(Secret(OLD), sent.headers, sent.body)


def test_a_replayed_request_is_refused_and_a_fresh_retry_is_not(receiver: Receiver) -> None:
    clock = iter([1_795_000_000.0, 1_795_000_007.0])
    receiver.statuses = [503]
    with WebhookSink(receiver.url, Secret(WHSEC), clock=lambda: next(clock), sleep=lambda _s: None) as sink:
        sink.deliver([_event()])
    first, retry = receiver.requests
    guard = ReplayGuard()
    now = 1_795_000_010.0
    assert verify_signature(Secret(WHSEC), first.headers, first.body, now=now, replays=guard)
    assert not verify_signature(Secret(WHSEC), first.headers, first.body, now=now, replays=guard)  # replay
    assert verify_signature(Secret(WHSEC), retry.headers, retry.body, now=now, replays=guard)  # signed anew
    assert first.headers["webhook-id"] == retry.headers["webhook-id"]  # the receiver dedupes on it


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_attempts": "abc"}, "max_attempts"),
        ({"max_attempts": "0"}, "max_attempts"),
        ({"max_attempts": "1e3"}, "max_attempts"),
        ({"timeout_s": "-1"}, "timeout_s"),
        ({"timeout_s": "nan"}, "timeout_s"),
        ({"timeout_s": "inf"}, "timeout_s"),
        ({"batch": "maybe"}, "batch"),
        ({"secret": "whsec_"}, "secret"),
        ({"secret": "   "}, "secret"),
    ],
)
def test_bad_options_are_refused_naming_the_option_and_the_fix(options: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_sink("webhook", {"url": "http://127.0.0.1:1/", "secret": WHSEC, **options})
    assert caught.value.field == field and caught.value.hint and field in str(caught.value)


@pytest.fixture
def dripping() -> Iterator[tuple[str, threading.Event]]:
    """A receiver that answers one byte every 50 ms (about 2 s in all); ``finished`` once it all went."""
    stop = threading.Event()
    finished = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                if stop.wait(0.05):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
            finished.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook", finished
    stop.set()
    server.close()
    thread.join(5)


def test_timeout_s_bounds_the_whole_request_not_each_read(dripping: tuple[str, threading.Event]) -> None:
    url, finished = dripping
    with (
        WebhookSink(url, Secret(WHSEC), timeout_s=0.3, max_attempts=1) as sink,
        pytest.raises(DeliveryError, match=r"no complete answer within 0\.3 s") as caught,
    ):
        sink.deliver([_event()])  # each byte comes well within 0.3 s; the whole answer takes ~2 s
    assert not finished.is_set()  # the sink gave up while the receiver was still dripping
    assert caught.value.tenant == "acme"
