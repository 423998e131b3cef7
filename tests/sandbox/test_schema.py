"""Sandbox bodies validate against the official Fortnox schemas (copied into fortnox-openapi/ here).

OpenAPI 3.0 has no ``null`` type without ``nullable``; Fortnox sends ``null`` for unset values (FinalPayDate
while unpaid, voucher fields before booking), so every typed property here also accepts null. Schemas the
extract does not contain (EDI, e-mail, rows, tags) are open stubs: the sandbox never sends those objects.
One recorded drift is allowed on purpose: a payment's ``CurrencyRate`` sometimes comes as a string.
"""

from __future__ import annotations

import copy
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
