"""The /3/ resources over loopback HTTP: paging, filters, lastmodified, payment rules, bookkeep, delete."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import httpx
import pytest

from fortnox_connector.sandbox import Sandbox


@pytest.fixture
def api(sandbox: Sandbox, sandbox_token: Callable[..., str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {sandbox_token()}"}
    with httpx.Client(base_url=sandbox.base_url, headers=headers) as client:
        yield client


def code_of(r: httpx.Response) -> int:
    return int(r.json()["ErrorInformation"]["Code"])


def test_company_information_has_database_number(sandbox: Sandbox, api: httpx.Client) -> None:
    info = api.get("/3/companyinformation").json()["CompanyInformation"]
    assert info["DatabaseNumber"] == sandbox.tenant_ids()[0]


def test_payments_paging_covers_every_payment_once(sandbox: Sandbox, api: httpx.Client) -> None:
    tenant = sandbox.tenant_ids()[0]
    expected = {p["Number"] for p in sandbox.payments(tenant)}
    seen: list[str] = []
    page = 1
    while True:
        body = api.get("/3/invoicepayments", params={"limit": 7, "page": page}).json()
        meta = body["MetaInformation"]
        assert meta["@TotalResources"] == len(expected) and meta["@CurrentPage"] == page
        seen += [p["Number"] for p in body["InvoicePayments"]]
        if page >= meta["@TotalPages"]:
            break
        page += 1
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    assert api.get("/3/invoicepayments", params={"limit": 501}).status_code == 400
    assert len(api.get("/3/invoicepayments", params={"limit": 500}).json()["InvoicePayments"]) == len(
        expected
    )


def test_payment_type_quirks(api: httpx.Client) -> None:
    listed = api.get("/3/invoicepayments").json()["InvoicePayments"][0]
    single = api.get(f"/3/invoicepayments/{listed['Number']}").json()["InvoicePayment"]
    assert isinstance(listed["Number"], str)
    assert isinstance(listed["InvoiceTotal"], int | float) and isinstance(single["InvoiceTotal"], str)
    assert isinstance(listed["ModeOfPaymentAccount"], str) and isinstance(single["ModeOfPaymentAccount"], int)
    rates = [
        p["CurrencyRate"]
        for p in api.get("/3/invoicepayments", params={"limit": 500}).json()["InvoicePayments"]
    ]
    assert any(isinstance(r, str) for r in rates) and any(not isinstance(r, str) for r in rates)
    sources = {
        p["Source"] for p in api.get("/3/invoicepayments", params={"limit": 500}).json()["InvoicePayments"]
    }
    assert sources - {"manual", "direct"}


def test_invoice_filters(sandbox: Sandbox, api: httpx.Client) -> None:
    def numbers(flt: str) -> set[str]:
        return {
            i["DocumentNumber"] for i in api.get("/3/invoices", params={"filter": flt}).json()["Invoices"]
        }

    invoices = api.get("/3/invoices", params={"limit": 500}).json()["Invoices"]
    assert {i["Currency"] for i in invoices} == {"SEK", "EUR", "USD"}
    assert {i["Credit"] for i in invoices} == {"true", "false"}
    cancelled, paid, unpaid = numbers("cancelled"), numbers("fullypaid"), numbers("unpaid")
    assert cancelled and paid and unpaid
    assert not (paid & unpaid) and not (cancelled & unpaid)
    for inv in invoices:
        if inv["DocumentNumber"] in paid:
            assert inv["Balance"] == 0 and inv["FinalPayDate"]
    overdue = numbers("unpaidoverdue")
    assert overdue <= unpaid
    assert numbers("unbooked")
    bad = api.get("/3/invoices", params={"filter": "paid"})
    assert bad.status_code == 400 and code_of(bad) == 2000587


def test_invoice_single_and_not_found(sandbox: Sandbox, api: httpx.Client) -> None:
    inv = sandbox.add_invoice(sandbox.tenant_ids()[0], Total="99.50", OCR="123455")
    got = api.get(f"/3/invoices/{inv['DocumentNumber']}").json()["Invoice"]
    assert got["Total"] == 99.5 and got["OCR"] == "123455"
    by_ocr = api.get("/3/invoices", params={"ocr": "123455"}).json()["Invoices"]
    assert [i["DocumentNumber"] for i in by_ocr] == [inv["DocumentNumber"]]
    by_no = api.get("/3/invoices", params={"documentnumber": inv["DocumentNumber"]}).json()["Invoices"]
    assert len(by_no) == 1
    missing = api.get("/3/invoices/999999")
    assert missing.status_code == 404 and code_of(missing) == 2000434


def test_invoice_date_range(sandbox: Sandbox, api: httpx.Client) -> None:
    tenant = sandbox.tenant_ids()[0]
    sandbox.add_invoice(tenant, InvoiceDate="2020-01-05")
    sandbox.add_invoice(tenant, InvoiceDate="2020-02-05")
    got = api.get("/3/invoices", params={"fromdate": "2020-01-01", "todate": "2020-01-31"}).json()["Invoices"]
    assert [i["InvoiceDate"] for i in got] == ["2020-01-05"]


def test_lastmodified_compares_naive_stockholm_time(sandbox: Sandbox, api: httpx.Client) -> None:
    tenant = sandbox.tenant_ids()[0]
    inv = sandbox.add_invoice(tenant, InvoiceDate="2026-02-01", Total="300")
    sandbox.advance(1800)  # now 2026-03-02 10:30 Stockholm (09:30 UTC): a UTC reading of 10:15 would miss it
    pay = sandbox.add_payment(tenant, inv["DocumentNumber"], AmountCurrency="100", PaymentDate="2026-03-02")
    since = api.get("/3/invoicepayments", params={"lastmodified": "2026-03-02 10:15"}).json()[
        "InvoicePayments"
    ]
    assert [p["Number"] for p in since] == [pay["Number"]]
    invs = api.get("/3/invoices", params={"lastmodified": "2026-03-02 10:15"}).json()["Invoices"]
    assert [i["DocumentNumber"] for i in invs] == [inv["DocumentNumber"]]  # a payment touches its invoice
    later = api.get("/3/invoicepayments", params={"lastmodified": "2026-03-02 10:31"}).json()[
        "InvoicePayments"
    ]
    assert later == []
    day = api.get("/3/invoicepayments", params={"lastmodified": "2026-03-02"}).json()["InvoicePayments"]
    assert pay["Number"] in {p["Number"] for p in day}
    bad = api.get("/3/invoicepayments", params={"lastmodified": "yesterday"})
    assert bad.status_code == 400


def test_payments_by_invoice_and_sorted_by_payment_date(sandbox: Sandbox, api: httpx.Client) -> None:
    tenant = sandbox.tenant_ids()[0]
    inv = sandbox.add_invoice(tenant, InvoiceDate="2026-01-01", Total="300")
    sandbox.add_payment(tenant, inv["DocumentNumber"], AmountCurrency="100", PaymentDate="2026-02-10")
    sandbox.add_payment(tenant, inv["DocumentNumber"], AmountCurrency="100", PaymentDate="2026-01-10")
    got = api.get(
        "/3/invoicepayments", params={"invoicenumber": inv["DocumentNumber"], "sortby": "paymentdate"}
    )
    assert [p["PaymentDate"] for p in got.json()["InvoicePayments"]] == ["2026-01-10", "2026-02-10"]


def post_payment(api: httpx.Client, **fields: object) -> httpx.Response:
    return api.post("/3/invoicepayments", json={"InvoicePayment": fields})


def test_post_payment_lowers_balance_and_marks_fully_paid(sandbox: Sandbox, api: httpx.Client) -> None:
    tenant = sandbox.tenant_ids()[0]
    inv = sandbox.add_invoice(tenant, InvoiceDate="2026-02-01", Total="1000.00")
    no = int(inv["DocumentNumber"])
    first = post_payment(api, InvoiceNumber=no, Amount=400.10, PaymentDate="2026-02-20", ModeOfPayment="BG")
    assert first.status_code == 201
    body = first.json()["InvoicePayment"]
    assert body["Amount"] == 400.1 and body["Booked"] is False and body["ModeOfPaymentAccount"] == 1930
    assert Decimal(str(sandbox.invoice(tenant, no)["Balance"])) == Decimal("599.90")
    assert sandbox.invoice(tenant, no)["FinalPayDate"] is None
    second = post_payment(api, InvoiceNumber=no, Amount=599.90, PaymentDate="2026-02-25")
    assert second.status_code == 201
    final = api.get(f"/3/invoices/{no}").json()["Invoice"]
    assert final["Balance"] == 0 and final["FinalPayDate"] == "2026-02-25"
    paid = {
        i["DocumentNumber"] for i in api.get("/3/invoices", params={"filter": "fullypaid"}).json()["Invoices"]
    }
    assert str(no) in paid


def test_post_payment_in_foreign_currency(sandbox: Sandbox, api: httpx.Client) -> None:
    tenant = sandbox.tenant_ids()[0]
    inv = sandbox.add_invoice(
        tenant, InvoiceDate="2026-02-01", Total="100", Currency="EUR", CurrencyRate="11.5"
    )
    r = post_payment(
        api,
        InvoiceNumber=int(inv["DocumentNumber"]),
        AmountCurrency=100,
        Amount=1150,
        Currency="EUR",
        PaymentDate="2026-02-02",
    )
    assert r.status_code == 201 and r.json()["InvoicePayment"]["Currency"] == "EUR"
    assert sandbox.invoice(tenant, inv["DocumentNumber"])["Balance"] == 0
    wrong = post_payment(api, InvoiceNumber=int(inv["DocumentNumber"]), Amount=10, Currency="SEK")
    assert wrong.status_code == 400 and code_of(wrong) == 2000760


def test_post_payment_rules(sandbox: Sandbox, api: httpx.Client) -> None:
    tenant = sandbox.tenant_ids()[0]
    inv = sandbox.add_invoice(tenant, InvoiceDate="2026-02-10", Total="100")
    early = post_payment(api, InvoiceNumber=int(inv["DocumentNumber"]), Amount=10, PaymentDate="2026-02-09")
    assert early.status_code == 400 and code_of(early) == 2000630
    assert "Betalningsdatum" in early.json()["ErrorInformation"]["Message"]
    missing = post_payment(api, InvoiceNumber=999999, Amount=10)
    assert missing.status_code == 404 and code_of(missing) == 2000434
    broken = api.post(
        "/3/invoicepayments", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and code_of(broken) == 2002115
    assert sandbox.invoice(tenant, inv["DocumentNumber"])["Balance"] == 100
    odd = post_payment(api, InvoiceNumber=int(inv["DocumentNumber"]), Amount=10, Colour="blue")
    assert odd.status_code == 400 and code_of(odd) == 2001399


def test_post_payment_accepts_echoed_schema_fields(sandbox: Sandbox, api: httpx.Client) -> None:
    inv = sandbox.add_invoice(sandbox.tenant_ids()[0], InvoiceDate="2026-02-10", Total="100")
    r = post_payment(
        api,
        InvoiceNumber=int(inv["DocumentNumber"]),
        Amount="25.50",
        Number="77",
        Booked=True,
        WriteOffs=[],
        Source="file",
        ModeOfPaymentAccount="1920",
        ModeOfPayment="PG",
        PaymentDate="2026-02-11",
    )
    assert r.status_code == 201
    body = r.json()["InvoicePayment"]
    assert body["Number"] != "77" and body["Booked"] is False and body["Source"] == "file"
    assert body["Amount"] == 25.5 and body["ModeOfPaymentAccount"] == 1920


def test_bookkeep_and_delete(sandbox: Sandbox, api: httpx.Client) -> None:
    tenant = sandbox.tenant_ids()[0]
    inv = sandbox.add_invoice(tenant, InvoiceDate="2026-02-01", Total="100")
    a = post_payment(api, InvoiceNumber=int(inv["DocumentNumber"]), Amount=30).json()["InvoicePayment"]
    b = post_payment(api, InvoiceNumber=int(inv["DocumentNumber"]), Amount=20).json()["InvoicePayment"]
    booked = api.put(f"/3/invoicepayments/{a['Number']}/bookkeep").json()["InvoicePayment"]
    assert booked["Booked"] is True and booked["VoucherSeries"] and booked["VoucherNumber"] >= 1
    refused = api.delete(f"/3/invoicepayments/{a['Number']}")
    assert refused.status_code == 400 and code_of(refused) == 2000690
    gone = api.delete(f"/3/invoicepayments/{b['Number']}")
    assert gone.status_code == 204 and gone.content == b""
    assert api.get(f"/3/invoicepayments/{b['Number']}").status_code == 404
    assert sandbox.invoice(tenant, inv["DocumentNumber"])["Balance"] == 70


def test_modes_of_payment(api: httpx.Client) -> None:
    modes = api.get("/3/modesofpayments").json()["ModesOfPayments"]
    by_code = {m["Code"]: m["AccountNumber"] for m in modes}
    assert {"BG", "PG", "KONT"} <= set(by_code) and by_code["BG"] == 1930


def test_keep_alive_serves_many_requests_on_one_connection(api: httpx.Client) -> None:
    for _ in range(5):
        assert api.get("/3/companyinformation").status_code == 200


def test_seeding_is_deterministic() -> None:
    from fortnox_connector.sandbox import SandboxOptions

    from ..conftest import SANDBOX_START

    opts = SandboxOptions(seed=7, start=SANDBOX_START, frozen_clock=True)
    one, two = Sandbox(opts), Sandbox(opts)
    tenant = one.tenant_ids()[0]
    assert one.payments(tenant) == two.payments(tenant)


def test_bulk_seed_100k_payments_is_quick(sandbox: Sandbox, api: httpx.Client) -> None:
    tenant = sandbox.tenant_ids()[0]
    before = len(sandbox.payments(tenant))
    sandbox.seed_payments(tenant, 100_000)
    meta = api.get("/3/invoicepayments", params={"limit": 500, "page": 3}).json()["MetaInformation"]
    assert meta["@TotalResources"] == before + 100_000
