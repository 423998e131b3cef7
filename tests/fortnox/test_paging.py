"""Paging by MetaInformation, typed list and single endpoints, query parameters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from fortnox_connector.fortnox.client import PAGE_LIMIT
from fortnox_connector.fortnox.wire import format_lastmodified

from .conftest import FakeFortnox, Make, invoice, json_response, payment


def test_iter_pages_walks_every_page_with_limit_500(make_client: Make, server: FakeFortnox) -> None:
    server.payments = [payment(n) for n in range(1, 1201)]
    client = make_client()
    pages = list(client.iter_pages("/3/invoicepayments", "InvoicePayments", {"lastmodified": "2026-11-01"}))
    assert [p.current_page for p in pages] == [1, 2, 3]
    assert [len(p.items) for p in pages] == [500, 500, 200]
    assert pages[-1].last and not pages[0].last
    assert pages[0].total_resources == 1200
    numbers = [item["Number"] for p in pages for item in p.items]
    assert numbers == [str(n) for n in range(1, 1201)]
    assert [s.params for s in server.seen] == [
        {"limit": str(PAGE_LIMIT), "lastmodified": "2026-11-01", "page": str(n)} for n in (1, 2, 3)
    ]
    assert client.requests_sent == 3


def test_iter_pages_starts_where_asked(make_client: Make, server: FakeFortnox) -> None:
    server.payments = [payment(n) for n in range(1, 1201)]
    pages = list(make_client().iter_pages("/3/invoicepayments", "InvoicePayments", start_page=3))
    assert [p.current_page for p in pages] == [3]


def test_empty_list_is_one_last_page(make_client: Make, server: FakeFortnox) -> None:
    page = make_client().list_invoice_payments()
    assert page.items == () and page.last and page.total_resources == 0


def test_list_without_meta_is_one_page(make_client: Make, server: FakeFortnox) -> None:
    server.queue("GET", "/3/modesofpayments", json_response(200, {"ModesOfPayments": [{"Code": "PG"}]}))
    modes = make_client().modes_of_payment()
    assert [m.code for m in modes] == ["PG"]


def test_list_invoice_payments_is_typed_and_sends_filters(make_client: Make, server: FakeFortnox) -> None:
    server.payments = [payment(n, invoice=42) for n in range(1, 4)]
    since = datetime(2026, 7, 1, 8, 5, 59, tzinfo=UTC)
    page = make_client().list_invoice_payments(lastmodified=since, invoice_number=42, sortby="paymentdate")
    assert [p.number for p in page.items] == ["1", "2", "3"]
    assert page.items[0].amount == Decimal("100.5")
    assert server.seen[0].params == {
        "lastmodified": "2026-07-01 10:05",  # CEST, naive, minutes
        "invoicenumber": "42",
        "sortby": "paymentdate",
        "limit": "500",
        "page": "1",
    }


def test_list_invoices_checks_filter_and_sends_params(make_client: Make, server: FakeFortnox) -> None:
    server.invoices = [invoice(1), invoice(2, balance="10")]
    client = make_client()
    page = client.list_invoices(filter="fullypaid", lastmodified=date(2026, 1, 31), ocr="123", page=1)
    assert [i.document_number for i in page.items] == ["1", "2"]
    assert page.items[0].fully_paid and not page.items[1].fully_paid
    assert server.seen[0].params == {
        "filter": "fullypaid",
        "lastmodified": "2026-01-31",
        "ocr": "123",
        "limit": "500",
        "page": "1",
    }
    with pytest.raises(ValueError, match="filter"):
        client.list_invoices(filter="paid")
    with pytest.raises(ValueError, match="limit"):
        client.list_invoices(limit=501)
    assert client.requests_sent == 1


def test_lastmodified_formats() -> None:
    winter = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)
    assert format_lastmodified(winter) == "2026-01-16 00:30"
    stockholm = datetime(2026, 3, 29, 3, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
    assert format_lastmodified(stockholm) == "2026-03-29 03:00"
    assert format_lastmodified(date(2026, 2, 1)) == "2026-02-01"
    with pytest.raises(ValueError, match="aware"):
        format_lastmodified(datetime(2026, 1, 1, 12, 0))  # noqa: DTZ001 - the point of the test


def test_single_endpoints(make_client: Make, server: FakeFortnox) -> None:
    server.payments = [payment(7, invoice=3)]
    server.invoices = [invoice(3)]
    client = make_client()
    assert client.company_information().database_number == 7
    assert client.get_invoice_payment("7").invoice_number == 3
    assert client.get_invoice("3").document_number == "3"
    assert [m.code for m in client.modes_of_payment()] == ["BG"]
    assert [s.path for s in server.seen] == [
        "/3/companyinformation",
        "/3/invoicepayments/7",
        "/3/invoices/3",
        "/3/modesofpayments",
    ]
    assert all(s.headers["Accept"] == "application/json" for s in server.seen)
    assert all("Content-Type" not in s.headers for s in server.seen)


def test_create_sends_wrapped_body_with_exact_decimals(make_client: Make, server: FakeFortnox) -> None:
    client = make_client()
    created = client.create_invoice_payment(
        {
            "InvoiceNumber": 5,
            "Amount": Decimal("1234.56"),
            "CurrencyRate": Decimal("11.456789"),
            "WriteOffs": [{"AccountNumber": 6570, "Amount": Decimal("5.00")}],
            "PaymentDate": date(2026, 11, 3),
        }
    )
    assert created.number == "1" and created.amount == Decimal("1234.56")
    sent = server.seen[0]
    assert sent.method == "POST" and sent.headers["Content-Type"] == "application/json"
    assert sent.body == (  # money goes out from the Decimal's own digits, never through a float
        b'{"InvoicePayment":{"InvoiceNumber":5,"Amount":1234.56,"CurrencyRate":11.456789,'
        b'"WriteOffs":[{"AccountNumber":6570,"Amount":5.00}],"PaymentDate":"2026-11-03"}}'
    )
    with pytest.raises(ValueError, match="cannot be sent"):
        client.create_invoice_payment({"InvoiceNumber": 5, "Amount": Decimal("NaN")})


def test_bookkeep_and_delete(make_client: Make, server: FakeFortnox) -> None:
    server.payments = [payment(1), payment(2)]
    client = make_client()
    assert client.bookkeep_invoice_payment("1").booked
    assert server.seen[0].method == "PUT" and server.seen[0].body == b""
    client.delete_invoice_payment("2")
    assert [p["Number"] for p in server.payments] == ["1"]


def test_ids_cannot_change_the_path(make_client: Make, server: FakeFortnox) -> None:
    server.queue("GET", "/3/invoices/1/../x", json_response(200, {"Invoice": invoice(1)}))
    make_client().get_invoice("1/../x")
    assert server.seen[0].raw_path == b"/3/invoices/1%2F..%2Fx"


def test_request_returns_none_for_empty_answers(make_client: Make, server: FakeFortnox) -> None:
    server.queue("DELETE", "/3/invoicepayments/9", httpx.Response(204))
    assert make_client().request("DELETE", "/3/invoicepayments/9") is None


@pytest.mark.parametrize("count", [1000, 1001])
def test_a_list_without_meta_information_is_paged_until_a_short_page(
    make_client: Make, server: FakeFortnox, count: int
) -> None:
    """Fortnox documents MetaInformation on every list; if an answer lacks it, a full page is not the last."""
    server.payments = [payment(n) for n in range(1, count + 1)]
    route = server.route

    def without_meta(request: httpx.Request) -> httpx.Response:
        answer = route(request)
        body = answer.json()
        body.pop("MetaInformation", None)
        return json_response(answer.status_code, body)

    server.route = without_meta  # type: ignore[method-assign]
    pages = list(make_client().iter_pages("/3/invoicepayments", "InvoicePayments"))
    numbers = [item["Number"] for p in pages for item in p.items]
    assert numbers == [str(n) for n in range(1, count + 1)]  # nothing after the first 500 is skipped
    assert [p.total_resources for p in pages] == sorted(p.total_resources for p in pages)  # never shrinks
    assert pages[-1].last
