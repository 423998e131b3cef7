"""Reading and checking the actions' input; ``register_payment``'s fingerprint for idempotency.

Input is checked against the action's JSON Schema first (``schemas/actions/<name>.input.json``:
``additionalProperties: false`` honoured, formats checked), and only then parsed: a misspelled
``"bookeep": false`` is refused, never dropped (the payment would be booked, which cannot be undone), and
numbers and dates have one strict form each (``"1250.00"``, ``2026-11-25``), never ``1E+1``, ``1_0``,
other scripts' digits, ``20261125`` or ``2026-W48-3``. Then the bounds of ``actions.bounds`` apply.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from fortnox_connector.actions.bounds import check_amount, check_payment_date
from fortnox_connector.actions.errors import ActionRejected
from fortnox_connector.actions.money import parse_decimal
from fortnox_connector.actions.settle import WriteOffLine
from fortnox_connector.declaration.config import TenantConfig
from fortnox_connector.declaration.schemas import schema_error, validator
from fortnox_connector.errors import ConfigError

REGISTER_PAYMENT_SCHEMA = "actions/register_payment.input.json"
GET_INVOICE_SCHEMA = "actions/get_invoice.input.json"


@dataclass(frozen=True, slots=True)
class InvoiceRef:
    """An invoice named by its document number, its OCR and/or its external reference (at least one).

    Every field given must match the invoice found (``lookup.find_invoice``); the first given of
    document number, OCR, external reference is what the invoice is looked up by.
    """

    document_number: str | None = None
    ocr: str | None = None
    external_reference: str | None = None

    def __str__(self) -> str:
        if self.document_number is not None:
            return self.document_number
        if self.ocr is not None:
            return f"with OCR {self.ocr}"
        return f"with external reference {self.external_reference}"

    def asked(self) -> str:
        """Everything asked for, e.g. ``number 12 and OCR 10124``."""
        parts = [
            f"number {self.document_number}" if self.document_number is not None else None,
            f"OCR {self.ocr}" if self.ocr is not None else None,
            f"external reference {self.external_reference!r}"
            if self.external_reference is not None
            else None,
        ]
        return " and ".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A checked ``register_payment`` input with the tenant's defaults applied."""

    invoice: InvoiceRef
    amount: Decimal  # in the invoice's currency
    currency: str
    currency_rate: Decimal | None  # None: the invoice's rate
    payment_date: date
    mode_of_payment: str
    mode_of_payment_account: int
    bookkeep: bool
    allow_overpayment: bool
    move_date_to_invoice_date: bool
    idempotency_key: str
    fingerprint: str
    currency_rate_band_percent: int = 50
    amount_company_currency: Decimal | None = None  # SEK booked by the bank (foreign currency)
    write_offs: tuple[WriteOffLine, ...] = ()  # in the invoice's currency
    settle_in_full: bool = False


def check_input(data: object, schema: str, tenant: str) -> Mapping[str, Any]:
    """``data`` if it satisfies ``schemas/<schema>``; else ``ActionRejected`` naming the field and the fix."""
    errors = sorted(validator(schema).iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        what = f"the {schema.rsplit('/', 1)[-1].split('.')[0]} input"
        error = schema_error(errors[0], what=what, tenant=None)
        raise ActionRejected(error.message, tenant=tenant, hint=error.hint)
    assert isinstance(data, Mapping)  # the schema's "type": "object"
    return data


def invoice_ref(data: Mapping[str, Any], tenant: str) -> InvoiceRef:
    """``invoice`` as ``{"document_number": …, "ocr": …, "external_reference": …}``, at least one given."""
    raw = data.get("invoice")
    if not isinstance(raw, Mapping):
        raise _bad(
            tenant, "'invoice' must be an object with 'document_number', 'ocr' or 'external_reference'"
        )
    doc = _text(raw.get("document_number"))
    ocr = _text(raw.get("ocr"))
    reference = _text(raw.get("external_reference"))
    if doc is None and ocr is None and reference is None:
        raise _bad(
            tenant, "'invoice' needs at least one of 'document_number', 'ocr' and 'external_reference'"
        )
    return InvoiceRef(document_number=doc, ocr=ocr, external_reference=reference)


def read_payment_request(data: object, config: TenantConfig, tenant: str) -> PaymentRequest:
    """Check the input by its schema, parse it, apply ``config``'s defaults and the bounds.

    Raises ``ActionRejected`` (bad input) or ``ConfigError`` (a default the tenant lacks).
    """
    data = check_input(data, REGISTER_PAYMENT_SCHEMA, tenant)
    ref = invoice_ref(data, tenant)
    amount, currency, rate = _money(data, tenant, ref)
    try:
        payment_date = date.fromisoformat(str(data.get("payment_date")).strip())
    except ValueError:
        raise _bad(tenant, "'payment_date' must be a date YYYY-MM-DD", ref) from None
    check_payment_date(payment_date, tenant=tenant, invoice=str(ref))
    key = _text(data.get("idempotency_key"))
    if key is None:
        raise _bad(tenant, "'idempotency_key' is required: a retry with the same key pays once", ref)
    mode, account = _mode_of_payment(data, config, tenant, ref)
    return PaymentRequest(
        invoice=ref,
        amount=amount,
        currency=currency.upper(),
        currency_rate=rate,
        payment_date=payment_date,
        mode_of_payment=mode,
        mode_of_payment_account=account,
        bookkeep=_flag(data, "bookkeep", config.bookkeep_payments, tenant),
        allow_overpayment=_flag(data, "allow_overpayment", config.allow_overpayment, tenant),
        move_date_to_invoice_date=_flag(data, "move_date_to_invoice_date", False, tenant),
        idempotency_key=key,
        fingerprint=fingerprint(data),
        currency_rate_band_percent=config.currency_rate_band_percent,
        amount_company_currency=_company_amount(data, tenant, ref),
        write_offs=_write_offs(data.get("write_offs"), currency.upper(), tenant, ref),
        settle_in_full=_flag(data, "settle_in_full", False, tenant),
    )


def _money(data: Mapping[str, Any], tenant: str, ref: InvoiceRef) -> tuple[Decimal, str, Decimal | None]:
    """The amount (positive, two decimals, within bounds), the currency code and the optional rate."""
    amount = parse_decimal(data.get("amount"))
    if amount is None or amount <= 0:
        raise _bad(tenant, "'amount' must be a positive decimal string such as \"1250.00\"", ref)
    check_amount(amount, tenant=tenant, invoice=str(ref))
    if amount != amount.quantize(Decimal("0.01")):
        raise _bad(tenant, f"'amount' {amount} has more than two decimals", ref)
    currency = _text(data.get("currency"))
    if currency is None or len(currency) != 3 or not currency.isalpha():
        raise _bad(tenant, "'currency' must be a three-letter code such as SEK or EUR", ref)
    rate: Decimal | None = None
    if data.get("currency_rate") is not None:
        rate = parse_decimal(data.get("currency_rate"))
        if rate is None or rate <= 0:
            raise _bad(tenant, "'currency_rate' must be a positive decimal string", ref)
    return amount, currency, rate


def _mode_of_payment(
    data: Mapping[str, Any], config: TenantConfig, tenant: str, ref: InvoiceRef
) -> tuple[str, int]:
    """The mode of payment and its account: the input's, else the tenant's defaults (else a ConfigError)."""
    mode = _text(data.get("mode_of_payment")) or config.default_mode_of_payment
    if mode is None:
        raise ConfigError(
            "no mode of payment: the input has no 'mode_of_payment' and the tenant has no default",
            field="default_mode_of_payment",
            tenant=tenant,
            hint="set 'default_mode_of_payment' (e.g. BG) in the tenant's config or pass 'mode_of_payment'",
        )
    account = _account(data.get("mode_of_payment_account"), tenant, ref)
    if account is None:
        account = config.default_mode_of_payment_account
    if account is None:
        raise ConfigError(
            "no mode-of-payment account: no 'mode_of_payment_account' in the input and no tenant default",
            field="default_mode_of_payment_account",
            tenant=tenant,
            hint="set 'default_mode_of_payment_account' (e.g. 1930) in the tenant's config or pass it",
        )
    return mode, account


def _company_amount(data: Mapping[str, Any], tenant: str, ref: InvoiceRef) -> Decimal | None:
    if data.get("amount_company_currency") is None:
        return None
    value = parse_decimal(data.get("amount_company_currency"))
    if value is None or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise _bad(tenant, "'amount_company_currency' must be a positive amount with two decimals", ref)
    check_amount(value, tenant=tenant, invoice=str(ref))
    return value


def _write_offs(raw: Any, currency: str, tenant: str, ref: InvoiceRef) -> tuple[WriteOffLine, ...]:
    """The input's write-offs (the schema checked their form), in the invoice's currency."""
    lines: list[WriteOffLine] = []
    for item in raw or ():
        amount = parse_decimal(item.get("amount"))
        if amount is None or amount == 0 or amount != amount.quantize(Decimal("0.01")):
            raise _bad(tenant, "a write-off's 'amount' must be a decimal string other than 0", ref)
        check_amount(abs(amount), tenant=tenant, invoice=str(ref))
        account = int(str(item.get("account")).strip())
        lines.append(
            WriteOffLine(
                account=account,
                amount=amount,
                currency=currency,
                description=_text(item.get("description")),
                cost_center=_text(item.get("cost_center")),
                project=_text(item.get("project")),
            )
        )
    return tuple(lines)


def fingerprint(data: Mapping[str, Any]) -> str:
    """SHA-256 of the input without its idempotency key, numbers normalised (``"10.5"`` = ``"10.50"``)."""
    normal = {k: _normal(v) for k, v in data.items() if k != "idempotency_key" and v is not None}
    blob = json.dumps(normal, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _normal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, str):
        number = parse_decimal(value)
        if number is not None:
            return format(number.normalize(), "f")
        return value.strip()
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return format(Decimal(value).normalize(), "f")
    return value


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def _account(value: Any, tenant: str, ref: InvoiceRef) -> int | None:
    if value is None:
        return None
    try:
        account = int(str(value))
    except ValueError:
        account = 0
    if not 1000 <= account <= 9999:
        raise _bad(tenant, "'mode_of_payment_account' must be an account number 1000-9999", ref)
    return account


def _flag(data: Mapping[str, Any], name: str, default: bool, tenant: str) -> bool:
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(tenant, f"'{name}' must be true or false")
    return value


def _bad(tenant: str, reason: str, ref: InvoiceRef | None = None) -> ActionRejected:
    return ActionRejected(
        reason, tenant=tenant, invoice=str(ref) if ref else None, hint="correct the action's input"
    )
