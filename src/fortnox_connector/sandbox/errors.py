"""Fortnox-style error bodies: codes and Swedish messages, in PascalCase or lowercase keys."""

from __future__ import annotations

from typing import Any

# code -> (HTTP status, Swedish message). Codes from Fortnox's error-code page (see docs/sandbox.md).
CODES: dict[int, tuple[int, str]] = {
    1000003: (500, "Systemfel. Kontakta Fortnox support."),
    1000031: (400, "Ogiltig content-type."),
    2000106: (400, "Värdet måste vara alfanumeriskt."),
    2000108: (400, "Värdet måste vara numeriskt."),
    2000359: (400, "Ogiltiga tecken."),
    2000423: (400, "Kontot hittades inte."),
    2000433: (404, "Kan inte hitta kunden."),
    2000434: (404, "Kan inte hitta fakturan."),
    2000587: (400, "Ogiltigt filter."),
    2000588: (400, "Ogiltig parameter."),
    2000663: (403, "Har inte behörighet för scope."),
    2001101: (403, "Det finns ingen aktiv licens för önskat scope."),
    2001392: (400, "Inga eller felaktiga data."),
    2001399: (400, "Ogiltigt fältnamn."),
    2002115: (400, "Felaktig JSON-syntax."),
    2000630: (400, "Betalningsdatumet får inte vara före fakturadatumet."),
    2000760: (400, "Valutan stämmer inte med fakturans valuta."),
    2000690: (400, "Betalningen är bokförd och kan inte tas bort."),
    2001304: (404, "Kan inte hitta betalningen."),
    2001305: (404, "Kan inte hitta valutan."),
}


def error_body(code: int, key_case: str = "pascal", message: str | None = None) -> tuple[int, dict[str, Any]]:
    """The HTTP status and ``{"ErrorInformation": {...}}`` body for a Fortnox error code."""
    status, default = CODES[code]
    text = message if message is not None else default
    if key_case == "lower":
        inner: dict[str, Any] = {"error": 1, "message": text, "code": code}
    else:
        inner = {"Error": 1, "Message": text, "Code": code}
    return status, {"ErrorInformation": inner}


class ApiError(Exception):
    """Raised inside the sandbox to answer with a Fortnox error code."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
