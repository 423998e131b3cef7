"""The /3/ resources: company information, invoices, invoice payments, modes of payment."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from . import currencies, customers, invoice_create
from .errors import ApiError
from .listing import ordered_payments
from .store import MODES_OF_PAYMENT, Invoice, Payment, Store, Tenant
from .wire import invoice_json, payment_full

T = TypeVar("T")
Answer = tuple[int, Any]
# POST /3/invoicepayments: fields the sandbox applies, and schema fields it accepts but derives itself.
WRITABLE = frozenset(
    {
        "Amount",
        "AmountCurrency",
        "Currency",
        "CurrencyRate",
        "PaymentDate",
        "ModeOfPayment",
        "ModeOfPaymentAccount",
        "Source",
        "WriteOffs",
    }
)
IGNORED_ON_CREATE = frozenset(
    {
        "@url",
        "Booked",
        "CurrencyUnit",
        "ExternalInvoiceReference1",
        "ExternalInvoiceReference2",
        "InvoiceCustomerName",
        "InvoiceCustomerNumber",
        "InvoiceDueDate",
        "InvoiceOCR",
        "InvoiceTotal",
        "Number",
        "VoucherNumber",
        "VoucherSeries",
        "VoucherYear",
        "WriteOffExist",
    }
)
INVOICE_FILTERS = ("cancelled", "fullypaid", "unpaid", "unpaidoverdue", "unbooked")

# path regex -> (scope, handler name)
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/3/companyinformation/?$"), "companyinformation"),
    ("GET", re.compile(r"^/3/invoices/?$"), "invoice"),
    ("GET", re.compile(r"^/3/invoices/(?P<id>[^/]+)/?$"), "invoice"),
    ("POST", re.compile(r"^/3/invoices/?$"), "invoice"),
    ("PUT", re.compile(r"^/3/invoices/(?P<id>[^/]+)/bookkeep/?$"), "invoice"),
    ("PUT", re.compile(r"^/3/invoices/(?P<id>[^/]+)/email/?$"), "invoice"),
    ("GET", re.compile(r"^/3/customers/?$"), "customer"),
    ("GET", re.compile(r"^/3/customers/(?P<id>[^/]+)/?$"), "customer"),
    ("POST", re.compile(r"^/3/customers/?$"), "customer"),
    ("PUT", re.compile(r"^/3/customers/(?P<id>[^/]+)/?$"), "customer"),
    ("GET", re.compile(r"^/3/invoicepayments/?$"), "payment"),
    ("POST", re.compile(r"^/3/invoicepayments/?$"), "payment"),
    ("GET", re.compile(r"^/3/invoicepayments/(?P<id>[^/]+)/?$"), "payment"),
    ("DELETE", re.compile(r"^/3/invoicepayments/(?P<id>[^/]+)/?$"), "payment"),
    ("PUT", re.compile(r"^/3/invoicepayments/(?P<id>[^/]+)/bookkeep/?$"), "payment"),
    ("GET", re.compile(r"^/3/modesofpayments/?$"), "settings"),
    ("GET", re.compile(r"^/3/currencies/?$"), "currency"),
    ("GET", re.compile(r"^/3/currencies/(?P<id>[^/]+)/?$"), "currency"),
]


def scope_for(path: str) -> str | None:
    """The OAuth scope guarding a /3/ path (None for unknown paths)."""
    for _method, pattern, scope in ROUTES:
        if pattern.match(path):
            return scope
    return None


def parse_lastmodified(value: str) -> datetime:
    """``YYYY-MM-DD HH:MM`` (seconds optional) or a date, read as naive Europe/Stockholm."""
    text = value.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt)  # noqa: DTZ007 - Fortnox compares naive Stockholm time
        except ValueError:
            continue
    raise ApiError(2000588, f"Ogiltig parameter: lastmodified={value}")


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ApiError(2000108, f"Värdet måste vara numeriskt ({name}).") from None


def paged(
    items: Sequence[T], query: dict[str, str], render: Callable[[T], dict[str, Any]], key: str
) -> Answer:
    limit = _int(query.get("limit", "100"), "limit")
    if limit < 1 or limit > 500:
        raise ApiError(2000588, "Ogiltig parameter: limit (max 500).")
    page = _int(query.get("page", "1"), "page")
    if page < 1:
        raise ApiError(2000588, "Ogiltig parameter: page.")
    start = _int(query["offset"], "offset") if "offset" in query else (page - 1) * limit
    total = len(items)
    pages = max(1, math.ceil(total / limit))
    chunk = items[start : start + limit]
    meta = {"@TotalResources": total, "@TotalPages": pages, "@CurrentPage": page}
    return 200, {"MetaInformation": meta, key: [render(x) for x in chunk]}


class Api:
    """Resource handlers; each runs with the store lock held by the caller."""

    def __init__(self, store: Store, today: Callable[[], datetime]) -> None:
        self.store = store
        self.now = today

    def handle(self, tenant: Tenant, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        for route_method, pattern, _scope in ROUTES:
            m = pattern.match(path)
            if m is None or route_method != method:
                continue
            ident = m.groupdict().get("id")
            name = path.split("/")[2]
            if name == "companyinformation":
                return self.company(tenant)
            if name == "modesofpayments":
                return self.modes(query)
            if name == "customers":
                return self.customers(tenant, method, ident, query, body)
            if name == "invoices" and method != "GET":
                return self.write_invoice(tenant, method, path, ident, body)
            if name == "currencies":
                today = self.now().date()
                return currencies.one(tenant, ident, today) if ident else currencies.listing(tenant, today)
            if name == "invoices":
                return self.invoice(tenant, ident) if ident else self.invoices(tenant, query)
            return self._payment_route(tenant, method, ident, query, body)
        raise ApiError(2000588, f"Ogiltig parameter: {method} {path}")

    def _payment_route(
        self, tenant: Tenant, method: str, ident: str | None, query: dict[str, str], body: Any
    ) -> Answer:
        """/3/invoicepayments: create, list, one, bookkeep (PUT) and delete."""
        if method == "POST":
            return self.create_payment(tenant, body)
        if ident is None:
            return self.payments(tenant, query)
        number = _int(ident, "Number")
        if method == "PUT":
            return 200, {
                "InvoicePayment": payment_full(tenant, self.store.book(tenant, number, self.now()), True)
            }
        if method == "DELETE":
            self.store.delete_payment(tenant, number, self.now())
            return 204, None
        return 200, {"InvoicePayment": payment_full(tenant, self.store.payment(tenant, number), True)}

    def company(self, tenant: Tenant) -> Answer:
        return 200, {
            "CompanyInformation": {
                "Address": "Storgatan 1",
                "City": "Växjö",
                "CountryCode": "SE",
                "DatabaseNumber": tenant.id,
                "CompanyName": tenant.name,
                "OrganizationNumber": tenant.organisation_number,
                "VisitAddress": "Storgatan 1",
                "VisitCity": "Växjö",
                "VisitCountryCode": "SE",
                "VisitZipCode": "35230",
                "ZipCode": "35230",
            }
        }

    def modes(self, query: dict[str, str]) -> Answer:
        modes = [
            {
                "@url": f"https://api.fortnox.se/3/modesofpayments/{c}",
                "Code": c,
                "Description": d,
                "AccountNumber": a,
            }
            for c, d, a in MODES_OF_PAYMENT
        ]
        return paged(modes, query, lambda m: m, "ModesOfPayments")

    def customers(
        self, tenant: Tenant, method: str, ident: str | None, query: dict[str, str], body: Any
    ) -> Answer:
        """``/3/customers``: see ``customers.py``."""
        if method == "POST":
            return 201, {"Customer": customers.create(tenant, body).full()}
        if method == "PUT" and ident is not None:
            return 200, {"Customer": customers.update(tenant, ident, body).full()}
        if ident is not None:
            return 200, {"Customer": customers.get(tenant, ident).full()}
        return paged(customers.search(tenant, query), query, lambda c: c.item(), "Customers")

    def write_invoice(self, tenant: Tenant, method: str, path: str, ident: str | None, body: Any) -> Answer:
        """``POST /3/invoices``, ``PUT /3/invoices/{n}/bookkeep`` and ``/email`` (``invoice_create.py``)."""
        if method == "POST":
            inv = invoice_create.create(self.store, tenant, self.now(), body)
            return 201, {"Invoice": invoice_json(inv, True)}
        number = _int(str(ident), "DocumentNumber")
        if path.rstrip("/").endswith("/email"):
            inv = invoice_create.email(tenant, number, self.store)
            return 200, {"Invoice": invoice_json(inv, True)}
        inv = invoice_create.bookkeep(tenant, number, self.now(), self.store)
        return 200, {"Invoice": invoice_json(inv, True)}

    def invoice(self, tenant: Tenant, ident: str) -> Answer:
        try:
            number = int(ident)
        except ValueError:
            raise ApiError(2000434) from None
        return 200, {"Invoice": invoice_json(self.store.invoice(tenant, number), True)}

    def invoices(self, tenant: Tenant, query: dict[str, str]) -> Answer:
        items = sorted(tenant.invoices.values(), key=lambda i: i.document_number)
        flt = query.get("filter")
        if flt is not None:
            keep = _invoice_filter(flt, self.now().date())
            items = [i for i in items if keep(i)]
        for param, test in _INVOICE_PARAMS.items():
            if param in query:
                wanted = test(query[param])
                items = [i for i in items if wanted(i)]
        return paged(items, query, lambda i: invoice_json(i, False), "Invoices")

    def payments(self, tenant: Tenant, query: dict[str, str]) -> Answer:
        def select(items: list[Payment]) -> list[Payment]:
            if "invoicenumber" in query:
                inv = _int(query["invoicenumber"], "invoicenumber")
                items = [p for p in items if p.invoice_number == inv]
            if "lastmodified" in query:
                since = parse_lastmodified(query["lastmodified"])
                items = [p for p in items if p.modified >= since]
            return items

        items = ordered_payments(tenant, query, select)
        return paged(items, query, lambda p: payment_full(tenant, p, False), "InvoicePayments")

    def create_payment(self, tenant: Tenant, body: Any) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("InvoicePayment"), dict):
            raise ApiError(2001392, "Inga eller felaktiga data: InvoicePayment saknas.")
        fields = dict(body["InvoicePayment"])
        if "InvoiceNumber" not in fields:
            raise ApiError(2001392, "Inga eller felaktiga data: InvoiceNumber saknas.")
        inv = _int(str(fields.pop("InvoiceNumber")), "InvoiceNumber")
        unknown = sorted(set(fields) - WRITABLE - IGNORED_ON_CREATE)
        if unknown:
            raise ApiError(2001399, f"Ogiltigt fältnamn: {unknown[0]}")
        kept = {k: v for k, v in fields.items() if k in WRITABLE and v is not None}
        kept.setdefault("Source", "manual")
        pay = self.store.add_payment(tenant, inv, self.now(), **kept)
        return 201, {"InvoicePayment": payment_full(tenant, pay, True)}


def _date_param(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(2000588, f"Ogiltig parameter: {value}") from None


def _invoice_filter(flt: str, today: date) -> Callable[[Invoice], bool]:
    """Fortnox's ``filter=`` on invoices; an unknown one is its error 2000587."""
    if flt not in INVOICE_FILTERS:
        raise ApiError(2000587)
    filters: dict[str, Callable[[Invoice], bool]] = {
        "cancelled": lambda i: i.cancelled,
        "fullypaid": lambda i: not i.cancelled and i.balance == 0 and i.final_pay_date is not None,
        "unpaid": lambda i: not i.cancelled and i.balance != 0,
        "unpaidoverdue": lambda i: not i.cancelled and i.balance != 0 and i.due_date < today,
        "unbooked": lambda i: not i.cancelled and not i.booked,
    }
    return filters[flt]


def _since(value: str) -> Callable[[Invoice], bool]:
    since = parse_lastmodified(value)
    return lambda i: i.modified >= since


def _from(value: str) -> Callable[[Invoice], bool]:
    d = _date_param(value)
    return lambda i: i.invoice_date >= d


def _to(value: str) -> Callable[[Invoice], bool]:
    d = _date_param(value)
    return lambda i: i.invoice_date <= d


# The invoice list's query parameters: each value → a test an invoice must pass.
_INVOICE_PARAMS: dict[str, Callable[[str], Callable[[Invoice], bool]]] = {
    "lastmodified": _since,
    "fromdate": _from,
    "todate": _to,
    "documentnumber": lambda v: lambda i: str(i.document_number) == v,
    "ocr": lambda v: lambda i: i.ocr == v,
    "externalinvoicereference1": lambda v: lambda i: i.external_ref1 == v,
    "externalinvoicereference2": lambda v: lambda i: i.external_ref2 == v,
    "customernumber": lambda v: lambda i: i.customer_number == v,
    "currency": lambda v: lambda i: i.currency == v.upper(),
}
