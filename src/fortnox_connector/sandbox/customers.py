"""The customer register: ``/3/customers`` list, single, create and update (caller holds the store lock).

Facts copied (docs/export.md): searches on ``customernumber``, ``organisationnumber``, ``email`` and
``name`` are substring matches (Fortnox's "Parameters" page: searches use ILIKE ``%value%``); the list
item is thin (no ``ExternalReference``, no ``VATType``), the single customer is whole; an unknown customer
answers 404 code 2000433 "Kan inte hitta kunden." [others]. Customer numbers are strings; Fortnox assigns
the next free number when none is given. The seeded customers ``1`` to ``10`` ("Kund n AB") are the ones the
seeded invoices name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .store import Tenant

API = "https://api.fortnox.se/3"
VAT_TYPES = ("SEVAT", "SEREVERSEDVAT", "EUREVERSEDVAT", "EUVAT", "EXPORT")
CUSTOMER_NOT_FOUND = 2000433

# Writable text fields and their default. CustomerNumber and VATType are handled on their own.
TEXT_FIELDS: dict[str, str] = {
    "Name": "",
    "OrganisationNumber": "",
    "VATNumber": "",
    "Email": "",
    "EmailInvoice": "",
    "Address1": "",
    "Address2": "",
    "ZipCode": "",
    "City": "",
    "CountryCode": "SE",
    "Currency": "SEK",
    "TermsOfPayment": "30",
    "ExternalReference": "",
    "YourReference": "",
    "OurReference": "",
    "Phone1": "",
    "Comments": "",
}
READ_ONLY = frozenset({"@url", "Country", "DeliveryCountry", "VisitingCountry"})
SEARCHABLE = {
    "customernumber": "CustomerNumber",
    "organisationnumber": "OrganisationNumber",
    "email": "Email",
    "name": "Name",
}


@dataclass
class Customer:
    number: str
    fields: dict[str, str] = field(default_factory=dict)
    vat_type: str = "SEVAT"
    active: bool = True

    def full(self) -> dict[str, Any]:
        body: dict[str, Any] = {"@url": f"{API}/customers/{self.number}", "CustomerNumber": self.number}
        body.update({name: self.fields.get(name, default) for name, default in TEXT_FIELDS.items()})
        body["VATType"] = self.vat_type
        body["Active"] = self.active
        body["Type"] = "COMPANY" if body["OrganisationNumber"] else "PRIVATE"
        return body

    def item(self) -> dict[str, Any]:
        full = self.full()
        return {
            "@url": full["@url"],
            "Address1": full["Address1"],
            "Address2": full["Address2"],
            "City": full["City"],
            "CustomerNumber": self.number,
            "Email": full["Email"],
            "Name": full["Name"],
            "OrganisationNumber": full["OrganisationNumber"],
            "Phone": full["Phone1"],
            "ZipCode": full["ZipCode"],
        }


def book(tenant: Tenant) -> dict[str, Customer]:
    """The tenant's customers, seeded from ``tenant.customers`` on first use."""
    if not tenant.customer_book:
        for number, name in tenant.customers:
            tenant.customer_book[number] = Customer(number, {"Name": name})
    return tenant.customer_book


def get(tenant: Tenant, number: str) -> Customer:
    found = book(tenant).get(number)
    if found is None:
        raise ApiError(CUSTOMER_NOT_FOUND, "Kan inte hitta kunden.")
    return found


def search(tenant: Tenant, query: dict[str, str]) -> list[Customer]:
    """Customers sorted by number (numerically when numeric), filtered by substring like Fortnox."""
    items = sorted(book(tenant).values(), key=lambda c: (not c.number.isdigit(), c.number.zfill(20)))
    flt = query.get("filter")
    if flt is not None:
        if flt not in ("active", "inactive"):
            raise ApiError(2000587)
        items = [c for c in items if c.active == (flt == "active")]
    for param, name in SEARCHABLE.items():
        if param in query:
            needle = query[param].lower()
            items = [c for c in items if needle in c.full()[name].lower()]
    return items


def create(tenant: Tenant, body: Any) -> Customer:
    fields = _payload(body)
    customers = book(tenant)
    number = str(fields.pop("CustomerNumber", "") or "").strip()
    if not number:
        number = _next_number(customers)
    elif number in customers:
        raise ApiError(2000106, f"Kundnummer {number} används redan.")
    if not str(fields.get("Name", "")).strip():
        raise ApiError(2001392, "Inga eller felaktiga data: Name saknas.")
    customer = Customer(number)
    _apply(customer, fields)
    customers[number] = customer
    return customer


def update(tenant: Tenant, number: str, body: Any) -> Customer:
    customer = get(tenant, number)
    fields = _payload(body)
    given = str(fields.pop("CustomerNumber", number) or number)
    if given != number:
        raise ApiError(2001392, "Inga eller felaktiga data: CustomerNumber kan inte ändras.")
    _apply(customer, fields)
    return customer


def _payload(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("Customer"), dict):
        raise ApiError(2001392, "Inga eller felaktiga data: Customer saknas.")
    fields = {k: v for k, v in body["Customer"].items() if k not in READ_ONLY}
    unknown = sorted(set(fields) - set(TEXT_FIELDS) - {"CustomerNumber", "VATType", "Active", "Type"})
    if unknown:
        raise ApiError(2001399, f"Ogiltigt fältnamn: {unknown[0]}")
    return fields


def _apply(customer: Customer, fields: dict[str, Any]) -> None:
    vat_type = fields.pop("VATType", None)
    if vat_type is not None:
        if vat_type not in VAT_TYPES:
            raise ApiError(2001392, f"Inga eller felaktiga data: VATType {vat_type}")
        customer.vat_type = str(vat_type)
    active = fields.pop("Active", None)
    if active is not None:
        customer.active = bool(active)
    fields.pop("Type", None)
    for name, value in fields.items():
        if value is not None:
            customer.fields[name] = str(value)


def _next_number(customers: dict[str, Customer]) -> str:
    numeric = [int(n) for n in customers if n.isdigit()]
    return str(max(numeric, default=0) + 1)
