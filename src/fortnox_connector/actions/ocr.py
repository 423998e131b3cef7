"""Swedish OCR references: the check digit Bankgirot's OCR uses (Luhn, "modulus 10").

Fortnox writes an invoice's OCR as the digits of a reference plus one check digit computed with the Luhn
algorithm (Bankgirot's "10-modulmetoden"), optionally with a length digit before it; both forms end in the
Luhn digit over everything before it, so one check covers them. A payer who mistypes one digit, or swaps two
neighbours, fails the check: such an OCR is refused before Fortnox is asked, so it can never be matched to
somebody else's invoice.
"""

from __future__ import annotations


def luhn_digit(digits: str) -> int:
    """The check digit that makes ``digits`` + it pass the Luhn check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def ocr_problem(ocr: str) -> str | None:
    """None when ``ocr`` is a well-formed OCR (2-25 digits, last one the Luhn digit), else what is wrong."""
    if not ocr.isascii() or not ocr.isdigit():
        return "an OCR number has digits only"
    if not 2 <= len(ocr) <= 25:
        return "an OCR number has 2 to 25 digits"
    expected = luhn_digit(ocr[:-1])
    if int(ocr[-1]) != expected:
        return f"its check digit is {ocr[-1]}, but the digits before it give {expected} (modulus 10)"
    return None
