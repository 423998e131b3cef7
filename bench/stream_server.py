"""The stream benchmark's sandbox, in its own process: many tenants, the WebSocket feed, bookings on command.

``python -m bench.stream_server --tenants N [--rate-limit]`` prints one JSON line (base and feed URLs,
client id and secret, per tenant its id and a token pair), then reads commands from standard input:

- ``prepare COUNT``: COUNT unbooked payments, round-robin over the tenants, each on an invoice of its own
  (half of them pay their invoice in full, so ``invoice_paid`` follows);
- ``book RATE``: book the prepared payments at RATE a second (0: as fast as possible), each stamped with
  ``time.time()`` just before the booking publishes its feed event; answers ``{"booked": [[tenant,
  number, t], …]}``;
- ``stats``: the sandbox's request counters;
- end of input: stop.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from fortnox_connector.sandbox import Sandbox, SandboxOptions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_server")
    parser.add_argument("--tenants", type=int, required=True)
    parser.add_argument("--rate-limit", action="store_true")
    args = parser.parse_args(argv)
    options = SandboxOptions(
        rate_limit=args.rate_limit,
        token_ttl=30 * 86400,
        tenants=args.tenants,
        invoices_per_tenant=0,
        payments_per_tenant=0,
        feed=True,
    )
    with Sandbox.start(options, host="127.0.0.1", port=0) as sb:
        tenants = sb.tenant_ids()
        tokens = {t: sb.issue_token(t) for t in tenants}
        ready = {
            "base_url": sb.base_url,
            "feed_url": sb.feed_url,
            "client_id": sb.client_id,
            "client_secret": sb.client_secret,
            "tenants": [
                {
                    "id": t,
                    "access_token": tokens[t]["access_token"],
                    "refresh_token": tokens[t]["refresh_token"],
                }
                for t in tenants
            ],
        }
        print(json.dumps(ready), flush=True)
        prepared: list[tuple[int, str]] = []
        for line in sys.stdin:
            command, *rest = line.split()
            if command == "prepare":
                prepared = _prepare(sb, tenants, int(rest[0]))
                print(json.dumps({"prepared": len(prepared)}), flush=True)
            elif command == "book":
                print(json.dumps({"booked": _book(sb, prepared, float(rest[0]))}), flush=True)
                prepared = []
            elif command == "stats":
                print(json.dumps(sb.stats.as_dict()), flush=True)
    return 0


def _prepare(sb: Sandbox, tenants: list[int], count: int) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for i in range(count):
        tenant = tenants[i % len(tenants)]
        doc = sb.add_invoice(tenant, Total="1000.00")["DocumentNumber"]
        amount = "1000.00" if i % 2 == 0 else "400.00"
        out.append((tenant, str(sb.add_payment(tenant, doc, AmountCurrency=amount)["Number"])))
    return out


def _book(sb: Sandbox, prepared: list[tuple[int, str]], rate: float) -> list[list[object]]:
    booked: list[list[object]] = []
    start = time.perf_counter()
    for i, (tenant, number) in enumerate(prepared):
        if rate > 0:
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)  # a steady stream of bookings (the benchmark's load, not a test wait)
        stamp = time.time()
        sb.book_payment(tenant, number)
        booked.append([tenant, number, stamp])
    return booked


if __name__ == "__main__":
    raise SystemExit(main())
