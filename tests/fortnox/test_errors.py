"""Fortnox's three error shapes in both casings, mapped to typed errors; malformed answers; no leaks."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fortnox_connector.errors import AuthError, ConnectorError
from fortnox_connector.fortnox.errors import (
    AmbiguousWrite,
    FortnoxError,
    FortnoxForbidden,
    FortnoxUnauthorized,
    FortnoxUnavailable,
    FortnoxValidationError,
    MalformedResponse,
    MissingLicence,
    MissingScope,
    NotFound,
    RateLimited,
)
from fortnox_connector.fortnox.records import MalformedRecord
from fortnox_connector.fortnox.wire import ErrorBody, parse_error_body

from .conftest import ACCESS_TOKEN, FRESH_TOKEN, TENANT, FakeFortnox, Make, json_response, payment

PAYMENTS = "/3/invoicepayments"


def envelope(code: int | str, message: str, *, pascal: bool) -> dict[str, Any]:
    if pascal:
        return {"ErrorInformation": {"Error": 1, "Message": message, "Code": code}}
    return {"ErrorInformation": {"error": 1, "message": message, "code": code}}


CASES = [
    # status, code, message, expected class, words the hint must contain
    (403, 2001101, "Det saknas en licens", MissingLicence, "licence for this scope"),
    (403, 2001103, "Ingen licens för API", MissingLicence, "API"),
    (403, 2000663, "Har inte behörighet för scope", MissingScope, "scope 'payment'"),
    (403, 2003330, "Saknar behörighet att lista betalningar", MissingScope, "scope 'payment'"),
    (400, 2000434, "Kan inte hitta fakturan", NotFound, "deleted"),
    (404, 2000001, "Hittades inte", NotFound, "deleted"),
    (400, 2000587, "Ogiltigt filter", FortnoxValidationError, "correct the request"),
    (400, 2002115, "JSON syntax", FortnoxValidationError, "correct the request"),
    (403, 2000310, "Ogiltig inloggning", FortnoxUnauthorized, "reconnect"),
    (403, 2000999, "Förbjudet", FortnoxForbidden, "permissions"),
]


@pytest.mark.parametrize("pascal", [False, True], ids=["lowercase", "PascalCase"])
@pytest.mark.parametrize("code_as_text", [False, True], ids=["int-code", "string-code"])
@pytest.mark.parametrize(("status", "code", "message", "cls", "hint"), CASES)
def test_error_information_envelope(
    make_client: Make,
    server: FakeFortnox,
    pascal: bool,
    code_as_text: bool,
    status: int,
    code: int,
    message: str,
    cls: type[FortnoxError],
    hint: str,
) -> None:
    body = envelope(str(code) if code_as_text else code, message, pascal=pascal)
    server.queue("GET", PAYMENTS, json_response(status, body))
    client = make_client()
    with pytest.raises(cls) as caught:
        client.list_invoice_payments()
    err = caught.value
    assert type(err) is cls
    assert (err.status, err.code, err.fortnox_message, err.tenant) == (status, code, message, TENANT)
    assert err.method == "GET" and err.path == PAYMENTS
    text = str(err)
    for part in (TENANT, "GET /3/invoicepayments", str(code), message, hint):
        assert part in text
    assert "limit" not in text and "page" not in text  # no query in messages
    assert client.requests_sent == 1  # business errors are not retried


def test_unauthorized_shape_is_auth_error(make_client: Make, server: FakeFortnox) -> None:
    server.valid_tokens = set()
    with pytest.raises(AuthError) as caught:
        make_client().get_invoice("1")
    assert isinstance(caught.value, FortnoxUnauthorized)
    assert caught.value.code is None and caught.value.fortnox_message == "unauthorized"


@pytest.mark.parametrize("content_type", ["text/html", "text/plain", "application/json"])
@pytest.mark.parametrize(
    ("oauth_error", "description", "fix"),
    [
        ("invalid_grant", "Invalid refresh token", "reconnect"),
        ("invalid_client", "The client credentials are invalid", "client id or secret"),
    ],
)
def test_oauth_style_body_with_any_content_type(
    make_client: Make, server: FakeFortnox, content_type: str, oauth_error: str, description: str, fix: str
) -> None:
    raw = f'{{"error":"{oauth_error}","error_description":"{description}"}}'.encode()
    server.queue("GET", PAYMENTS, httpx.Response(400, content=raw, headers={"Content-Type": content_type}))
    with pytest.raises(FortnoxValidationError) as caught:
        make_client().list_invoice_payments()
    err = caught.value
    assert err.fortnox_message == description and err.code is None
    assert oauth_error in str(err) and fix in str(err) and TENANT in str(err)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"ErrorInformation":{"error":1,"message":"Fel","code":2000434}}', ErrorBody(2000434, "Fel")),
        (b'{"ErrorInformation":{"Error":1,"Message":"Fel","Code":"2000434"}}', ErrorBody(2000434, "Fel")),
        (b'{"errorinformation":{"ERROR":1,"MESSAGE":"Fel","CODE":2000434}}', ErrorBody(2000434, "Fel")),
        (b'{"message":"unauthorized"}', ErrorBody(None, "unauthorized")),
        (b'{"error":"invalid_grant","error_description":"x"}', ErrorBody(None, "x", "invalid_grant")),
        (b'\xef\xbb\xbf  {"message":"bom"}', ErrorBody(None, "bom")),
        (b"<html>502 Bad Gateway</html>", ErrorBody()),
        (b"", ErrorBody()),
        (b"[1, 2]", ErrorBody()),
        (b'{"ErrorInformation":{"code":"abc","message":{"nested":1}}}', ErrorBody()),
    ],
)
def test_parse_error_body(raw: bytes, expected: ErrorBody) -> None:
    assert parse_error_body(raw) == expected


def test_non_json_error_body_still_maps_by_status(make_client: Make, server: FakeFortnox) -> None:
    server.queue("GET", "/3/invoices/1", httpx.Response(404, text="<html>Not Found</html>"))
    with pytest.raises(NotFound) as caught:
        make_client().get_invoice("1")
    assert caught.value.code is None and caught.value.fortnox_message is None


def test_every_error_is_a_connector_error() -> None:
    for cls in (
        FortnoxUnauthorized,
        FortnoxForbidden,
        MissingLicence,
        MissingScope,
        NotFound,
        FortnoxValidationError,
        RateLimited,
        FortnoxUnavailable,
        MalformedResponse,
        AmbiguousWrite,
    ):
        assert issubclass(cls, FortnoxError) and issubclass(cls, ConnectorError)
        assert cls("x").hint  # every class has a default fix


# -- malformed 2xx ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (httpx.Response(200, text='{"InvoicePayments": [ broken'), "not JSON"),
        (httpx.Response(200, text="<html>maintenance</html>"), "not JSON"),
        (json_response(200, {"Something": []}), "'InvoicePayments'"),
        (json_response(200, {"InvoicePayments": {"a": 1}}), "'InvoicePayments'"),
        (json_response(200, {"InvoicePayments": [], "MetaInformation": "x"}), "MetaInformation"),
        (json_response(200, [1, 2]), "not a JSON object"),
    ],
)
def test_malformed_list_answer(
    make_client: Make, server: FakeFortnox, answer: httpx.Response, why: str
) -> None:
    server.queue("GET", PAYMENTS, answer, answer)  # an answer that is not JSON is asked for once more
    with pytest.raises(MalformedResponse) as caught:
        make_client().list_invoice_payments()
    assert why in str(caught.value) and TENANT in str(caught.value)
    assert caught.value.status is None or caught.value.status == 200


@pytest.mark.parametrize("cut", [1, 17, 40])
def test_a_200_cut_short_is_asked_for_again_and_read(
    make_client: Make, server: FakeFortnox, cut: int
) -> None:
    whole = json.dumps({"InvoicePayment": payment(7)})
    server.queue(
        "GET", f"{PAYMENTS}/7", httpx.Response(200, text=whole[:cut]), httpx.Response(200, text=whole)
    )
    assert make_client().get_invoice_payment("7").number == "7"  # the second answer is whole
    assert [s.path for s in server.seen].count(f"{PAYMENTS}/7") == 2


def test_a_list_page_cut_short_is_asked_for_again(make_client: Make, server: FakeFortnox) -> None:
    server.queue("GET", PAYMENTS, httpx.Response(200, text='{"InvoicePayments": [{"Numb'))
    make_client().list_invoice_payments()
    assert [s.path for s in server.seen].count(PAYMENTS) == 2


def test_record_that_fails_parsing_is_malformed_response(make_client: Make, server: FakeFortnox) -> None:
    bad = {**payment(1), "Amount": "lots"}
    server.queue("GET", f"{PAYMENTS}/1", json_response(200, {"InvoicePayment": bad}))
    with pytest.raises(MalformedResponse) as caught:
        make_client().get_invoice_payment("1")
    assert isinstance(caught.value.__cause__, MalformedRecord)
    assert "InvoicePayment.Amount" in str(caught.value)
    assert "lots" not in str(caught.value)


def test_single_without_its_key_is_malformed(make_client: Make, server: FakeFortnox) -> None:
    server.queue("GET", "/3/companyinformation", json_response(200, {"Company": {}}))
    with pytest.raises(MalformedResponse, match="CompanyInformation"):
        make_client().company_information()


# -- secrets ---------------------------------------------------------------------


def test_no_token_in_any_error_or_log_record(
    make_client: Make, server: FakeFortnox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.payments = [payment(1)]
    errors: list[BaseException] = []
    scenarios: list[tuple[str, str, httpx.Response | Exception]] = [
        ("GET", PAYMENTS, json_response(429, {"message": "Too Many Requests"})),
        ("GET", PAYMENTS, json_response(503, {"message": "down"})),
        ("GET", PAYMENTS, httpx.ReadTimeout("timed out")),
        ("GET", PAYMENTS, json_response(400, envelope(2000587, "Ogiltigt filter", pascal=True))),
        ("POST", PAYMENTS, httpx.ReadTimeout("timed out")),
        ("POST", PAYMENTS, json_response(500, {"message": "boom"})),
        ("GET", f"{PAYMENTS}/1", httpx.Response(200, text="not json")),
    ]
    for method, path, answer in scenarios:
        server.queue(method, path, answer)
    client = make_client(max_retries=1)
    calls: list[Callable[[], object]] = [
        client.list_invoice_payments,
        client.list_invoice_payments,
        lambda: client.create_invoice_payment({"InvoiceNumber": 1}),
        lambda: client.create_invoice_payment({"InvoiceNumber": 1}),
        lambda: client.get_invoice_payment("1"),
    ]
    for call in calls:
        try:
            call()
        except FortnoxError as exc:
            errors.append(exc)
    server.valid_tokens = set()
    try:
        client.get_invoice_payment("1")
    except FortnoxError as exc:
        errors.append(exc)
    assert len(errors) >= 5
    texts = [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [r.getMessage() for r in caplog.records] + [str(r.__dict__) for r in caplog.records]
    assert caplog.records
    for text in texts:
        assert ACCESS_TOKEN not in text and FRESH_TOKEN not in text
        assert "Bearer" not in text and "Authorization" not in text
    assert all(getattr(r, "tenant", None) == TENANT for r in caplog.records if r.name.startswith("fortnox_"))
