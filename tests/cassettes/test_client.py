"""FortnoxClient over recorded HTTP: company information, paging, filters, single items, writes, errors."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from fortnox_connector.fortnox.errors import (
    AmbiguousWrite,
    FortnoxUnauthorized,
    FortnoxUnavailable,
    FortnoxValidationError,
    MissingScope,
    NotFound,
    RateLimited,
)
from fortnox_connector.fortnox.records import InvoicePayment
from tests.cassettes.target import START, TEST_INVOICE_DATE, TEST_INVOICE_TOTAL, Target

pytestmark = pytest.mark.vcr


def test_company_information(target: Target) -> None:
    with target.client() as client:
        info = client.company_information()
    assert info.database_number is not None and info.database_number > 0
    assert info.company_name
    assert client.requests_sent == 1


def test_paging_invoice_payments_sees_each_payment_once(target: Target) -> None:
    with target.client() as client:
        pages = list(client.iter_pages("/3/invoicepayments", "InvoicePayments", {"limit": 7}))
    numbers = [str(item["Number"]) for page in pages for item in page.items]
    assert len(pages) == pages[0].total_pages >= 2
    assert [p.current_page for p in pages] == list(range(1, len(pages) + 1))
    assert len(numbers) == len(set(numbers)) == pages[0].total_resources
    assert client.requests_sent == len(pages)


def test_typed_payment_page_since_lastmodified(target: Target) -> None:
    with target.client() as client:
        page = client.list_invoice_payments(lastmodified=START - timedelta(days=60), limit=500)
    assert page.items, "the seeded tenant has payments modified in the last 60 days"
    for payment in page.items:
        assert isinstance(payment, InvoicePayment)
        assert isinstance(payment.amount, Decimal) and isinstance(payment.payment_date, date)


def test_invoices_with_a_filter(target: Target) -> None:
    with target.client() as client:
        paid = client.list_invoices(filter="fullypaid")
        unpaid = client.list_invoices(filter="unpaid")
    assert paid.items and unpaid.items
    assert all(inv.balance == 0 and not inv.cancelled for inv in paid.items)
    assert all(inv.balance != 0 for inv in unpaid.items)
    assert not {i.document_number for i in paid.items} & {i.document_number for i in unpaid.items}


def test_a_single_payment_matches_its_list_item(target: Target) -> None:
    with target.client() as client:
        listed = client.list_invoice_payments(limit=1).items[0]
        single = client.get_invoice_payment(listed.number)
    assert single.number == listed.number and single.invoice_number == listed.invoice_number
    assert single.amount == listed.amount and single.payment_date == listed.payment_date
    assert single.complete


def test_create_and_bookkeep_a_payment(target: Target) -> None:
    invoice = target.test_invoice()
    with target.client() as client:
        before = client.get_invoice(invoice)
        created = client.create_invoice_payment(
            {
                "InvoiceNumber": int(invoice),
                "Amount": Decimal("250.50"),
                "AmountCurrency": Decimal("250.50"),
                "PaymentDate": date(2026, 3, 1),
                "ModeOfPayment": "BG",
                "ModeOfPaymentAccount": 1930,
            }
        )
        booked = client.bookkeep_invoice_payment(created.number)
        after = client.get_invoice(invoice)
    assert created.invoice_number == int(invoice) and created.amount == Decimal("250.50")
    assert not created.booked
    assert booked.number == created.number and booked.booked and booked.voucher_number is not None
    assert before.balance >= TEST_INVOICE_TOTAL
    assert after.balance == before.balance - Decimal("250.50")


# -- error shapes -------------------------------------------------------------------------------


def test_unknown_invoice_is_not_found(target: Target) -> None:
    with target.client() as client, pytest.raises(NotFound) as caught:
        client.get_invoice("99999999")
    assert caught.value.status == 404


def test_payment_before_the_invoice_date_is_a_validation_error(target: Target) -> None:
    invoice = target.test_invoice()
    with target.client() as client, pytest.raises(FortnoxValidationError) as caught:
        client.create_invoice_payment(
            {"InvoiceNumber": int(invoice), "PaymentDate": TEST_INVOICE_DATE - timedelta(days=5)}
        )
    assert caught.value.status == 400 and caught.value.fortnox_message


def test_a_rejected_fixed_token_is_not_sent_again(target: Target) -> None:
    with target.client("not-a-valid-token") as client, pytest.raises(FortnoxUnauthorized) as caught:
        client.company_information()
    assert caught.value.status == 401
    assert client.requests_sent == 1  # a fixed token has no successor: a second try would fail the same way
    assert "not-a-valid-token" not in str(caught.value)


def test_a_token_without_the_scope_is_missing_scope(target: Target) -> None:
    target.sandbox_only("a token with fewer scopes")
    with target.client(target.access_token(scopes=("invoice",))) as client, pytest.raises(MissingScope) as e:
        client.list_invoice_payments()
    assert e.value.status == 403 and "payment" in str(e.value)


def test_429s_are_retried_until_the_answer_comes(target: Target) -> None:
    sb = target.sandbox_only("fault injection")
    if sb is not None:
        sb.inject_fault("429", count=2)
    with target.client() as client:
        client.company_information()
    assert client.throttled_responses == 2 and client.requests_sent == 3  # every HTTP request counts


def test_429s_past_the_retry_budget_raise_rate_limited(target: Target) -> None:
    sb = target.sandbox_only("fault injection")
    if sb is not None:
        sb.inject_fault("429", count=10)
    with target.client() as client, pytest.raises(RateLimited):
        client.company_information()
    assert client.throttled_responses == 6  # the first try and five retries


def test_a_5xx_storm_on_a_read_ends_unavailable(target: Target) -> None:
    sb = target.sandbox_only("fault injection")
    if sb is not None:
        sb.inject_fault("500", count=10)
    with target.client() as client, pytest.raises(FortnoxUnavailable) as caught:
        client.get_invoice("1")
    assert caught.value.status == 500 and caught.value.code == 1000003
    assert client.requests_sent == 6


def test_a_5xx_on_a_post_is_ambiguous_and_not_retried(target: Target) -> None:
    sb = target.sandbox_only("fault injection")
    invoice = target.test_invoice()
    if sb is not None:
        sb.inject_fault("503", count=1, method="POST")
    with target.client() as client, pytest.raises(AmbiguousWrite):
        client.create_invoice_payment({"InvoiceNumber": int(invoice), "PaymentDate": date(2026, 3, 1)})
    assert client.requests_sent == 1
