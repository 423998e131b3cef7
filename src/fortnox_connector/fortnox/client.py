"""The Fortnox REST client (httpx, synchronous; one instance per tenant).

INTERFACE SKELETON — the signatures below are the contract other packages code against.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import httpx

from fortnox_connector.fortnox.records import (
    CompanyInformation,
    Invoice,
    InvoicePayment,
    ModeOfPayment,
    Page,
)
from fortnox_connector.secrets import Secret

DEFAULT_BASE_URL = "https://api.fortnox.se"
PAGE_LIMIT = 500

INVOICE_FILTERS = frozenset({"cancelled", "fullypaid", "unpaid", "unpaidoverdue", "unbooked"})


class TokenProvider(Protocol):
    """Gives the client a current access token for its tenant (see ``fortnox_connector.auth``)."""

    def access_token(self) -> Secret:
        """A token believed valid now; refreshes first when the mode allows and it is about to expire."""
        ...

    def invalidate(self, token: Secret) -> None:
        """Fortnox answered 401 with ``token``: forget it so the next ``access_token()`` gets a new one."""
        ...

    def extra_headers(self) -> dict[str, str]:
        """Headers the mode needs on API calls besides Authorization (none today)."""
        ...


class FortnoxClient:
    """Calls ``/3/...`` for one tenant.

    - paces requests under 25 per 5 s (sliding window) per (client id, tenant), shared by every client
      instance of that pair in the process;
    - pages by ``MetaInformation`` with ``limit=500``;
    - on 429 honours ``Retry-After``, else backs off at least one window with jitter;
    - retries 5xx and timeouts for GET/PUT-bookkeep/DELETE a bounded number of times, never a POST;
    - on 401 invalidates the token and retries once with the same method, path, query and page;
    - maps Fortnox's three error shapes to ``fortnox_connector.fortnox.errors``.
    """

    def __init__(
        self,
        *,
        tenant: str,
        tokens: TokenProvider,
        client_id: str,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
    ) -> None:
        raise NotImplementedError

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent by this client (retries included)."""
        raise NotImplementedError

    # -- raw -----------------------------------------------------------------
    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        raise NotImplementedError

    def iter_pages(
        self, path: str, key: str, params: dict[str, Any] | None = None, *, start_page: int = 1
    ) -> Iterator[Page[dict[str, Any]]]:
        raise NotImplementedError

    # -- typed ---------------------------------------------------------------
    def company_information(self) -> CompanyInformation:
        raise NotImplementedError

    def list_invoice_payments(
        self,
        *,
        lastmodified: datetime | date | None = None,
        invoice_number: int | str | None = None,
        page: int = 1,
        limit: int = PAGE_LIMIT,
    ) -> Page[InvoicePayment]:
        """``lastmodified`` is sent as naive Europe/Stockholm ``YYYY-MM-DD HH:MM``."""
        raise NotImplementedError

    def get_invoice_payment(self, number: str) -> InvoicePayment:
        raise NotImplementedError

    def create_invoice_payment(self, payment: dict[str, Any]) -> InvoicePayment:
        """POST once; a timeout or dropped connection raises ``AmbiguousWrite`` (never retried)."""
        raise NotImplementedError

    def bookkeep_invoice_payment(self, number: str) -> InvoicePayment:
        raise NotImplementedError

    def delete_invoice_payment(self, number: str) -> None:
        raise NotImplementedError

    def list_invoices(
        self,
        *,
        filter: str | None = None,
        lastmodified: datetime | date | None = None,
        document_number: str | None = None,
        ocr: str | None = None,
        page: int = 1,
        limit: int = PAGE_LIMIT,
    ) -> Page[Invoice]:
        raise NotImplementedError

    def get_invoice(self, document_number: str) -> Invoice:
        raise NotImplementedError

    def modes_of_payment(self) -> list[ModeOfPayment]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


_ = Decimal  # money stays Decimal end to end
