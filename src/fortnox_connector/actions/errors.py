"""Errors of the actions."""

from __future__ import annotations

from fortnox_connector.errors import ConnectorError


class ActionRejected(ConnectorError):
    """The action refused the request before writing anything to Fortnox.

    ``invoice`` names the invoice (document number or ``with OCR …``); ``reason`` says why.
    """

    def __init__(
        self, reason: str, *, tenant: str | None, invoice: str | None = None, hint: str | None = None
    ) -> None:
        where = f"invoice {invoice}: " if invoice else ""
        super().__init__(f"{where}{reason}", tenant=tenant, hint=hint)
        self.invoice = invoice
        self.reason = reason
