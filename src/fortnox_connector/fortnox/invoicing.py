"""Writing invoices into Fortnox: customers (``/3/customers``), invoice creation and bookkeeping.

Built on ``FortnoxClient.request``/``iter_pages`` (pacing, retries, error mapping stay the client's): a POST
is sent once and a lost answer raises ``AmbiguousWrite``; callers recognise their own record before they
would post again (see ``actions/export_invoice.py``). Fortnox's searches are substring matches (ILIKE
``%value%``, Fortnox's "Parameters" page), so every search here keeps only exact matches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from fortnox_connector.fortnox.errors import FortnoxValidationError, MalformedResponse, MissingScope
from fortnox_connector.fortnox.records import Invoice, MalformedRecord

if TYPE_CHECKING:
    from fortnox_connector.fortnox.client import FortnoxClient

CODE_INVALID_CONTENT_TYPE = 1000031
R = TypeVar("R")

# Customer fields the connector writes (Fortnox names); ExternalReference holds the source system's id.
CUSTOMER_FIELDS = (
    "Name",
    "OrganisationNumber",
    "VATNumber",
    "VATType",
    "Email",
    "Address1",
    "Address2",
    "ZipCode",
    "City",
    "CountryCode",
    "Currency",
    "TermsOfPayment",
    "ExternalReference",
)


def text(raw: Mapping[str, Any], name: str) -> str | None:
    """A string from a string or a number; '' and null are None."""
    value = raw.get(name)
    if value is None or value == "" or isinstance(value, bool | dict | list):
        return None
    return str(value)


def req_text(raw: Mapping[str, Any], name: str, resource: str) -> str:
    value = text(raw, name)
    if value is None:
        raise MalformedRecord(resource, name)
    return value


def dec(raw: Mapping[str, Any], name: str, resource: str, default: Decimal | None = None) -> Decimal | None:
    """A finite Decimal from a JSON number (already Decimal from the lenient decoder) or a numeric string."""
    value = raw.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise MalformedRecord(resource, name)
    try:
        number = Decimal(value.strip().replace(",", ".") if isinstance(value, str) else value)
    except InvalidOperation:
        raise MalformedRecord(resource, name) from None
    if not number.is_finite():
        raise MalformedRecord(resource, name)
    return number


def integer(raw: Mapping[str, Any], name: str, resource: str) -> int | None:
    value = text(raw, name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise MalformedRecord(resource, name) from None


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer: ``fields`` holds the writable fields as Fortnox gave them ('' for unset)."""

    number: str
    fields: Mapping[str, str]

    @property
    def external_reference(self) -> str:
        return self.fields.get("ExternalReference", "")

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Customer:
        number = req_text(raw, "CustomerNumber", "Customer")
        return cls(number, {name: text(raw, name) or "" for name in CUSTOMER_FIELDS})


@dataclass(frozen=True, slots=True)
class CreatedInvoice:
    """A single invoice with what Fortnox computed: totals, VAT, round-off, rows, voucher."""

    invoice: Invoice
    net: Decimal | None
    total_vat: Decimal | None
    round_off: Decimal
    credit_invoice_reference: str | None
    rows: tuple[Mapping[str, Any], ...]
    sent: bool = False

    @property
    def document_number(self) -> str:
        return self.invoice.document_number

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> CreatedInvoice:
        rows = raw.get("InvoiceRows")
        reference = integer(raw, "CreditInvoiceReference", "Invoice")
        return cls(
            invoice=Invoice.parse(raw),
            net=dec(raw, "Net", "Invoice"),
            total_vat=dec(raw, "TotalVAT", "Invoice"),
            round_off=dec(raw, "RoundOff", "Invoice", Decimal(0)) or Decimal(0),
            credit_invoice_reference=str(reference) if reference else None,
            rows=tuple(r for r in rows if isinstance(r, Mapping)) if isinstance(rows, list) else (),
            sent=raw.get("Sent") is True or str(raw.get("Sent")).lower() == "true",
        )


@contextmanager
def _scope(scope: str) -> Iterator[None]:
    """A missing scope names the one to grant (the client knows only the scopes of the payment flow)."""
    try:
        yield
    except MissingScope as exc:
        exc.hint = f"reconnect the tenant granting the Fortnox scope '{scope}'"
        raise


def _single(data: Any, key: str, method: str, path: str, tenant: str) -> Mapping[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, dict):
        raise MalformedResponse(
            f"Fortnox's answer to {method} {path} cannot be read: the answer has no object under {key!r}",
            method=method,
            path=path,
            tenant=tenant,
        )
    return value


def _read(
    data: Any, key: str, parse: Callable[[Mapping[str, Any]], R], method: str, path: str, tenant: str
) -> R:
    """The record under ``key`` of a single-object answer; an unreadable one is ``MalformedResponse``."""
    try:
        return parse(_single(data, key, method, path, tenant))
    except MalformedRecord as exc:
        raise MalformedResponse(
            f"Fortnox's answer to {method} {path} cannot be read: {exc}",
            method=method,
            path=path,
            tenant=tenant,
        ) from exc


def _customer(client: FortnoxClient, data: Any, method: str, path: str) -> Customer:
    return _read(data, "Customer", Customer.parse, method, path, client.tenant)


def _invoice(client: FortnoxClient, data: Any, method: str, path: str) -> CreatedInvoice:
    return _read(data, "Invoice", CreatedInvoice.parse, method, path, client.tenant)


def _segment(value: str) -> str:
    return quote(str(value).strip(), safe="")


# -- customers -------------------------------------------------------------------------------------------
def search_customers(client: FortnoxClient, **search: str) -> list[str]:
    """Customer numbers whose searched fields equal ``search`` exactly (case-insensitive), all pages.

    ``search`` keys are Fortnox's lowercase parameters: ``organisationnumber``, ``email``, ``name``.
    """
    names = {"organisationnumber": "OrganisationNumber", "email": "Email", "name": "Name"}
    numbers: list[str] = []
    with _scope("customer"):
        for page in client.iter_pages("/3/customers", "Customers", dict(search)):
            for item in page.items:
                if all(str(item.get(names[k]) or "").strip().lower() == v.lower() for k, v in search.items()):
                    number = text(item, "CustomerNumber")
                    if number is not None:
                        numbers.append(number)
    return numbers


def probe_customers(client: FortnoxClient) -> None:
    """The cheapest read that needs the ``customer`` scope and licence (``check``): one list item."""
    with _scope("customer"):
        client.request("GET", "/3/customers", params={"limit": 1})


def get_customer(client: FortnoxClient, number: str) -> Customer:
    path = f"/3/customers/{_segment(number)}"
    with _scope("customer"):
        data = client.request("GET", path)
    return _customer(client, data, "GET", path)


def create_customer(client: FortnoxClient, fields: Mapping[str, Any]) -> Customer:
    """POST once (``AmbiguousWrite`` when the answer is lost: look for it before posting again)."""
    path = "/3/customers"
    with _scope("customer"):
        data = client.request("POST", path, json={"Customer": dict(fields)})
    return _customer(client, data, "POST", path)


def update_customer(client: FortnoxClient, number: str, fields: Mapping[str, Any]) -> Customer:
    path = f"/3/customers/{_segment(number)}"
    with _scope("customer"):
        data = client.request("PUT", path, json={"Customer": dict(fields)})
    return _customer(client, data, "PUT", path)


# -- invoices --------------------------------------------------------------------------------------------
def create_invoice(client: FortnoxClient, body: Mapping[str, Any]) -> CreatedInvoice:
    """POST once; ``body`` is the Invoice object. A lost answer raises ``AmbiguousWrite``."""
    path = "/3/invoices"
    data = client.request("POST", path, json={"Invoice": dict(body)})
    return _invoice(client, data, "POST", path)


def get_created_invoice(client: FortnoxClient, number: str) -> CreatedInvoice:
    path = f"/3/invoices/{_segment(number)}"
    data = client.request("GET", path)
    return _invoice(client, data, "GET", path)


def invoices_by_reference(client: FortnoxClient, reference: str) -> list[str]:
    """Document numbers of the invoices whose ``ExternalInvoiceReference1`` is exactly ``reference``."""
    numbers: list[str] = []
    params = {"externalinvoicereference1": reference}
    for page in client.iter_pages("/3/invoices", "Invoices", params):
        for item in page.items:
            if str(item.get("ExternalInvoiceReference1") or "").strip() == reference:
                number = text(item, "DocumentNumber")
                if number is not None:
                    numbers.append(number)
    return numbers


def bookkeep_invoice(client: FortnoxClient, number: str) -> CreatedInvoice:
    """Book the invoice (``PUT …/bookkeep``, no body; ``{}`` once if Fortnox asks for JSON).

    Fortnox refusing to book an invoice that is booked already (a first attempt's answer was lost) counts
    as done: the invoice is read and returned when it is booked.
    """
    path = f"/3/invoices/{_segment(number)}/bookkeep"
    try:
        try:
            data = client.request("PUT", path)
        except FortnoxValidationError as exc:
            if exc.code != CODE_INVALID_CONTENT_TYPE:
                raise
            data = client.request("PUT", path, json={})
    except FortnoxValidationError:
        current = get_created_invoice(client, number)
        if current.invoice.booked:
            return current
        raise
    return _invoice(client, data, "PUT", path)


def email_invoice(client: FortnoxClient, number: str) -> CreatedInvoice:
    """Send the invoice to the customer's invoice e-mail (``PUT /3/invoices/{n}/email``); ``Sent`` after."""
    path = f"/3/invoices/{_segment(number)}/email"
    data = client.request("PUT", path)
    return _invoice(client, data, "PUT", path)
