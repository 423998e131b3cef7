"""Baselines the bench runs itself, against the same sandbox in the same run, so its figures read as ratios
that hold across machines: a naive httpx loop (one page at a time, no pacing, wait and retry on 429) and a
``json.loads`` floor (httpx + ``json.loads`` + reading each item's fields by key, no typed records, no
events)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from bench.remote import RemoteSandbox

PAYMENTS = "/3/invoicepayments"
FIELDS = ("Number", "InvoiceNumber", "Amount", "Currency", "PaymentDate", "Booked", "InvoiceCustomerName")


def _get(http: httpx.Client, page: int, since: str | None) -> httpx.Response:
    params: dict[str, Any] = {"limit": 500, "page": page}
    if since is not None:
        params["lastmodified"] = since
    return http.get(PAYMENTS, params=params)


def naive_loop(sb: RemoteSandbox, *, wait_on_429: float = 1.0) -> dict[str, Any]:
    """Every page, one at a time, as fast as answers come; a 429 waits ``wait_on_429`` s and asks again."""
    headers = {"Authorization": f"Bearer {sb.token}", "Accept": "application/json"}
    throttled = requests = items = 0
    started = time.perf_counter()
    with httpx.Client(base_url=sb.base_url, headers=headers, timeout=60) as http:
        page, total = 1, 1
        while page <= total:
            answer = _get(http, page, None)
            requests += 1
            if answer.status_code == 429:
                throttled += 1
                time.sleep(wait_on_429)
                continue
            data = json.loads(answer.content)
            items += len(data["InvoicePayments"])
            total = int(data["MetaInformation"]["@TotalPages"])
            page += 1
    return {
        "wall_s": round(time.perf_counter() - started, 2),
        "requests": requests,
        "client_429s": throttled,
        "items": items,
    }


def floor_client(sb: RemoteSandbox) -> httpx.Client:
    """The floor's HTTP client: made once, before any timing, as the trigger's ``FortnoxClient`` is."""
    headers = {"Authorization": f"Bearer {sb.token}", "Accept": "application/json"}
    return httpx.Client(base_url=sb.base_url, headers=headers, timeout=60)


def json_loads_floor(
    sb: RemoteSandbox, since: str | None = None, http: httpx.Client | None = None
) -> tuple[int, float]:
    """Items read and client CPU seconds: httpx, ``json.loads``, each item's usual fields read by key.

    ``since``: the ``lastmodified`` the trigger asks with, so the floor reads the very pages it reads
    (same query, ``limit`` 500), one after the other; ``http``: a client kept across runs (its connection
    alive), as the trigger's is (None: a fresh one, made before the clock starts).
    """
    own = http is None
    client = floor_client(sb) if http is None else http
    items = 0
    c0 = time.process_time()
    page, total = 1, 1
    while page <= total:
        data = json.loads(_get(client, page, since).content)
        for item in data["InvoicePayments"]:
            for name in FIELDS:
                item.get(name)
            items += 1
        total = int(data["MetaInformation"]["@TotalPages"])
        page += 1
    cpu = time.process_time() - c0
    if own:
        client.close()
    return items, cpu
