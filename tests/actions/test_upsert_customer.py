"""upsert_customer against the sandbox: found by source id, organisation number or e-mail; created once."""

from __future__ import annotations

from typing import Any

import pytest

from fortnox_connector.actions import export_invoice, upsert_customer
from fortnox_connector.context import TenantContext
from fortnox_connector.fortnox.errors import AmbiguousWrite, MissingLicence
from fortnox_connector.sandbox import Sandbox
from tests.actions.support import Recorder


def customer(source_id: str = "sf-cust-42", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source_id": source_id,
        "name": "Kalles Cykel GmbH",
        "organisation_number": "DE123456789",
        "vat_number": "DE123456789",
        "vat_type": "EUVAT",
        "email": "billing@kalles.example",
        "country_code": "DE",
        "currency": "EUR",
        "terms_of_payment": "30",
    }
    data.update(extra)
    return data


def ours(sandbox: Sandbox, tenant: int, source_id: str = "sf-cust-42") -> list[dict[str, Any]]:
    return [c for c in sandbox.customers(tenant) if c["ExternalReference"] == source_id]


def test_a_new_customer_is_created_with_the_source_id_as_external_reference(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    out = upsert_customer.run(ctx, customer())
    [stored] = ours(sandbox, sandbox_tenant)
    assert out == {
        "customer_number": stored["CustomerNumber"],
        "source_id": "sf-cust-42",
        "created": True,
        "matched_by": "created",
        "updated_fields": [],
    }
    assert (stored["VATType"], stored["Currency"], stored["CountryCode"]) == ("EUVAT", "EUR", "DE")


def test_running_again_changes_nothing_and_posts_nothing(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    first = upsert_customer.run(ctx, customer())
    calls = len(recorder.calls)
    again = upsert_customer.run(ctx, customer())
    assert again["customer_number"] == first["customer_number"] and again["created"] is False
    assert again["matched_by"] == "mapping" and again["updated_fields"] == []
    assert recorder.calls[calls:] == [f"GET /3/customers/{first['customer_number']}"]
    assert len(ours(sandbox, sandbox_tenant)) == 1


def test_changed_fields_are_updated(ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int) -> None:
    upsert_customer.run(ctx, customer())
    out = upsert_customer.run(ctx, customer(email="ap@kalles.example", terms_of_payment="10"))
    assert out["updated_fields"] == ["Email", "TermsOfPayment"]
    [stored] = ours(sandbox, sandbox_tenant)
    assert stored["Email"] == "ap@kalles.example" and stored["TermsOfPayment"] == "10"


def test_an_existing_customer_with_the_organisation_number_is_adopted(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    existing = sandbox.add_customer(sandbox_tenant, Name="Kalles Cykel", OrganisationNumber="DE123456789")
    out = upsert_customer.run(ctx, customer())
    assert out["customer_number"] == existing["CustomerNumber"] and out["matched_by"] == "organisation_number"
    assert "ExternalReference" in out["updated_fields"] and recorder.posts() == 0


def test_a_customer_of_another_source_id_is_not_taken(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    sandbox.add_customer(sandbox_tenant, Name="Kalles Cykel GmbH", ExternalReference="sf-cust-7")
    out = upsert_customer.run(ctx, customer(organisation_number=None, email=None))
    assert out["created"] is True and len(ours(sandbox, sandbox_tenant)) == 1


def test_a_lost_answer_to_the_create_is_found_by_the_source_id(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int, recorder: Recorder
) -> None:
    sandbox.inject_fault("drop_response", count=1, path_prefix="/3/customers", method="POST")
    out = upsert_customer.run(ctx, customer())
    [stored] = ours(sandbox, sandbox_tenant)
    assert out["customer_number"] == stored["CustomerNumber"] and recorder.posts() == 1


def test_a_create_that_never_arrived_asks_to_run_again_and_then_creates_once(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    sandbox.inject_fault("drop", count=1, path_prefix="/3/customers", method="POST")
    with pytest.raises(AmbiguousWrite, match="sf-cust-42"):
        upsert_customer.run(ctx, customer())
    upsert_customer.run(ctx, customer())
    assert len(ours(sandbox, sandbox_tenant)) == 1


def test_export_invoice_upserts_its_customer(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    data = {
        "idempotency_key": "k",
        "source_invoice_number": "SF-9",
        "customer": customer(),
        "invoice_date": "2026-03-01",
        "currency": "EUR",
        "rows": [{"description": "Plan", "quantity": "1", "price": "10.00", "vat": "0"}],
    }
    out = export_invoice.run(ctx, data)
    [stored] = ours(sandbox, sandbox_tenant)
    assert out["customer_number"] == stored["CustomerNumber"] and out["customer_created"] is True


def test_a_company_without_the_customer_licence_gets_the_fix(
    ctx: TenantContext, sandbox: Sandbox, sandbox_tenant: int
) -> None:
    sandbox.set_licences(sandbox_tenant, ["invoice", "payment", "companyinformation", "settings"])
    with pytest.raises(MissingLicence) as caught:
        upsert_customer.run(ctx, customer())
    assert caught.value.tenant == str(sandbox_tenant) and "customer sf-cust-42" in str(caught.value)
