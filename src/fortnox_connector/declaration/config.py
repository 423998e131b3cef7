"""A tenant's configuration, typed. Validated against ``schemas/config.json`` before it is built.

``parse_config`` takes what a host has: JSON-ish values (a settings UI), or strings from the environment
(Pandium's ``PAN_CFG_*``) with ``from_strings=True``, which converts each by the type its schema gives
(integers, booleans, dates; an empty string is "not set"). Errors name the field, the tenant and the fix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from fortnox_connector.declaration.cron import check_schedule
from fortnox_connector.declaration.schemas import check, load_schema
from fortnox_connector.errors import ConfigError
from fortnox_connector.timezones import zone_of

DEFAULT_SCHEDULE = "0 23 * * *"
DEFAULT_TIMEZONE = "Europe/Stockholm"
CONFIG_SCHEMA = "config.json"

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True, slots=True)
class TenantConfig:
    backfill_days: int = 30
    ignore_payments_before: date | None = None
    ignore_invoice_numbers_below: int = 0
    schedule: str = DEFAULT_SCHEDULE
    timezone: str = DEFAULT_TIMEZONE
    emit_unbooked_payments: bool = False  # by default only booked payments are emitted
    lastmodified_overlap_minutes: int = 90  # covers a DST hour plus clock skew
    default_mode_of_payment: str | None = None  # e.g. "BG"
    default_mode_of_payment_account: int | None = None  # e.g. 1930
    bookkeep_payments: bool = True
    allow_overpayment: bool = False
    invoice_numbering: str = "fortnox"  # export_invoice: "fortnox" numbers, or "source" (the source's)
    currency_rate_band_percent: int = 50  # register_payment: a rate this far from the invoice's is refused
    # finding the invoice (actions/lookup.py)
    ocr_check_digit: bool = True  # an OCR asked for must pass its modulus-10 check digit
    require_ocr_and_invoice_number: bool = False  # payments must name both, and both must match
    # differences register_payment writes off (actions/settle.py); amounts in the company's currency
    payment_tolerance_amount: Decimal | None = None
    payment_tolerance_percent: Decimal | None = None
    payment_tolerance_account: int | None = None
    currency_gain_account: int = 3960  # BAS: Valutakursvinster på fordringar och skulder av rörelsekaraktär
    currency_loss_account: int = 7960  # BAS: Valutakursförluster på fordringar och skulder av rörelsekaraktär
    currency_difference_booking: str = "write_off"  # or "fortnox": leave it to the company's own accounts
    default_currency_rate: str = "invoice"  # or "fortnox": the rate of the day from GET /3/currencies/{code}
    # invoice_paid
    emit_credit_note_settlements: bool = True  # False: invoices settled by a credit note alone are skipped


def parse_config(
    data: Mapping[str, Any], *, tenant: str | None = None, from_strings: bool = False
) -> TenantConfig:
    """Check ``data`` against ``schemas/config.json`` and build the ``TenantConfig`` (absent: defaults).

    With ``from_strings`` every value is a string to convert by the field's schema type, and keys match
    case-insensitively (``BACKFILL_DAYS`` = ``backfill_days``).
    """
    what = "the tenant's config"  # the error's tenant prefixes the message
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{what} must be a mapping of settings, not {type(data).__name__}",
            field="(top level)",
            tenant=tenant,
            hint='pass the settings as an object, e.g. {"backfill_days": 30}',
        )
    values = coerce_strings(data, tenant=tenant) if from_strings else dict(data)
    values = {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}
    check(values, CONFIG_SCHEMA, what=what, tenant=tenant, hint=None)
    # JSON Schema counts 30.0 as an integer; the config keeps ints (an account number, a day count) exact.
    values = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in values.items()}
    schedule = str(values.get("schedule", DEFAULT_SCHEDULE)).strip()
    timezone = str(values.get("timezone", DEFAULT_TIMEZONE))
    check_schedule(schedule, zone_of(timezone, tenant=tenant, what=what), tenant=tenant, what=what)
    before = values.get("ignore_payments_before")
    return TenantConfig(
        backfill_days=values.get("backfill_days", 30),
        ignore_payments_before=date.fromisoformat(before) if before is not None else None,
        ignore_invoice_numbers_below=values.get("ignore_invoice_numbers_below", 0),
        schedule=schedule,
        timezone=timezone,
        emit_unbooked_payments=values.get("emit_unbooked_payments", False),
        lastmodified_overlap_minutes=values.get("lastmodified_overlap_minutes", 90),
        default_mode_of_payment=values.get("default_mode_of_payment"),
        default_mode_of_payment_account=values.get("default_mode_of_payment_account"),
        bookkeep_payments=values.get("bookkeep_payments", True),
        allow_overpayment=values.get("allow_overpayment", False),
        invoice_numbering=values.get("invoice_numbering", "fortnox"),
        currency_rate_band_percent=values.get("currency_rate_band_percent", 50),
        ocr_check_digit=values.get("ocr_check_digit", True),
        require_ocr_and_invoice_number=values.get("require_ocr_and_invoice_number", False),
        payment_tolerance_amount=_decimal(values.get("payment_tolerance_amount")),
        payment_tolerance_percent=_decimal(values.get("payment_tolerance_percent")),
        payment_tolerance_account=values.get("payment_tolerance_account"),
        currency_gain_account=values.get("currency_gain_account", 3960),
        currency_loss_account=values.get("currency_loss_account", 7960),
        currency_difference_booking=values.get("currency_difference_booking", "write_off"),
        default_currency_rate=values.get("default_currency_rate", "invoice"),
        emit_credit_note_settlements=values.get("emit_credit_note_settlements", True),
    )


def _decimal(value: Any) -> Decimal | None:
    """A decimal setting (the schema has checked its form); None stays None. Never through float."""
    if value is None:
        return None
    return Decimal(str(value).strip()) if not isinstance(value, Decimal) else value


def coerce_strings(data: Mapping[str, Any], *, tenant: str | None = None) -> dict[str, Any]:
    """Environment strings converted by ``config.json``'s types; unknown keys pass through to be refused."""
    properties: Mapping[str, Any] = load_schema(CONFIG_SCHEMA, bundle=False)["properties"]
    by_lower = {name.lower(): name for name in properties}
    out: dict[str, Any] = {}
    for key, raw in data.items():
        name = by_lower.get(str(key).strip().lower(), str(key))
        spec = properties.get(name)
        if spec is None or not isinstance(raw, str):
            out[name] = raw
            continue
        text = raw.strip()
        if text == "":
            if _allows_null(spec):
                out[name] = None
            continue  # "not set": the default applies
        out[name] = _convert(name, text, _types(spec), tenant)
    return out


def _types(spec: Mapping[str, Any]) -> set[str]:
    kinds: set[str] = set()
    declared = spec.get("type")
    if isinstance(declared, str):
        kinds.add(declared)
    elif isinstance(declared, list):
        kinds.update(str(t) for t in declared)
    for option in spec.get("anyOf", []):
        kinds.update(_types(option))
    return kinds


def _allows_null(spec: Mapping[str, Any]) -> bool:
    return "null" in _types(spec)


def _convert(name: str, text: str, kinds: set[str], tenant: str | None) -> Any:
    if "integer" in kinds:
        try:
            return int(text, 10)
        except ValueError:
            raise _bad(name, text, "a whole number, e.g. 30", tenant) from None
    if "boolean" in kinds:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise _bad(name, text, "true or false", tenant)
    return text  # strings and dates (a date is checked by its schema's format)


def _bad(name: str, text: str, expected: str, tenant: str | None) -> ConfigError:
    shown = text if len(text) <= 40 else text[:39] + "…"
    return ConfigError(
        f"the tenant's config: {name}: {shown!r} is not {expected.split(',')[0]}",
        field=name,
        tenant=tenant,
        hint=f"set {name} to {expected}",
    )


def config_to_json(config: TenantConfig) -> dict[str, Any]:
    """A TenantConfig as JSON values (dates ISO 8601), for storing and showing."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(TenantConfig):
        value = getattr(config, f.name)
        out[f.name] = value.isoformat() if isinstance(value, date) else value
    return out


def read_config(data: Mapping[str, Any], tenant: str) -> dict[str, Any]:
    """The tenant's config checked and completed with its defaults, as JSON (``Connector.read_config``)."""
    return config_to_json(parse_config(data, tenant=tenant))
