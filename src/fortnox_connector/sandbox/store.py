"""In-memory Fortnox data: tenants, invoices, payments and the payment rules. Callers hold ``Store.lock``."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .settlement import WriteOffRow, read_write_offs, settled_by_write_offs

if TYPE_CHECKING:
    from .customers import Customer
    from .feed import FeedLog

CENT = Decimal("0.01")
SOURCES = ("manual", "direct", "file", "finance", "autogiro", "settle")
RATES = {"SEK": Decimal("1"), "EUR": Decimal("11.2345"), "USD": Decimal("10.4567")}
MODES_OF_PAYMENT = (
    ("BG", "Bankgiro", 1930),
    ("PG", "Plusgiro", 1920),
    ("KONT", "Kontant", 1910),
    ("KORT", "Kortbetalning", 1580),
    ("AG", "Autogiro", 1930),
    ("SWISH", "Swish", 1930),
)
SCOPES = ("invoice", "payment", "companyinformation", "settings", "customer")


def money(value: Any) -> Decimal:
    """A Decimal rounded to öre from a number or numeric string."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Tenant:
    id: int
    name: str
    organisation_number: str
    licences: set[str] = field(default_factory=lambda: {*SCOPES, "currency"})
    service_consent: bool = True
    service_scopes: tuple[str, ...] = SCOPES
    next_invoice: int = 1
    next_payment: int = 1
    next_voucher: int = 1
    customers: list[tuple[str, str]] = field(default_factory=list)
    invoices: dict[int, Invoice] = field(default_factory=dict)
    payments: dict[int, Payment] = field(default_factory=dict)
    customer_book: dict[str, Customer] = field(default_factory=dict)  # see customers.py
    round_off: bool = True  # öresutjämning: SEK invoice totals rounded to whole kronor (invoice_create.py)
    payments_revision: int = 0  # bumped by every Store change to payments (listing.py's memo key)
    payments_in_order: bool = True  # dict order is ascending numbers (no explicit lower Number added)
    payments_memo: tuple[int, tuple[tuple[str, str], ...], list[Payment]] | None = field(
        default=None, repr=False, compare=False
    )  # listing.py: (revision, query, the ordered list) of the last big list asked for
    currency_rates: dict[str, tuple[date, Decimal, Decimal]] = field(default_factory=dict)  # currencies.py


@dataclass
class Invoice:
    document_number: int
    customer_number: str
    customer_name: str
    invoice_date: date
    due_date: date
    total: Decimal  # invoice currency
    balance: Decimal  # invoice currency
    currency: str
    currency_rate: Decimal
    ocr: str
    modified: datetime  # naive Europe/Stockholm
    booked: bool = True
    cancelled: bool = False
    credit: bool = False
    final_pay_date: date | None = None
    external_ref1: str = ""
    external_ref2: str = ""
    currency_unit: Decimal = Decimal(1)  # rate is per this many units (100 for JPY-style currencies)
    detail: dict[str, Any] | None = None  # a created invoice's rows and totals (invoice_create.py)
    credit_ref: int | None = None  # CreditInvoiceReference (credit_notes.py)


@dataclass
class Payment:
    number: int
    invoice_number: int
    amount: Decimal  # SEK
    amount_currency: Decimal  # invoice currency
    currency: str
    currency_rate: Decimal
    payment_date: date
    mode_of_payment: str
    mode_of_payment_account: int
    source: str
    modified: datetime
    booked: bool = False
    voucher_number: int | None = None
    voucher_series: str | None = None
    voucher_year: int | None = None
    rate_as_string: bool = False
    currency_unit: Decimal = Decimal(1)
    write_offs: list[WriteOffRow] = field(default_factory=list)

    def settles(self, invoice_currency: str) -> Decimal:
        """What the payment settles of its invoice's balance: money plus write-offs (invoice currency)."""
        return self.amount_currency + settled_by_write_offs(self.write_offs, invoice_currency)


class Store:
    """All tenants' data. Every public method expects the caller to hold ``lock``."""

    def __init__(self, seed: int) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)  # noqa: S311 - reproducible seeding, not security
        self.tenants: dict[int, Tenant] = {}
        self.feed: FeedLog | None = None  # told of bookings and deletions (the WebSocket feed, feed.py)

    # ---- tenants and customers
    def add_tenant(self, tenant_id: int, name: str) -> Tenant:
        org = f"55{tenant_id % 10000:04d}-{self.rng.randrange(1000, 9999)}"
        tenant = Tenant(id=tenant_id, name=name, organisation_number=org)
        tenant.customers = [(str(n), f"Kund {n} AB") for n in range(1, 11)]
        self.tenants[tenant_id] = tenant
        return tenant

    def tenant(self, tenant_id: int) -> Tenant:
        try:
            return self.tenants[tenant_id]
        except KeyError:
            raise KeyError(f"no sandbox tenant {tenant_id}; known: {sorted(self.tenants)}") from None

    # ---- invoices
    def add_invoice(self, tenant: Tenant, now: datetime, **fields: Any) -> Invoice:
        number = int(fields.pop("DocumentNumber", tenant.next_invoice))
        tenant.next_invoice = max(tenant.next_invoice, number + 1)
        cust_no, cust_name = tenant.customers[number % len(tenant.customers)]
        currency = str(fields.pop("Currency", "SEK"))
        invoice_date = _date(fields.pop("InvoiceDate", now.date() - timedelta(days=10)))
        total = money(fields.pop("Total", "1250.00"))
        credit = bool(fields.pop("Credit", False))
        if credit and total > 0:
            total = -total
        inv = Invoice(
            document_number=number,
            customer_number=str(fields.pop("CustomerNumber", cust_no)),
            customer_name=str(fields.pop("CustomerName", cust_name)),
            invoice_date=invoice_date,
            due_date=_date(fields.pop("DueDate", invoice_date + timedelta(days=30))),
            total=total,
            balance=money(fields.pop("Balance", total)),
            currency=currency,
            currency_rate=Decimal(str(fields.pop("CurrencyRate", RATES.get(currency, Decimal(1))))),
            ocr=str(fields.pop("OCR", _ocr(number))),
            modified=_naive(fields.pop("modified", now)),
            booked=bool(fields.pop("Booked", True)),
            cancelled=bool(fields.pop("Cancelled", False)),
            credit=credit,
            external_ref1=str(fields.pop("ExternalInvoiceReference1", "")),
            external_ref2=str(fields.pop("ExternalInvoiceReference2", "")),
            currency_unit=Decimal(str(fields.pop("CurrencyUnit", 1))),
        )
        final = fields.pop("FinalPayDate", None)
        inv.final_pay_date = _date(final) if final else None
        if fields:
            raise ValueError(f"unknown invoice fields: {sorted(fields)}")
        tenant.invoices[number] = inv
        return inv

    def invoice(self, tenant: Tenant, number: int) -> Invoice:
        inv = tenant.invoices.get(number)
        if inv is None:
            raise ApiError(2000434)
        return inv

    # ---- payments
    def add_payment(self, tenant: Tenant, invoice_number: int, now: datetime, **fields: Any) -> Payment:
        """Register a payment with Fortnox's rules (date not before the invoice, same currency, balance)."""
        inv = self.invoice(tenant, invoice_number)
        currency = str(fields.pop("Currency", inv.currency))
        if currency != inv.currency:
            raise ApiError(2000760)
        pay_date = _date(fields.pop("PaymentDate", now.date()))
        if pay_date < inv.invoice_date:
            raise ApiError(2000630)
        rate = Decimal(str(fields.pop("CurrencyRate", inv.currency_rate)))
        unit = inv.currency_unit
        amount_cur = fields.pop("AmountCurrency", None)
        amount = fields.pop("Amount", None)
        write_offs = read_write_offs(fields.pop("WriteOffs", None), inv.currency)
        if amount_cur is None and amount is None:
            amount_cur_d = inv.balance - settled_by_write_offs(write_offs, inv.currency)
        elif amount_cur is None:
            amount_cur_d = money(Decimal(str(amount)) * unit / rate) if currency != "SEK" else money(amount)
        else:
            amount_cur_d = money(amount_cur)
        amount_d = money(amount) if amount is not None else money(amount_cur_d * rate / unit)
        mode = str(fields.pop("ModeOfPayment", "BG"))
        account = int(fields.pop("ModeOfPaymentAccount", _mode_account(mode)))
        number = int(fields.pop("Number", tenant.next_payment))
        tenant.next_payment = max(tenant.next_payment, number + 1)
        pay = Payment(
            number=number,
            invoice_number=invoice_number,
            amount=amount_d,
            amount_currency=amount_cur_d,
            currency=currency,
            currency_rate=rate,
            payment_date=pay_date,
            mode_of_payment=mode,
            mode_of_payment_account=account,
            source=str(fields.pop("Source", "direct")),
            modified=_naive(fields.pop("modified", now)),
            rate_as_string=bool(fields.pop("rate_as_string", False)),
            currency_unit=unit,
            write_offs=write_offs,
        )
        booked = bool(fields.pop("Booked", False))
        if fields:
            raise ApiError(2001399, f"Ogiltigt fältnamn: {sorted(fields)[0]}")
        if tenant.payments and number < max(tenant.payments):
            tenant.payments_in_order = False
        tenant.payments[number] = pay
        tenant.payments_revision += 1
        self._apply(inv, pay.settles(inv.currency), pay_date, pay.modified)
        if booked:
            self.book(tenant, number, now)
            pay.modified = _naive(now) if pay.modified < _naive(now) else pay.modified
        return pay

    def settle(self, inv: Invoice, amount: Decimal, day: date, now: datetime) -> None:
        """Take ``amount`` off the invoice's balance on ``day`` (a credit note, ``credit_notes.py``)."""
        self._apply(inv, amount, day, _naive(now))

    def _apply(self, inv: Invoice, amount: Decimal, pay_date: date, modified: datetime) -> None:
        inv.balance = inv.balance - amount
        if inv.balance == 0 and inv.final_pay_date is None:
            inv.final_pay_date = pay_date
        elif inv.balance != 0:
            inv.final_pay_date = None
        inv.modified = max(inv.modified, modified)

    def payment(self, tenant: Tenant, number: int) -> Payment:
        pay = tenant.payments.get(number)
        if pay is None:
            raise ApiError(2001304)
        return pay

    def book(self, tenant: Tenant, number: int, now: datetime) -> Payment:
        pay = self.payment(tenant, number)
        if not pay.booked:
            pay.booked = True
            pay.voucher_series = "C"
            pay.voucher_number = tenant.next_voucher
            pay.voucher_year = 1 + (pay.payment_date.year - 2020)
            tenant.next_voucher += 1
            pay.modified = _naive(now)
            tenant.payments_revision += 1
            if self.feed is not None:
                self.feed.payment_booked(tenant.id, number, now)
        return pay

    def delete_payment(self, tenant: Tenant, number: int, now: datetime) -> None:
        pay = self.payment(tenant, number)
        if pay.booked:
            raise ApiError(2000690)
        del tenant.payments[number]
        tenant.payments_revision += 1
        inv = tenant.invoices.get(pay.invoice_number)
        if inv is not None:
            self._apply(inv, -pay.settles(inv.currency), pay.payment_date, _naive(now))
        if self.feed is not None:
            self.feed.payment_deleted(tenant.id, number, now)

    # ---- seeding
    def seed_tenant(self, tenant: Tenant, now: datetime, invoices: int, payments: int) -> None:
        """A varied, deterministic book: SEK/EUR/USD, unpaid, partly and fully paid, cancelled, credit."""
        rng = self.rng
        today = now.date()
        for i in range(invoices):
            currency = ("SEK", "SEK", "EUR", "USD")[i % 4]
            inv_date = today - timedelta(days=rng.randrange(5, 120))
            kind = i % 7
            inv = self.add_invoice(
                tenant,
                now - timedelta(days=rng.randrange(0, 5), minutes=rng.randrange(0, 600)),
                Currency=currency,
                InvoiceDate=inv_date,
                Total=money(rng.randrange(10000, 5000000) / 100),
                Cancelled=kind == 5,
                Credit=kind == 6,
                Booked=kind != 4,
            )
            if inv.cancelled or inv.credit:
                inv.balance = Decimal(0) if inv.cancelled else inv.balance
        open_invoices = [inv for inv in tenant.invoices.values() if not inv.cancelled and not inv.credit]
        for j in range(payments):
            if not open_invoices:
                break
            inv = open_invoices[j % len(open_invoices)]
            if inv.balance <= 0:
                continue
            part = inv.balance if j % 3 == 0 else money(inv.balance / 2)
            when = now - timedelta(days=rng.randrange(0, 4), minutes=rng.randrange(0, 600))
            self.add_payment(
                tenant,
                inv.document_number,
                when,
                AmountCurrency=part,
                PaymentDate=max(
                    inv.invoice_date, min(today, inv.invoice_date + timedelta(days=rng.randrange(1, 40)))
                ),
                Source=SOURCES[j % len(SOURCES)],
                ModeOfPayment=MODES_OF_PAYMENT[j % 4][0],
                Booked=j % 2 == 0,
                rate_as_string=j % 5 == 0 and inv.currency != "SEK",
                modified=when,
            )

    def seed_payments(self, tenant: Tenant, now: datetime, n: int) -> None:
        """Bulk: n payments on n fresh invoices, each paying part of its invoice (no per-row validation)."""
        rng = self.rng
        nd = _naive(now)
        today = now.date()
        tenant.payments_revision += 1
        for _ in range(n):
            inv_no = tenant.next_invoice
            tenant.next_invoice += 1
            total = Decimal(rng.randrange(10000, 2000000)).scaleb(-2)
            inv_date = today - timedelta(days=rng.randrange(1, 60))
            cust_no, cust_name = tenant.customers[inv_no % len(tenant.customers)]
            amount = Decimal(rng.randrange(1000, int(total * 100) + 1)).scaleb(-2)
            inv = Invoice(
                inv_no,
                cust_no,
                cust_name,
                inv_date,
                inv_date + timedelta(days=30),
                total,
                total - amount,
                "SEK",
                Decimal(1),
                _ocr(inv_no),
                nd,
            )
            if inv.balance == 0:
                inv.final_pay_date = today
            tenant.invoices[inv_no] = inv
            number = tenant.next_payment
            tenant.next_payment += 1
            tenant.payments[number] = Payment(
                number,
                inv_no,
                amount,
                amount,
                "SEK",
                Decimal(1),
                today,
                "BG",
                1930,
                SOURCES[number % len(SOURCES)],
                nd,
            )


def _mode_account(mode: str) -> int:
    for code, _name, account in MODES_OF_PAYMENT:
        if code == mode:
            return account
    return 1930


def _ocr(number: int) -> str:
    """Number + Luhn check digit, as Swedish OCR references are."""
    digits = str(number + 1000)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ApiError(2001392, f"Ogiltigt datum: {value}") from None


def _naive(value: datetime) -> datetime:
    """Naive Europe/Stockholm wall time (aware inputs are converted)."""
    if value.tzinfo is not None:
        from .clock import STOCKHOLM

        return value.astimezone(STOCKHOLM).replace(tzinfo=None)
    return value
