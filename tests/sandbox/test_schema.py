"""Sandbox bodies validate against the official Fortnox schemas (copied into fortnox-openapi/ here).

OpenAPI 3.0 has no ``null`` type without ``nullable``; Fortnox sends ``null`` for unset values (FinalPayDate
while unpaid, voucher fields before booking), so every typed property here also accepts null. Schemas the
extract does not contain (EDI, e-mail, rows, tags) are open stubs: the sandbox never sends those objects.
One recorded drift is allowed on purpose: a payment's ``CurrencyRate`` sometimes comes as a string.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator

from fortnox_connector.sandbox import Sandbox

SCHEMAS = Path(__file__).parent / "fortnox-openapi" / "all_extracted_schemas.json"
MISSING = (
    "fortnox_DocumentEDIFieldSingleItem",
    "fortnox_DocumentEmailFieldSingleItem",
    "fortnox_Kf_InvoiceRowSingleItem",
    "fortnox_OOF_DocumentTagsOnDocumentSingleItem",
)


def _nullable(node: Any) -> None:
    if isinstance(node, dict):
        for prop in node.get("properties", {}).values():
            if isinstance(prop, dict) and isinstance(prop.get("type"), str):
                prop["type"] = [prop["type"], "null"]
        for value in node.values():
            _nullable(value)
    elif isinstance(node, list):
        for value in node:
            _nullable(value)


@functools.cache
def validator(name: str) -> Draft7Validator:
    components = copy.deepcopy(json.loads(SCHEMAS.read_text(encoding="utf-8"))["components"])
    for missing in MISSING:
        components["schemas"].setdefault(missing, {"type": "object"})
    _nullable(components)
    for item in ("fortnox_Kf_InvoicePaymentListItem", "fortnox_Kf_InvoicePaymentSingleItem"):
        components["schemas"][item]["properties"]["CurrencyRate"]["type"].append("string")
    return Draft7Validator({"$ref": f"#/components/schemas/{name}", "components": components})


def check(name: str, body: Any) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(name).iter_errors(body)]
    assert errors == []


@pytest.fixture
def api(sandbox: Sandbox, sandbox_token: Callable[..., str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {sandbox_token()}"}) as c:
        yield c


def test_the_validator_catches_a_wrong_type() -> None:
    bad = {
        "InvoicePayment": {"InvoiceNumber": 1, "InvoiceTotal": 12.5}
    }  # a number where the single item has a string
    assert list(validator("fortnox_Kf_InvoicePaymentSingleItem_Wrap").iter_errors(bad))


def test_payment_list_and_single_match_the_schema(api: httpx.Client) -> None:
    listing = api.get("/3/invoicepayments", params={"limit": 500}).json()
    check("fortnox_Kf_InvoicePaymentListItem_Wrap", listing)
    for item in listing["InvoicePayments"][:25]:
        single = api.get(f"/3/invoicepayments/{item['Number']}").json()
        check("fortnox_Kf_InvoicePaymentSingleItem_Wrap", single)


def test_invoice_list_and_single_match_the_schema(api: httpx.Client) -> None:
    listing = api.get("/3/invoices", params={"limit": 500}).json()
    check("fortnox_Kf_InvoiceListResponse_Wrap", listing)
    check("fortnox_MetaInformation", listing["MetaInformation"])
    for item in listing["Invoices"][:25]:
        check("fortnox_Kf_InvoiceResponse_Wrap", api.get(f"/3/invoices/{item['DocumentNumber']}").json())


def test_created_and_booked_payment_match_the_schema(sandbox: Sandbox, api: httpx.Client) -> None:
    inv = sandbox.add_invoice(sandbox.tenant_ids()[0], InvoiceDate="2026-01-01", Total="10")
    payload = {
        "InvoicePayment": {
            "InvoiceNumber": int(inv["DocumentNumber"]),
            "Amount": 10,
            "PaymentDate": "2026-01-02",
        }
    }
    check("fortnox_Kf_InvoicePaymentSinglePayloadItem_Wrap", payload)
    created = api.post("/3/invoicepayments", json=payload).json()
    check("fortnox_Kf_InvoicePaymentSingleItem_Wrap", created)
    booked = api.put(f"/3/invoicepayments/{created['InvoicePayment']['Number']}/bookkeep").json()
    check("fortnox_Kf_InvoicePaymentSingleItem_Wrap", booked)


def test_error_body_matches_the_schema(api: httpx.Client) -> None:
    body = api.get("/3/invoices/987654").json()
    check("fortnox_ErrorInformation_Wrap", body)
    assert set(body["ErrorInformation"]) == {"Error", "Message", "Code"}


def _as(sandbox: Sandbox, tenant: int) -> httpx.Client:
    token = sandbox.issue_token(tenant)["access_token"]
    return httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {token}"})


def test_every_seeded_record_of_every_tenant_matches_the_schema(sandbox: Sandbox) -> None:
    for tenant in sandbox.tenant_ids():
        with _as(sandbox, tenant) as c:
            payments = c.get("/3/invoicepayments", params={"limit": 7, "page": 2}).json()
            check("fortnox_Kf_InvoicePaymentListItem_Wrap", payments)
            check("fortnox_MetaInformation", payments["MetaInformation"])
            for item in c.get("/3/invoicepayments", params={"limit": 500}).json()["InvoicePayments"]:
                check(
                    "fortnox_Kf_InvoicePaymentSingleItem_Wrap",
                    c.get(f"/3/invoicepayments/{item['Number']}").json(),
                )
            for flt in ("fullypaid", "unpaid", "unpaidoverdue", "cancelled", "unbooked"):
                check(
                    "fortnox_Kf_InvoiceListResponse_Wrap", c.get("/3/invoices", params={"filter": flt}).json()
                )
            for item in c.get("/3/invoices", params={"limit": 500}).json()["Invoices"]:
                check(
                    "fortnox_Kf_InvoiceResponse_Wrap", c.get(f"/3/invoices/{item['DocumentNumber']}").json()
                )


def test_records_made_by_the_control_api_match_the_schema(sandbox: Sandbox) -> None:
    """An EUR invoice paid in full (FinalPayDate set), a string rate, a credit and a cancelled invoice."""
    tenant = sandbox.tenant_ids()[0]
    eur = sandbox.add_invoice(
        tenant, Total="100", Currency="EUR", CurrencyRate="11.25", InvoiceDate="2026-01-01"
    )
    sandbox.add_payment(
        tenant, eur["DocumentNumber"], AmountCurrency="100", PaymentDate="2026-01-05", rate_as_string=True
    )
    credit = sandbox.add_invoice(tenant, Total="-50", Credit=True, InvoiceDate="2026-01-01")
    cancelled = sandbox.add_invoice(tenant, Total="75", Cancelled=True, InvoiceDate="2026-01-01")
    with _as(sandbox, tenant) as c:
        paid = c.get(f"/3/invoices/{eur['DocumentNumber']}").json()
        assert paid["Invoice"]["FinalPayDate"] == "2026-01-05"
        for doc in (eur, credit, cancelled):
            check("fortnox_Kf_InvoiceResponse_Wrap", c.get(f"/3/invoices/{doc['DocumentNumber']}").json())
        listing = c.get("/3/invoicepayments", params={"invoicenumber": eur["DocumentNumber"]}).json()
        check("fortnox_Kf_InvoicePaymentListItem_Wrap", listing)
        [item] = listing["InvoicePayments"]
        check(
            "fortnox_Kf_InvoicePaymentSingleItem_Wrap", c.get(f"/3/invoicepayments/{item['Number']}").json()
        )


def test_every_error_the_sandbox_sends_matches_the_schema(sandbox: Sandbox) -> None:
    tenant = sandbox.tenant_ids()[0]
    inv = sandbox.add_invoice(tenant, Total="10", InvoiceDate="2026-02-01")
    payload = {"InvoicePayment": {"InvoiceNumber": int(inv["DocumentNumber"]), "PaymentDate": "2026-01-01"}}
    with _as(sandbox, tenant) as c:
        answers = [
            c.get("/3/invoices/987654"),
            c.get("/3/invoicepayments/987654"),
            c.get("/3/invoices", params={"filter": "paid"}),
            c.get("/3/invoices", params={"limit": 501}),
            c.post("/3/invoicepayments", json=payload),
            c.post("/3/invoicepayments", content=b"{not json", headers={"Content-Type": "application/json"}),
        ]
        sandbox.set_licences(tenant, ["invoice"])
        answers.append(c.get("/3/invoicepayments"))
    narrow = sandbox.issue_token(tenant, ("invoice",))["access_token"]
    answers.append(
        httpx.get(f"{sandbox.base_url}/3/invoicepayments", headers={"Authorization": f"Bearer {narrow}"})
    )
    codes = []
    for answer in answers:
        assert answer.status_code >= 400
        check("fortnox_ErrorInformation_Wrap", answer.json())
        codes.append(answer.json()["ErrorInformation"]["Code"])
    assert {2000434, 2001101, 2000663, 2002115} <= set(codes)


def test_a_created_and_a_booked_invoice_match_the_schema(api: httpx.Client) -> None:
    body = {
        "Invoice": {
            "CustomerNumber": "1",
            "Currency": "EUR",
            "ExternalInvoiceReference1": "SCHEMA-1",
            "InvoiceRows": [{"Description": "x", "DeliveredQuantity": 2, "Price": 10.5, "VAT": 25}],
        }
    }
    created = api.post("/3/invoices", json=body)
    assert created.status_code == 201
    check("fortnox_Kf_InvoiceResponse_Wrap", created.json())
    number = created.json()["Invoice"]["DocumentNumber"]
    booked = api.put(f"/3/invoices/{number}/bookkeep")
    check("fortnox_Kf_InvoiceResponse_Wrap", booked.json())
    listing = api.get("/3/invoices", params={"externalinvoicereference1": "SCHEMA-1"}).json()
    check("fortnox_Kf_InvoiceListResponse_Wrap", listing)
    assert [i["DocumentNumber"] for i in listing["Invoices"]] == [number]
