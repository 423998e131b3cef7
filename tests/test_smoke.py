from decimal import Decimal

import fortnox_connector
from fortnox_connector.fortnox.records import Invoice, InvoicePayment
from fortnox_connector.secrets import Secret, redact


def test_version_is_set() -> None:
    assert fortnox_connector.__version__


def test_secret_never_prints() -> None:
    s = Secret("abcdefgh-secret")
    assert "abcdefgh" not in f"{s} {s!r} {s:>10} {[s]}"
    assert redact("token abcdefgh-secret here", s) == "token *** here"


def test_payment_parses_type_drift() -> None:
    p = InvoicePayment.parse(
        {
            "Number": 17,
            "InvoiceNumber": "1002",
            "Amount": 1050.5,
            "CurrencyRate": "10,5",
            "CurrencyUnit": 1,
            "PaymentDate": "2026-11-01",
            "Booked": True,
            "InvoiceTotal": "100",
        }
    )
    assert p.number == "17"
    assert p.amount == Decimal("1050.5")
    assert p.currency_rate == Decimal("10.5")
    assert not p.complete


def test_invoice_paid_when_balance_zero() -> None:
    inv = Invoice.parse({"DocumentNumber": "5", "Total": "100", "Balance": 0, "Credit": "false"})
    assert inv.fully_paid
