"""Action ``upsert_customer``: the Fortnox customer of a source system's customer, created or updated.

The source's id is kept in the customer's ``ExternalReference`` (a free-text customer field meant for a
reference in another system; Fortnox cannot search on it, docs/export.md), and the mapping id → customer
number in the connector's state. Finding a customer, under the lock ``customer:{tenant}:{source_id}``:

1. the mapping, checked by reading the customer (it may have been deleted or re-used);
2. Fortnox's search by organisation number, e-mail and name (exact matches only), each candidate read
   whole: one whose ``ExternalReference`` is the source id is ours; failing that, one without a reference
   that has the same organisation number or e-mail is adopted (a name alone never adopts: names collide);
3. otherwise it is created. A lost answer to that POST is resolved by step 2 before anything is posted
   again, so the customer exists once however often the action runs or crashes.

Fields the input gives and Fortnox has differently are updated (one PUT); fields it leaves out stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.export_input import UPPERCASE, CustomerRequest, read_customer
from fortnox_connector.contract.state import IdempotencyRecord
from fortnox_connector.fortnox import invoicing
from fortnox_connector.fortnox.errors import AmbiguousWrite, FortnoxError, NotFound

if TYPE_CHECKING:
    from fortnox_connector.context import TenantContext


def mapping_key(source_id: str) -> str:
    """The idempotency-store key that maps a source customer id to its Fortnox customer number."""
    return f"customer-source:{source_id}"


def run(ctx: TenantContext, input: Mapping[str, Any]) -> Mapping[str, Any]:
    """Create or update the customer ``input`` describes (docs/export.md); its number and what changed."""
    return upsert(ctx, read_customer(input, ctx.tenant))


def upsert(ctx: TenantContext, req: CustomerRequest) -> dict[str, Any]:
    with ctx.state.lock(f"customer:{ctx.tenant}:{req.source_id}"), _explained(ctx.tenant, req.source_id):
        found, matched_by = _find(ctx, req)
        created = found is None
        if found is None:
            found = _create(ctx, req)
            matched_by = "created"
        changed = _changes(found, req)
        if changed:
            found = invoicing.update_customer(ctx.client, found.number, changed)
        _save_mapping(ctx, req.source_id, found.number)
        return {
            "customer_number": found.number,
            "source_id": req.source_id,
            "created": created,
            "matched_by": matched_by,
            "updated_fields": sorted(changed) if not created else [],
        }


def _find(ctx: TenantContext, req: CustomerRequest) -> tuple[invoicing.Customer | None, str]:
    record = ctx.state.load_idempotency(ctx.tenant, mapping_key(req.source_id))
    number = record.result.get("customer_number") if record is not None and record.result else None
    if number:
        try:
            customer = invoicing.get_customer(ctx.client, str(number))
        except NotFound:
            customer = None
        if customer is not None and customer.external_reference in ("", req.source_id):
            return customer, "mapping"
    return _search(ctx, req)


def _search(ctx: TenantContext, req: CustomerRequest) -> tuple[invoicing.Customer | None, str]:
    searches = [
        ("organisation_number", "organisationnumber", req.fields.get("OrganisationNumber")),
        ("email", "email", req.fields.get("Email")),
        ("name", "name", req.fields.get("Name")),
    ]
    adoptable: tuple[invoicing.Customer, str] | None = None
    seen: set[str] = set()
    for label, param, value in searches:
        if not value:
            continue
        for number in invoicing.search_customers(ctx.client, **{param: value}):
            if number in seen:
                continue
            seen.add(number)
            customer = invoicing.get_customer(ctx.client, number)
            if customer.external_reference == req.source_id:
                return customer, "external_reference"
            if not customer.external_reference and label != "name" and adoptable is None:
                adoptable = (customer, label)
    if adoptable is not None:
        return adoptable
    return None, "created"


def _create(ctx: TenantContext, req: CustomerRequest) -> invoicing.Customer:
    try:
        return invoicing.create_customer(ctx.client, req.body())
    except AmbiguousWrite as exc:
        ctx.log.warning("the customer's POST got no clear answer; looking for it before posting again")
        found, _ = _search(ctx, req)
        if found is not None and found.external_reference == req.source_id:
            return found
        exc.hint = (
            f"no customer with ExternalReference {req.source_id!r} is in Fortnox yet; run the action again "
            "(it looks again before creating, so the customer is created at most once)"
        )
        raise


def _changes(customer: invoicing.Customer, req: CustomerRequest) -> dict[str, str]:
    wanted = req.body()
    changed = {}
    for name, value in wanted.items():
        have = customer.fields.get(name, "")
        same = have.upper() == value.upper() if name in UPPERCASE else have == value
        if not same:
            changed[name] = value
    return changed


def _save_mapping(ctx: TenantContext, source_id: str, number: str) -> None:
    ctx.state.save_idempotency(
        ctx.tenant,
        IdempotencyRecord(
            key=mapping_key(source_id),
            fingerprint=source_id,
            status="completed",
            result={"customer_number": number},
        ),
    )


class _explained:
    """Fortnox errors name the tenant and the source customer; a missing customer is a rejection."""

    def __init__(self, tenant: str, source_id: str) -> None:
        self.tenant = tenant
        self.source_id = source_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, FortnoxError) and not isinstance(exc, ActionRejected):
            exc.with_tenant(self.tenant)
            exc.message = f"customer {self.source_id}: {exc.message}"
