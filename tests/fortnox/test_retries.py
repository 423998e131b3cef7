"""429, 5xx, transport errors and 401: what is retried, how long it waits, what is never repeated."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
import pytest

from fortnox_connector.auth.providers import FixedToken, HostManagedTokens
from fortnox_connector.contract.state import Token
from fortnox_connector.errors import ReconnectRequired, TokenExpired
from fortnox_connector.fortnox.errors import (
    AmbiguousWrite,
    FortnoxUnauthorized,
    FortnoxUnavailable,
    FortnoxValidationError,
    RateLimited,
)
from fortnox_connector.fortnox.retry import RetryPolicy, is_safe
from fortnox_connector.secrets import Secret

from .conftest import ACCESS_TOKEN, FRESH_TOKEN, TENANT, FakeClock, FakeFortnox, Make, json_response, payment

PAYMENTS = "/3/invoicepayments"


def too_many(**headers: str) -> httpx.Response:
    return json_response(429, {"message": "Too Many Requests"}, headers=headers)


def server_error(status: int = 500) -> httpx.Response:
    return json_response(status, {"ErrorInformation": {"error": 1, "message": "Systemfel", "code": 1000003}})


# -- 429 -------------------------------------------------------------------------


def test_429_with_retry_after_seconds_waits_exactly_that(
    make_client: Make, server: FakeFortnox, clock: FakeClock
) -> None:
    server.queue("GET", PAYMENTS, too_many(**{"Retry-After": "3"}))
    client = make_client()
    start = clock.now
    client.list_invoice_payments()
    assert clock.now - start == pytest.approx(3.0)
    assert client.requests_sent == 2 and client.throttled_responses == 1
    assert client.pacer.stats().throttled == 1


def test_429_with_retry_after_http_date(make_client: Make, server: FakeFortnox, clock: FakeClock) -> None:
    wall = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    server.queue("GET", PAYMENTS, too_many(**{"Retry-After": "Sun, 22 Nov 2026 12:00:08 GMT"}))
    client = make_client(retry=RetryPolicy(wall_clock=lambda: wall))
    start = clock.now
    client.list_invoice_payments()
    assert clock.now - start == pytest.approx(8.0)


def test_429_without_retry_after_waits_at_least_a_window_with_jitter(
    make_client: Make, server: FakeFortnox, clock: FakeClock
) -> None:
    server.queue("GET", PAYMENTS, too_many(), too_many())
    client = make_client()
    start = clock.now
    client.list_invoice_payments()
    waited = clock.now - start
    assert 5.0 + 10.0 <= waited <= 5.0 + 10.0 + 2.0  # one window, then two, each plus up to 1 s of jitter
    assert client.requests_sent == 3 and client.throttled_responses == 2


def test_429_pauses_every_client_of_the_pair_even_when_one_gives_up(
    make_client: Make, server: FakeFortnox, clock: FakeClock
) -> None:
    server.payments = [payment(1)]
    impatient, other = make_client(max_retries=0), make_client()
    server.queue("GET", PAYMENTS, too_many())
    start = clock.now
    with pytest.raises(RateLimited) as caught:
        impatient.list_invoice_payments()
    assert clock.now == start  # the one that gave up did not wait
    assert caught.value.retry_after is not None and caught.value.retry_after >= 5.0
    other.get_invoice_payment("1")
    assert clock.now - start >= 5.0  # but the pair's next request let the window recover
    assert other.pacer.stats().throttled == 1


def test_429_until_retries_run_out_raises_rate_limited(make_client: Make, server: FakeFortnox) -> None:
    server.queue("GET", PAYMENTS, *[too_many() for _ in range(4)])
    client = make_client(max_retries=3)
    with pytest.raises(RateLimited) as caught:
        client.list_invoice_payments()
    assert caught.value.status == 429
    assert client.requests_sent == 4 and client.throttled_responses == 4
    assert TENANT in str(caught.value) and "GET /3/invoicepayments" in str(caught.value)


def test_retry_after_too_long_is_not_waited_out(
    make_client: Make, server: FakeFortnox, clock: FakeClock
) -> None:
    server.queue("GET", PAYMENTS, too_many(**{"Retry-After": "3600"}))
    start = clock.now
    with pytest.raises(RateLimited) as caught:
        make_client().list_invoice_payments()
    assert caught.value.retry_after == 3600.0
    assert clock.now == start


def test_post_that_got_429_is_retried_and_creates_once(make_client: Make, server: FakeFortnox) -> None:
    server.queue("POST", PAYMENTS, too_many(**{"Retry-After": "1"}))
    client = make_client()
    created = client.create_invoice_payment({"InvoiceNumber": 1, "Amount": 10})
    assert created.number == "1" and len(server.payments) == 1
    assert client.requests_sent == 2


# -- 5xx and transport errors ------------------------------------------------------


def test_get_5xx_is_retried_with_growing_backoff(
    make_client: Make, server: FakeFortnox, clock: FakeClock
) -> None:
    server.queue("GET", PAYMENTS, server_error(500), server_error(503), server_error(502))
    client = make_client()
    client.list_invoice_payments()
    assert client.requests_sent == 4
    assert len(clock.slept) == 3
    for n, slept in enumerate(clock.slept, start=1):
        ceiling = 0.5 * 2 ** (n - 1)
        assert ceiling / 2 <= slept <= ceiling


def test_get_5xx_until_retries_run_out_raises_unavailable(make_client: Make, server: FakeFortnox) -> None:
    server.queue("GET", PAYMENTS, *[server_error() for _ in range(3)])
    client = make_client(max_retries=2)
    with pytest.raises(FortnoxUnavailable) as caught:
        client.list_invoice_payments()
    err = caught.value
    assert (err.status, err.code, err.fortnox_message) == (500, 1000003, "Systemfel")
    assert client.requests_sent == 3


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected"),
        httpx.ReadError("reset"),
    ],
)
def test_get_timeout_or_drop_is_retried(
    make_client: Make, server: FakeFortnox, failure: httpx.TransportError
) -> None:
    server.queue("GET", PAYMENTS, failure)
    client = make_client()
    client.list_invoice_payments()
    assert client.requests_sent == 2


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.WriteTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
    ],
)
def test_post_timeout_or_drop_is_ambiguous_and_never_repeated(
    make_client: Make, server: FakeFortnox, failure: httpx.TransportError
) -> None:
    server.queue("POST", PAYMENTS, failure)
    client = make_client()
    with pytest.raises(AmbiguousWrite) as caught:
        client.create_invoice_payment({"InvoiceNumber": 1, "Amount": 10})
    assert client.requests_sent == 1
    assert [s.method for s in server.seen] == ["POST"]
    text = str(caught.value)
    assert TENANT in text and "POST /3/invoicepayments" in text and "may or may not" in text


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_post_5xx_is_an_error_not_a_retry(make_client: Make, server: FakeFortnox, status: int) -> None:
    server.queue("POST", PAYMENTS, server_error(status))
    client = make_client()
    with pytest.raises(AmbiguousWrite) as caught:
        client.create_invoice_payment({"InvoiceNumber": 1, "Amount": 10})
    assert caught.value.status == status and caught.value.code == 1000003
    assert client.requests_sent == 1


def test_put_other_than_bookkeep_is_not_repeated(make_client: Make, server: FakeFortnox) -> None:
    server.queue("PUT", f"{PAYMENTS}/1", httpx.ReadTimeout("timed out"))
    client = make_client()
    with pytest.raises(AmbiguousWrite):
        client.request("PUT", f"{PAYMENTS}/1", json={"InvoicePayment": {"Amount": 1}})
    assert client.requests_sent == 1


def test_post_that_could_not_connect_is_retried(make_client: Make, server: FakeFortnox) -> None:
    server.queue(
        "POST", PAYMENTS, httpx.ConnectError("connection refused"), httpx.ConnectTimeout("timed out")
    )
    client = make_client()
    client.create_invoice_payment({"InvoiceNumber": 1, "Amount": 10})
    assert client.requests_sent == 3 and len(server.payments) == 1


def test_connect_errors_until_retries_run_out(make_client: Make, server: FakeFortnox) -> None:
    server.queue("GET", PAYMENTS, *[httpx.ConnectError("refused") for _ in range(3)])
    with pytest.raises(FortnoxUnavailable, match="ConnectError"):
        make_client(max_retries=2).list_invoice_payments()


def test_delete_retried_after_timeout_that_finds_it_gone_succeeds(
    make_client: Make, server: FakeFortnox
) -> None:
    server.payments = [payment(1)]

    def deleted_but_timed_out(request: httpx.Request) -> httpx.Response:
        server.payments.clear()
        raise httpx.ReadTimeout("timed out", request=request)

    server.queue("DELETE", f"{PAYMENTS}/1", deleted_but_timed_out)
    client = make_client()
    assert client.request("DELETE", f"{PAYMENTS}/1") is None
    assert client.requests_sent == 2
    assert [s.method for s in server.seen] == ["DELETE", "DELETE"]


def test_bookkeep_is_retried_after_5xx(make_client: Make, server: FakeFortnox) -> None:
    server.payments = [payment(1)]
    server.queue("PUT", f"{PAYMENTS}/1/bookkeep", server_error(503))
    assert make_client().bookkeep_invoice_payment("1").booked


def test_bookkeep_already_booked_returns_the_payment(make_client: Make, server: FakeFortnox) -> None:
    server.payments = [payment(1, booked=True)]
    refused = json_response(
        400, {"ErrorInformation": {"error": 1, "message": "Redan bokförd", "code": 2000899}}
    )
    server.queue("PUT", f"{PAYMENTS}/1/bookkeep", refused)
    assert make_client().bookkeep_invoice_payment("1").booked


def test_bookkeep_refusal_of_unbooked_payment_raises(make_client: Make, server: FakeFortnox) -> None:
    server.payments = [payment(1)]
    refused = json_response(400, {"ErrorInformation": {"error": 1, "message": "Fel", "code": 2000899}})
    server.queue("PUT", f"{PAYMENTS}/1/bookkeep", refused)
    with pytest.raises(FortnoxValidationError):
        make_client().bookkeep_invoice_payment("1")


def test_bookkeep_switches_body_form_on_invalid_content_type(make_client: Make, server: FakeFortnox) -> None:
    server.payments = [payment(1), payment(2)]
    bad_type = json_response(
        400, {"ErrorInformation": {"Error": 1, "Message": "Ogiltig content type", "Code": "1000031"}}
    )
    server.queue("PUT", f"{PAYMENTS}/1/bookkeep", bad_type)
    client = make_client()
    assert client.bookkeep_invoice_payment("1").booked
    assert client.bookkeep_invoice_payment("2").booked
    bodies = [(s.body, s.headers.get("Content-Type")) for s in server.seen]
    assert bodies == [(b"", None), (b"{}", "application/json"), (b"{}", "application/json")]


def test_safe_methods() -> None:
    assert is_safe("GET", "/3/invoices")
    assert is_safe("DELETE", "/3/invoicepayments/1")
    assert is_safe("PUT", "/3/invoicepayments/1/bookkeep")
    assert not is_safe("PUT", "/3/invoicepayments/1")
    assert not is_safe("POST", "/3/invoicepayments")


def test_retry_after_parsing() -> None:
    policy = RetryPolicy(wall_clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    assert policy.parse_retry_after("7") == 7.0
    assert policy.parse_retry_after(" 1.5 ") == 1.5
    assert policy.parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT") == 30.0
    assert policy.parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT") == 0.0
    assert policy.parse_retry_after("soon") is None
    assert policy.parse_retry_after("") is None
    assert policy.parse_retry_after(None) is None


# -- 401 -------------------------------------------------------------------------


def test_401_invalidates_and_retries_once_keeping_params_and_page(
    make_client: Make, server: FakeFortnox, tokens: object
) -> None:
    server.payments = [payment(n) for n in range(1, 1001)]
    server.valid_tokens = {FRESH_TOKEN}
    client = make_client()
    page = client.list_invoice_payments(invoice_number=3, page=2, limit=100)
    assert page.current_page == 2
    first, second = server.seen
    assert first.params == second.params == {"invoicenumber": "3", "limit": "100", "page": "2"}
    assert first.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert second.headers["Authorization"] == f"Bearer {FRESH_TOKEN}"
    assert [t.reveal() for t in make_client.tokens.invalidated] == [ACCESS_TOKEN]


def test_401_keeps_post_body_on_the_retry(make_client: Make, server: FakeFortnox) -> None:
    server.valid_tokens = {FRESH_TOKEN}
    client = make_client()
    client.create_invoice_payment({"InvoiceNumber": 9, "Amount": 10})
    first, second = server.seen
    assert first.body == second.body and first.method == second.method == "POST"
    assert len(server.payments) == 1


def test_401_twice_raises_unauthorized(make_client: Make, server: FakeFortnox) -> None:
    server.valid_tokens = set()
    client = make_client()
    with pytest.raises(FortnoxUnauthorized) as caught:
        client.company_information()
    assert client.requests_sent == 2
    assert len(make_client.tokens.invalidated) == 1
    assert caught.value.fortnox_message == "unauthorized"
    assert TENANT in str(caught.value) and "reconnect" in str(caught.value)


def test_token_provider_errors_name_the_tenant(make_client: Make) -> None:
    class Gone:
        def access_token(self) -> object:
            raise ReconnectRequired("the refresh token was refused", hint="reconnect")

        def invalidate(self, token: object) -> None: ...

        def extra_headers(self) -> dict[str, str]:
            return {}

    client = make_client(tokens=Gone())
    with pytest.raises(ReconnectRequired) as caught:
        client.company_information()
    assert caught.value.tenant == TENANT
    assert client.requests_sent == 0


def test_a_host_managed_token_rejected_is_not_retried_and_the_log_says_so(
    make_client: Make, server: FakeFortnox, caplog: pytest.LogCaptureFixture
) -> None:
    server.valid_tokens = set()
    expires = datetime(2100, 1, 1, tzinfo=UTC)
    tokens = HostManagedTokens(TENANT, Token(Secret(ACCESS_TOKEN), expires, frozenset()))
    client = make_client(tokens=tokens)
    caplog.set_level(logging.INFO, logger="fortnox_connector")
    with pytest.raises(TokenExpired, match="rejected") as caught:
        client.company_information()
    assert client.requests_sent == 1  # nothing to retry with: the host must inject a new token
    assert caught.value.tenant == TENANT and "host must refresh" in str(caught.value)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "not retrying" in said and "once more" not in said and "fresh one" not in said


def test_a_fixed_token_rejected_is_not_sent_again(make_client: Make, server: FakeFortnox) -> None:
    server.valid_tokens = set()
    client = make_client(tokens=FixedToken(ACCESS_TOKEN))
    with pytest.raises(FortnoxUnauthorized):
        client.company_information()
    assert client.requests_sent == 1


# -- counted ---------------------------------------------------------------------


def test_every_request_that_is_not_a_first_try_is_counted_as_a_retry(
    make_client: Make, server: FakeFortnox
) -> None:
    """A 429, a 5xx, then the answer: 3 requests, 2 retries; a 401 and the request once more: 1 retry."""
    server.queue("GET", PAYMENTS, too_many(**{"Retry-After": "1"}), server_error(503))
    client = make_client()
    client.list_invoice_payments()
    assert (client.requests_sent, client.retries_sent) == (3, 2)
    client.list_invoice_payments()  # answered at once: no retry
    assert (client.requests_sent, client.retries_sent) == (4, 2)
    server.valid_tokens = {FRESH_TOKEN}
    client.list_invoice_payments()  # 401 with the old token, then sent once more with a new one
    assert (client.requests_sent, client.retries_sent) == (6, 3)


def test_retries_of_a_request_that_finally_failed_are_counted(make_client: Make, server: FakeFortnox) -> None:
    server.queue("GET", PAYMENTS, *[server_error() for _ in range(3)])
    client = make_client(max_retries=2)
    with pytest.raises(FortnoxUnavailable):
        client.list_invoice_payments()
    assert (client.requests_sent, client.retries_sent) == (3, 2)
