"""The Fortnox REST client (httpx, synchronous; one instance per tenant).

Pacing lives in ``pacing``, retry timing in ``retry``, wire formats in ``wire``, error classes in ``errors``;
this module sends requests and decides, per answer, whether to return, retry or raise.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

import httpx

from fortnox_connector.errors import ConnectorError
from fortnox_connector.fortnox.errors import (
    CODE_INVALID_CONTENT_TYPE,
    CODE_INVALID_LOGIN,
    CODE_INVOICE_NOT_FOUND,
    CODE_NO_API_LICENCE,
    LICENCE_CODES,
    SCOPE_CODES,
    AmbiguousWrite,
    FortnoxError,
    FortnoxForbidden,
    FortnoxUnauthorized,
    FortnoxUnavailable,
    FortnoxValidationError,
    MalformedResponse,
    MissingLicence,
    MissingScope,
    NotFound,
    RateLimited,
    oauth_hint,
)
from fortnox_connector.fortnox.pacing import PACERS, Clock, PacerRegistry, Sleep
from fortnox_connector.fortnox.records import (
    CompanyInformation,
    Invoice,
    InvoicePayment,
    MalformedRecord,
    ModeOfPayment,
    Page,
)
from fortnox_connector.fortnox.retry import RetryPolicy, is_safe
from fortnox_connector.fortnox.wire import (
    ErrorBody,
    format_lastmodified,
    loads_lenient,
    parse_error_body,
    parse_meta,
)
from fortnox_connector.secrets import Secret

DEFAULT_BASE_URL = "https://api.fortnox.se"
PAGE_LIMIT = 500

INVOICE_FILTERS = frozenset({"cancelled", "fullypaid", "unpaid", "unpaidoverdue", "unbooked"})
PAYMENT_SORTS = frozenset({"paymentdate"})

log = logging.getLogger("fortnox_connector.fortnox")

R = TypeVar("R")
E = TypeVar("E", bound=FortnoxError)

# The scope each resource needs (Fortnox "Scopes" page), named in MissingScope hints.
_SCOPES = {
    "invoicepayments": "payment",
    "invoices": "invoice",
    "companyinformation": "companyinformation",
    "modesofpayments": "settings",
}

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before the request left: safe to retry for every method, a POST included."""


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


class _NoBody:
    """Marker: send the request without a body and without Content-Type."""


_NO_BODY = _NoBody()


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        as_float = float(value)
        if Decimal(repr(as_float)) != value:
            raise ValueError(f"amount {value} cannot be sent exactly as a JSON number")
        return as_float
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot send a {type(value).__name__} to Fortnox")


def _scope_of(path: str) -> str | None:
    parts = [p for p in path.split("/") if p]
    return _SCOPES.get(parts[1]) if len(parts) > 1 and parts[0] == "3" else None


class FortnoxClient:
    """Calls ``/3/...`` for one tenant.

    - paces requests under 25 per 5 s (sliding window) per (client id, tenant), shared by every client
      instance of that pair in the process;
    - pages by ``MetaInformation`` with ``limit=500``;
    - on 429 honours ``Retry-After``, else backs off at least one window with jitter;
    - retries 5xx and timeouts for GET/PUT-bookkeep/DELETE a bounded number of times, never a POST;
    - on 401 invalidates the token and retries once with the same method, path, query and page;
    - maps Fortnox's three error shapes to ``fortnox_connector.fortnox.errors``.

    ``pacers``, ``clock``, ``sleep`` and ``retry`` are for tests and tuning (defaults: the process-wide
    registry, ``time.monotonic``, ``time.sleep``, ``RetryPolicy()``); ``max_retries`` overrides the policy's.
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
    ) -> None:
        self.tenant = tenant
        self._tokens = tokens
        self._clock = clock
        self._sleep = sleep
        self._retry = replace(retry or RetryPolicy(), max_retries=max_retries)
        self.pacer = (pacers or PACERS).get(client_id, tenant, clock=clock, sleep=sleep)
        self._http = httpx.Client(
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "fortnox-connector"},
            follow_redirects=False,
        )
        self._count_lock = threading.Lock()
        self._requests_sent = 0
        self._throttled = 0
        self._bookkeep_with_json = False  # flipped if Fortnox answers 1000031 to a bodiless bookkeep

    # -- counters ------------------------------------------------------------
    @property
    def requests_sent(self) -> int:
        """HTTP requests sent by this client (retries included)."""
        return self._requests_sent

    @property
    def throttled_responses(self) -> int:
        """429 answers this client received (each was retried or raised ``RateLimited``)."""
        return self._throttled

    def _count(self, throttled: bool = False) -> None:
        with self._count_lock:
            if throttled:
                self._throttled += 1
            else:
                self._requests_sent += 1

    # -- raw -----------------------------------------------------------------
    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Send one logical request (paced, retried as its method allows): parsed JSON, None if empty."""
        body: Any = _NO_BODY if json is None else json
        response = self._exchange(method.upper(), path, params=params, body=body)
        return self._decode(response, method.upper(), path)

    def iter_pages(
        self, path: str, key: str, params: dict[str, Any] | None = None, *, start_page: int = 1
    ) -> Iterator[Page[dict[str, Any]]]:
        """Every page of a list from ``start_page``, fetched lazily, ``limit`` 500 unless ``params`` says."""
        page_number = start_page
        while True:
            page = self._fetch_page(path, key, params, page_number)
            yield page
            if page.last or page_number >= page.total_pages:
                return
            page_number += 1

    # -- typed ---------------------------------------------------------------
    def company_information(self) -> CompanyInformation:
        return self._get_one("/3/companyinformation", "CompanyInformation", CompanyInformation.parse)

    def list_invoice_payments(
        self,
        *,
        lastmodified: datetime | date | None = None,
        invoice_number: int | str | None = None,
        page: int = 1,
        limit: int = PAGE_LIMIT,
        sortby: str | None = None,
    ) -> Page[InvoicePayment]:
        """``lastmodified`` is sent as naive Europe/Stockholm ``YYYY-MM-DD HH:MM``."""
        if sortby is not None and sortby not in PAYMENT_SORTS:
            raise ValueError(f"sortby must be one of {sorted(PAYMENT_SORTS)}")
        params = _list_query(lastmodified, limit, invoicenumber=invoice_number, sortby=sortby)
        return self._typed_page("/3/invoicepayments", "InvoicePayments", params, page, InvoicePayment.parse)

    def get_invoice_payment(self, number: str) -> InvoicePayment:
        return self._get_one(f"/3/invoicepayments/{_segment(number)}", "InvoicePayment", InvoicePayment.parse)

    def create_invoice_payment(self, payment: dict[str, Any]) -> InvoicePayment:
        """POST once; a timeout or dropped connection raises ``AmbiguousWrite`` (never retried).

        ``payment`` is the InvoicePayment object (or already wrapped as ``{"InvoicePayment": {...}}``);
        Decimal amounts and dates are serialised exactly.
        """
        path = "/3/invoicepayments"
        body = payment if set(payment) == {"InvoicePayment"} else {"InvoicePayment": payment}
        data = self._single(self.request("POST", path, json=body), "InvoicePayment", "POST", path)
        return self._parse(InvoicePayment.parse, data, "POST", path)

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
        data = self._single(self._decode(response, "PUT", path), "InvoicePayment", "PUT", path)
        return self._parse(InvoicePayment.parse, data, "PUT", path)

    def _bookkeep(self, path: str) -> httpx.Response:
        body: Any = {} if self._bookkeep_with_json else _NO_BODY
        try:
            return self._exchange("PUT", path, params=None, body=body)
        except FortnoxValidationError as exc:
            if exc.code != CODE_INVALID_CONTENT_TYPE:
                raise
        self._bookkeep_with_json = not self._bookkeep_with_json
        log.info(
            "Fortnox refused the bookkeep's content type; trying the other form",
            extra={"tenant": self.tenant, "http_method": "PUT", "http_path": path},
        )
        other: Any = {} if self._bookkeep_with_json else _NO_BODY
        return self._exchange("PUT", path, params=None, body=other)

    def delete_invoice_payment(self, number: str) -> None:
        """Delete an unbooked payment (204). A retry after an unknown outcome that finds it gone succeeds."""
        self.request("DELETE", f"/3/invoicepayments/{_segment(number)}")

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
        return self._typed_page("/3/invoices", "Invoices", params, page, Invoice.parse)

    def get_invoice(self, document_number: str) -> Invoice:
        return self._get_one(f"/3/invoices/{_segment(document_number)}", "Invoice", Invoice.parse)

    def modes_of_payment(self) -> list[ModeOfPayment]:
        path = "/3/modesofpayments"
        return [
            self._parse(ModeOfPayment.parse, raw, "GET", path)
            for page in self.iter_pages(path, "ModesOfPayments")
            for raw in page.items
        ]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FortnoxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- paging and parsing ----------------------------------------------------
    def _fetch_page(
        self, path: str, key: str, params: Mapping[str, Any] | None, page: int
    ) -> Page[dict[str, Any]]:
        query = {"limit": PAGE_LIMIT, **(params or {}), "page": page}
        data = self.request("GET", path, params=query)
        if not isinstance(data, dict):
            raise self._malformed("GET", path, "the answer is not a JSON object")
        items = data.get(key)
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise self._malformed("GET", path, f"the answer has no list of objects under {key!r}")
        meta = parse_meta(data, page, len(items), int(query["limit"]))
        if meta is None:
            raise self._malformed("GET", path, "its MetaInformation cannot be read")
        return Page(
            items=tuple(items),
            current_page=meta.current_page,
            total_pages=meta.total_pages,
            total_resources=meta.total_resources,
        )

    def _typed_page(
        self,
        path: str,
        key: str,
        params: dict[str, Any],
        page: int,
        parse: Callable[[Mapping[str, Any]], R],
    ) -> Page[R]:
        if page < 1:
            raise ValueError("page numbers start at 1")
        raw = self._fetch_page(path, key, params, page)
        try:  # one handler for the page, not a call and a handler per item (500 a page)
            items = tuple([parse(item) for item in raw.items])
        except MalformedRecord as exc:
            raise self._malformed("GET", path, str(exc)) from exc
        return Page(
            items=items,
            current_page=raw.current_page,
            total_pages=raw.total_pages,
            total_resources=raw.total_resources,
        )

    def _get_one(self, path: str, key: str, parse: Callable[[Mapping[str, Any]], R]) -> R:
        """GET one resource wrapped as ``{key: {...}}`` and parse it."""
        data = self._single(self.request("GET", path), key, "GET", path)
        return self._parse(parse, data, "GET", path)

    def _single(self, data: Any, key: str, method: str, path: str) -> dict[str, Any]:
        value = data.get(key) if isinstance(data, dict) else None
        if not isinstance(value, dict):
            raise self._malformed(method, path, f"the answer has no object under {key!r}")
        return value

    def _parse(
        self, parse: Callable[[Mapping[str, Any]], R], raw: Mapping[str, Any], method: str, path: str
    ) -> R:
        try:
            return parse(raw)
        except MalformedRecord as exc:
            raise self._malformed(method, path, str(exc)) from exc

    def _decode(self, response: httpx.Response, method: str, path: str) -> Any:
        if response.status_code == 204 or not response.content.strip():
            return None
        data = loads_lenient(response.content)
        if data is None:
            raise self._malformed(method, path, "the answer is not JSON")
        return data

    def _malformed(self, method: str, path: str, why: str) -> MalformedResponse:
        return MalformedResponse(
            f"Fortnox's answer to {method} {path} cannot be read: {why}",
            method=method,
            path=path,
            tenant=self.tenant,
        )

    # -- sending -------------------------------------------------------------
    def _exchange(
        self, method: str, path: str, *, params: Mapping[str, Any] | None, body: Any
    ) -> httpx.Response:
        """Send until a 2xx answer comes or an error is final; returns the 2xx response."""
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        content = None if isinstance(body, _NoBody) else json.dumps(body, default=_json_default).encode()
        safe = is_safe(method, path)
        retries = 0
        reauthenticated = False
        outcome_unknown = False  # an earlier attempt may have been done (timeout, drop, 5xx)
        while True:
            token = self._token()
            headers = {**self._tokens.extra_headers(), "Authorization": f"Bearer {token.reveal()}"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            self.pacer.acquire()
            try:
                response = self._send(method, path, query, content, headers)
            except _NOT_SENT as exc:
                retries = self._retry_transport(method, path, retries, exc)
                continue
            except httpx.RequestError as exc:
                if not safe:
                    raise AmbiguousWrite(
                        f"{method} {path} got no answer ({type(exc).__name__}): Fortnox may or may not "
                        "have done it",
                        method=method,
                        path=path,
                        tenant=self.tenant,
                    ) from exc
                outcome_unknown = True
                retries = self._retry_transport(method, path, retries, exc)
                continue
            status = response.status_code
            self._log_answer(method, path, status, retries)
            if 200 <= status < 300:
                return response
            error = parse_error_body(response.content)
            if status == 401 and not reauthenticated:
                reauthenticated = True
                self._tokens.invalidate(token)
                log.info(
                    "Fortnox rejected the access token; retrying once with a fresh one",
                    extra={"tenant": self.tenant, "http_method": method, "http_path": path},
                )
                continue
            if status == 429:
                retries = self._after_429(method, path, retries, response, error)
                continue
            if status >= 500:
                if not safe:
                    raise self._error(AmbiguousWrite, method, path, status, error)
                outcome_unknown = True
                if retries >= self._retry.max_retries:
                    raise self._error(FortnoxUnavailable, method, path, status, error)
                retries += 1
                self._backoff(method, path, retries, f"HTTP {status}")
                continue
            if status == 404 and method == "DELETE" and outcome_unknown:
                return httpx.Response(204, request=response.request)  # an earlier attempt deleted it
            raise self._error(self._error_class(status, error), method, path, status, error)

    def _send(
        self, method: str, path: str, query: dict[str, Any], content: bytes | None, headers: dict[str, str]
    ) -> httpx.Response:
        """One HTTP exchange inside the pacer's slot, released when the answer is read (or it failed).

        Counted inside the ``try``: anything raised after ``acquire()`` (a KeyboardInterrupt) frees the slot.
        """
        try:
            self._count()
            return self._http.request(method, path, params=query, content=content, headers=headers)
        finally:
            self.pacer.release()

    def _token(self) -> Secret:
        try:
            return self._tokens.access_token()
        except ConnectorError as exc:
            exc.with_tenant(self.tenant)
            raise

    def _retry_transport(self, method: str, path: str, retries: int, exc: httpx.RequestError) -> int:
        if retries >= self._retry.max_retries:
            raise FortnoxUnavailable(
                f"{method} {path} failed {retries + 1} times; last: {type(exc).__name__}",
                method=method,
                path=path,
                tenant=self.tenant,
            ) from exc
        retries += 1
        self._backoff(method, path, retries, type(exc).__name__)
        return retries

    def _backoff(self, method: str, path: str, retry: int, why: str) -> None:
        delay = self._retry.backoff(retry)
        log.warning(
            "Fortnox %s %s failed (%s); retry %d in %.1f s",
            method,
            path,
            why,
            retry,
            delay,
            extra={"tenant": self.tenant, "http_method": method, "http_path": path},
        )
        self._sleep(delay)

    def _after_429(
        self, method: str, path: str, retries: int, response: httpx.Response, error: ErrorBody
    ) -> int:
        """Pause the pair's pacer and return the new retry count, or raise ``RateLimited``.

        The pause applies even when this request gives up, so the pair's other requests let the window
        recover; a ``Retry-After`` too long to wait out is raised at once and pauses nobody.
        """
        self._count(throttled=True)
        self.pacer.record_throttled()
        retry_after = self._retry.parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None and retry_after > self._retry.max_retry_after:
            err = self._error(RateLimited, method, path, 429, error)
            err.retry_after = retry_after
            raise err
        retries += 1
        delay = self._retry.rate_limit_delay(retries, retry_after)
        self.pacer.pause_until(self.pacer.clock() + delay)
        if retries > self._retry.max_retries:
            err = self._error(RateLimited, method, path, 429, error)
            err.retry_after = delay
            raise err
        log.warning(
            "Fortnox rate limit hit on %s %s; every request of this tenant pauses %.1f s (retry %d)",
            method,
            path,
            delay,
            retries,
            extra={"tenant": self.tenant, "http_method": method, "http_path": path, "http_status": 429},
        )
        return retries

    def _log_answer(self, method: str, path: str, status: int, retries: int) -> None:
        log.debug(
            "Fortnox %s %s -> %d",
            method,
            path,
            status,
            extra={"tenant": self.tenant, "http_method": method, "http_path": path, "http_status": status},
        )

    @staticmethod
    def _error_class(status: int, error: ErrorBody) -> type[FortnoxError]:
        code = error.code
        if code in LICENCE_CODES:
            return MissingLicence
        if code in SCOPE_CODES:
            return MissingScope
        if status == 404 or code == CODE_INVOICE_NOT_FOUND:
            return NotFound
        if status == 401 or code in CODE_INVALID_LOGIN:
            return FortnoxUnauthorized
        if status == 403:
            return FortnoxForbidden
        if status == 429:
            return RateLimited
        if status >= 500:
            return FortnoxUnavailable
        return FortnoxValidationError

    def _error(self, cls: type[E], method: str, path: str, status: int, error: ErrorBody) -> E:
        what = f"Fortnox answered {status} to {method} {path}"
        if error.code is not None:
            what += f" with code {error.code}"
        if error.oauth_error:
            what += f" ({error.oauth_error})"
        if error.message:
            what += f": {error.message}"
        if cls is AmbiguousWrite:
            what += "; it may or may not have been done"
        hint = oauth_hint(error.oauth_error)
        if cls is MissingLicence and error.code == CODE_NO_API_LICENCE:
            hint = "the company has no Fortnox API (integration) licence: the customer must add it in Fortnox"
        scope = _scope_of(path)
        if cls is MissingScope and scope:
            hint = f"reconnect the tenant granting the Fortnox scope '{scope}'"
        return cls(
            what,
            status=status,
            code=error.code,
            fortnox_message=error.message,
            method=method,
            path=path,
            tenant=self.tenant,
            hint=hint,
        )


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
