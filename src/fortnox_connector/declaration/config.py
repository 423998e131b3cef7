"""A tenant's configuration, typed. Validated against ``schemas/config.json`` before it is built."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DEFAULT_SCHEDULE = "0 23 * * *"
DEFAULT_TIMEZONE = "Europe/Stockholm"


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
