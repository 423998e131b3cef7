"""The Fortnox REST client: typed endpoints over httpx's layers (synchronous; one instance per tenant).

The layers, as httpx builds them: ``bearer.BearerAuth`` (the token, the one re-authentication after a 401)
→ ``transport.PacedTransport`` (the pair's pacer; counts requests and 429s) → the real transport.
``sending.Sender`` decides per answer, with ``classify``, whether to return, retry or raise; ``decoding``
turns the answer's bytes into ``records``. This module keeps the endpoints.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from fortnox_connector.fortnox.bearer import BearerAuth, TokenProvider
from fortnox_connector.fortnox.decoding import Unreadable, decode_one, decode_page, decode_raw_page
from fortnox_connector.fortnox.errors import (
    CODE_INVALID_CONTENT_TYPE,
    FortnoxValidationError,
    MalformedResponse,
)
from fortnox_connector.fortnox.pacing import PACERS, Clock, PacerRegistry, Sleep
from fortnox_connector.fortnox.pipeline import Pipeline
from fortnox_connector.fortnox.records import (
    CompanyInformation,
    Currency,
    Invoice,
    InvoicePayment,
    ModeOfPayment,
    Page,
)
from fortnox_connector.fortnox.retry import RetryPolicy
from fortnox_connector.fortnox.sending import Sender
from fortnox_connector.fortnox.transport import PacedTransport
from fortnox_connector.fortnox.wire import format_lastmodified, loads_lenient

__all__ = ["DEFAULT_BASE_URL", "INVOICE_FILTERS", "PAGE_LIMIT", "FortnoxClient", "TokenProvider"]

DEFAULT_BASE_URL = "https://api.fortnox.se"
PAGE_LIMIT = 500
# Pages are read ahead once an answer takes this long (pipeline.py): a quarter of the 0.2 s per request the
# rate limit allows on average, so in-line reading (round trip + the caller's work) still keeps its pace.
READ_AHEAD_AFTER_S = 0.05

INVOICE_FILTERS = frozenset({"cancelled", "fullypaid", "unpaid", "unpaidoverdue", "unbooked"})
PAYMENT_SORTS = frozenset({"paymentdate"})

log = logging.getLogger("fortnox_connector.fortnox")

S = TypeVar("S", bound=msgspec.Struct)
T = TypeVar("T")


class _NoBody:
    """Marker: send the request without a body and without Content-Type."""


_NO_BODY = _NoBody()


def _enc_hook(value: object) -> object:
    raise TypeError(f"cannot send a {type(value).__name__} to Fortnox")


_BODY_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=_enc_hook)


def encode_body(body: Any) -> bytes:
    """A request body as JSON bytes; a ``Decimal`` goes out as a JSON number written from its own digits.

    Money never passes through a float on its way to Fortnox: ``Decimal("9995.00")`` is sent as ``9995.00``
    and ``Decimal("11.456789")`` as ``11.456789``. NaN or Infinity is refused (no amount); date-times go out
    as Fortnox writes them (``YYYY-MM-DD HH:MM:SS``), dates as ``YYYY-MM-DD``.
    """
    return _BODY_ENCODER.encode(_wire(body))


def _wire(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"amount {value} cannot be sent to Fortnox")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value


class FortnoxClient:
    """Calls ``/3/...`` for one tenant.

    - paces requests under 25 per 5 s (sliding window) per (client id, tenant), shared by every client
      instance of that pair in the process;
    - pages by ``MetaInformation`` with ``limit=500``;
    - on 429 honours ``Retry-After``, else backs off at least one window with jitter;
    - retries 5xx and timeouts for GET/PUT-bookkeep/DELETE a bounded number of times, never a POST;
    - on 401 invalidates the token and, when its provider has a new one, sends once more with it;
    - maps Fortnox's three error shapes to ``fortnox_connector.fortnox.errors``.

    ``pacers``, ``clock``, ``sleep`` and ``retry`` are for tests and tuning (defaults: the process-wide
    registry, ``time.monotonic``, ``time.sleep``, ``RetryPolicy()``); ``max_retries`` overrides the policy's.
    ``read_ahead`` is how many pages a list read with ``read_ahead=True`` fetches ahead (``pipeline.py``;
    0 turns it off), which it does while the last round trip took at least ``read_ahead_after`` seconds
    (0: always; faster answers are read in line, where a thread would cost CPU and save no time).
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
        pacers: PacerRegistry | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        retry: RetryPolicy | None = None,
        read_ahead: int = 4,
        read_ahead_after: float = READ_AHEAD_AFTER_S,
    ) -> None:
        self.tenant = tenant
        self.pacer = (pacers or PACERS).get(client_id, tenant, clock=clock, sleep=sleep)
        self._transport = PacedTransport(transport or httpx.HTTPTransport(), self.pacer)
        self._auth = BearerAuth(tokens, tenant)
        self._http = httpx.Client(
            base_url=base_url,
            transport=self._transport,
            auth=self._auth,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "fortnox-connector"},
            follow_redirects=False,
        )
        policy = replace(retry or RetryPolicy(), max_retries=max_retries)
        self._sender = Sender(self._http, tenant=tenant, retry=policy, pacer=self.pacer, sleep=sleep)
        self._bookkeep_with_json = False  # flipped if Fortnox answers 1000031 to a bodiless bookkeep
        self._read_ahead_after = read_ahead_after
        self._pipeline = Pipeline(read_ahead, self._answers_are_slow)

    def _answers_are_slow(self) -> bool:
        last = self._transport.last_round_trip
        return last is not None and last >= self._read_ahead_after

    # -- counters ------------------------------------------------------------
    @property
    def requests_sent(self) -> int:
        """HTTP requests sent by this client (retries and the re-authentication included)."""
        return self._transport.sent

    @property
    def throttled_responses(self) -> int:
        """429 answers this client received (each was retried or raised ``RateLimited``)."""
        return self._transport.throttled

    def server_date(self) -> datetime | None:
        """Fortnox's clock by the ``Date`` header of its latest answer (whole seconds), None without one."""
        text = self._transport.last_date
        if not text:
            return None
        try:
            return parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None

    @property
    def retries_sent(self) -> int:
        """Requests among ``requests_sent`` that were not a first try: sent again after a 429, a 5xx or no
        answer, or once more with a new token after a 401."""
        return self._sender.retried + self._auth.resent

    # -- raw -----------------------------------------------------------------
    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Send one logical request (paced, retried as its method allows): parsed JSON, None if empty."""
        method = method.upper()
        response = self._send(method, path, params, _NO_BODY if json is None else json)
        if response.status_code == 204 or not response.content.strip():
            return None
        data = loads_lenient(response.content)
        if data is None:
            raise self._malformed(method, path, "the answer is not JSON")
        return data

    def iter_pages(
        self, path: str, key: str, params: dict[str, Any] | None = None, *, start_page: int = 1
    ) -> Iterator[Page[dict[str, Any]]]:
        """Every page of a list from ``start_page``, fetched lazily, ``limit`` 500 unless ``params`` says."""
        page_number = start_page
        while True:
            query = {"limit": PAGE_LIMIT, **(params or {}), "page": page_number}
            response = self._send("GET", path, query, _NO_BODY)
            read = partial(decode_raw_page, response.content, key, page_number, query["limit"])
            page = self._read("GET", path, read)
            yield page
            if page.last or page_number >= page.total_pages:
                return
            page_number += 1

    # -- typed ---------------------------------------------------------------
    def company_information(self) -> CompanyInformation:
        return self._get_one("/3/companyinformation", "CompanyInformation", CompanyInformation)

    def list_invoice_payments(
        self,
        *,
        lastmodified: datetime | date | None = None,
        invoice_number: int | str | None = None,
        page: int = 1,
        limit: int = PAGE_LIMIT,
        sortby: str | None = None,
        read_ahead: bool = False,
    ) -> Page[InvoicePayment]:
        """``lastmodified`` is sent as naive Europe/Stockholm ``YYYY-MM-DD HH:MM``.

        ``read_ahead``: the caller will read the following pages in order (a trigger's run), so they are
        fetched while it works on this one (``pipeline.py``).
        """
        if sortby is not None and sortby not in PAYMENT_SORTS:
            raise ValueError(f"sortby must be one of {sorted(PAYMENT_SORTS)}")
        params = _list_query(lastmodified, limit, invoicenumber=invoice_number, sortby=sortby)
        return self._typed_page(
            "/3/invoicepayments", "InvoicePayments", params, page, InvoicePayment, read_ahead
        )

    def get_invoice_payment(self, number: str) -> InvoicePayment:
        return self._get_one(f"/3/invoicepayments/{_segment(number)}", "InvoicePayment", InvoicePayment)

    def create_invoice_payment(self, payment: dict[str, Any]) -> InvoicePayment:
        """POST once; a timeout or dropped connection raises ``AmbiguousWrite`` (never retried).

        ``payment`` is the InvoicePayment object (or already wrapped as ``{"InvoicePayment": {...}}``);
        Decimal amounts and dates are serialised exactly.
        """
        path = "/3/invoicepayments"
        body = payment if set(payment) == {"InvoicePayment"} else {"InvoicePayment": payment}
        return self._one("POST", path, body, "InvoicePayment", InvoicePayment)

    def bookkeep_invoice_payment(self, number: str) -> InvoicePayment:
        """Book the payment. Sent without a body; if Fortnox answers 1000031 (invalid content type) it is
        sent again once with ``{}`` as JSON, and this client keeps using the form that worked.

        A refusal for a payment that is already booked (e.g. when a first attempt timed out but was done)
        returns the booked payment: booking is idempotent in effect.
        """
        path = f"/3/invoicepayments/{_segment(number)}/bookkeep"
        try:
            response = self._bookkeep(path)
        except FortnoxValidationError:
            current = self.get_invoice_payment(number)
            if current.booked:
                return current
            raise
        content = response.content
        return self._read("PUT", path, partial(decode_one, content, "InvoicePayment", InvoicePayment))

    def _bookkeep(self, path: str) -> httpx.Response:
        body: Any = {} if self._bookkeep_with_json else _NO_BODY
        try:
            return self._send("PUT", path, None, body)
        except FortnoxValidationError as exc:
            if exc.code != CODE_INVALID_CONTENT_TYPE:
                raise
        self._bookkeep_with_json = not self._bookkeep_with_json
        log.info(
            "Fortnox refused the bookkeep's content type; trying the other form",
            extra={"tenant": self.tenant, "http_method": "PUT", "http_path": path},
        )
        other: Any = {} if self._bookkeep_with_json else _NO_BODY
        return self._send("PUT", path, None, other)

    def delete_invoice_payment(self, number: str) -> None:
        """Delete an unbooked payment (204). A retry after an unknown outcome that finds it gone succeeds."""
        self._send("DELETE", f"/3/invoicepayments/{_segment(number)}", None, _NO_BODY)

    def list_invoices(
        self,
        *,
        filter: str | None = None,
        lastmodified: datetime | date | None = None,
        document_number: str | None = None,
        ocr: str | None = None,
        external_reference: str | None = None,
        external_reference2: str | None = None,
        customer_number: str | None = None,
        currency: str | None = None,
        from_date: date | None = None,
        to_date: date | None = None,
        page: int = 1,
        limit: int = PAGE_LIMIT,
        read_ahead: bool = False,
    ) -> Page[Invoice]:
        """Fortnox's filters as given (``fromdate``/``todate`` on the invoice date); callers narrow again."""
        if filter is not None and filter not in INVOICE_FILTERS:
            raise ValueError(f"invoice filter must be one of {sorted(INVOICE_FILTERS)}, not {filter!r}")
        params = _list_query(
            lastmodified,
            limit,
            filter=filter,
            documentnumber=document_number,
            ocr=ocr,
            externalinvoicereference1=external_reference,
            externalinvoicereference2=external_reference2,
            customernumber=customer_number,
            currency=currency,
            fromdate=from_date.isoformat() if from_date is not None else None,
            todate=to_date.isoformat() if to_date is not None else None,
        )
        return self._typed_page("/3/invoices", "Invoices", params, page, Invoice, read_ahead)

    def get_invoice(self, document_number: str) -> Invoice:
        return self._get_one(f"/3/invoices/{_segment(document_number)}", "Invoice", Invoice)

    def get_currency(self, code: str) -> Currency:
        """The company's rates for ``code`` (scope ``currency``)."""
        return self._get_one(f"/3/currencies/{_segment(code.upper())}", "Currency", Currency)

    def modes_of_payment(self) -> list[ModeOfPayment]:
        modes: list[ModeOfPayment] = []
        page, total = 1, 1
        while page <= total:
            got = self._typed_page("/3/modesofpayments", "ModesOfPayments", {}, page, ModeOfPayment)
            modes.extend(got.items)
            page, total = page + 1, (page if got.last else got.total_pages)
        return modes

    def close(self) -> None:
        self._pipeline.close()
        self._http.close()

    def __enter__(self) -> FortnoxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending and reading -----------------------------------------------------
    def _send(self, method: str, path: str, params: dict[str, Any] | None, body: Any) -> httpx.Response:
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        content = None if isinstance(body, _NoBody) else encode_body(body)
        return self._sender.send(method, path, params=query, content=content)

    def _typed_page(
        self,
        path: str,
        key: str,
        params: dict[str, Any],
        page: int,
        cls: type[S],
        read_ahead: bool = False,
    ) -> Page[S]:
        if page < 1:
            raise ValueError("page numbers start at 1")
        query = {"limit": PAGE_LIMIT, **params}
        fetch = partial(self._fetch_page, path, key, query, cls)
        if not read_ahead:
            return fetch(page)
        question = (path, key, cls, tuple(sorted(query.items())))
        fetched: Page[S] = self._pipeline.page(question, page, fetch)
        return fetched

    def _fetch_page(self, path: str, key: str, query: dict[str, Any], cls: type[S], page: int) -> Page[S]:
        params = {**query, "page": page}
        return self._read_get(
            path, params, lambda content: decode_page(content, key, cls, page, query["limit"])
        )

    def _get_one(self, path: str, key: str, cls: type[S]) -> S:
        """GET one resource wrapped as ``{key: {...}}`` and read it."""
        return self._one("GET", path, _NO_BODY, key, cls)

    def _one(self, method: str, path: str, body: Any, key: str, cls: type[S]) -> S:
        if method == "GET":
            return self._read_get(path, None, lambda content: decode_one(content, key, cls))
        content = self._send(method, path, None, body).content
        return self._read(method, path, partial(decode_one, content, key, cls))

    def _read_get(self, path: str, params: dict[str, Any] | None, decode: Callable[[bytes], T]) -> T:
        """GET and read. An answer that is not JSON at all (a 200 cut short in transit) is asked for once
        more — a GET is safe to repeat; a second one, or JSON of the wrong shape, is ``MalformedResponse``."""
        for attempt in (1, 2):
            content = self._send("GET", path, params, _NO_BODY).content
            try:
                return decode(content)
            except Unreadable as exc:
                if attempt == 2 or _is_json(content):
                    raise self._malformed("GET", path, str(exc)) from exc.__cause__
                log.warning(
                    "Fortnox's answer to GET %s was not JSON (cut short?): asking again",
                    path,
                    extra={"tenant": self.tenant},
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _read(self, method: str, path: str, decode: Callable[[], T]) -> T:
        """``decode()``, its ``Unreadable`` as ``MalformedResponse`` naming the request and tenant."""
        try:
            return decode()
        except Unreadable as exc:
            raise self._malformed(method, path, str(exc)) from exc.__cause__

    def _malformed(self, method: str, path: str, why: str) -> MalformedResponse:
        return MalformedResponse(
            f"Fortnox's answer to {method} {path} cannot be read: {why}",
            method=method,
            path=path,
            tenant=self.tenant,
        )


def _is_json(content: bytes) -> bool:
    try:
        json.loads(content)
    except ValueError:
        return False
    return True


def _segment(value: str | int) -> str:
    """A path segment from an id, quoted so it cannot change the path."""
    text = str(value).strip()
    if not text:
        raise ValueError("an empty id")
    return quote(text, safe="")


def _query_value(value: Any) -> str | int:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    return str(value)


def _list_query(lastmodified: datetime | date | None, limit: int, **filters: Any) -> dict[str, Any]:
    """A list's query: the filters as given, ``lastmodified`` in Fortnox's form, a checked ``limit``."""
    since = format_lastmodified(lastmodified) if lastmodified is not None else None
    return {**filters, "lastmodified": since, "limit": _check_limit(limit)}


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= PAGE_LIMIT:
        raise ValueError(f"limit must be between 1 and {PAGE_LIMIT}")
    return limit
