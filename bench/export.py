"""``python -m bench.export``: 1,000 invoices exported for one tenant under the real rate limit (issue 13).

The sandbox runs in its own process with its 25-per-5-s sliding window on; the connector's real
``export_invoice`` runs through the real ``FortnoxClient`` and its pacer. Measured: wall time against the
floor (requests needed ÷ 5 per second), 429s seen by the client and counted by the sandbox, requests per
invoice; then the same 1,000 again (a resumed batch: every key answers from the state). Not a test: it
asserts nothing. Results go to ``bench/results/<date>-export.json``; ``docs/bench.md`` explains them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from datetime import UTC, datetime
from typing import Any

from bench.__main__ import FORTNOX_RATE, RESULTS, machine
from bench.harness import CONFIG, make_client, make_ctx
from bench.remote import RemoteSandbox, SandboxClock
from fortnox_connector.actions import export_invoice
from fortnox_connector.contract.state import MemoryStateStore

ROWS = [
    {"description": "Subscription", "quantity": "1", "price": "49.00", "vat": "25", "account": 3001},
    {"description": "Seats", "quantity": "3", "price": "12.50", "vat": "25", "account": 3001},
    {"description": "Handbook", "quantity": "1", "price": "8.90", "vat": "6", "account": 3002},
]


def invoice(n: int) -> dict[str, Any]:
    return {
        "idempotency_key": f"bench-export-{n}",
        "source_invoice_number": str(500_000 + n),
        "customer": {"customer_number": str(1 + n % 10)},
        "invoice_date": "2026-03-01",
        "currency": "EUR",
        "currency_rate": "11.2345",
        "rows": ROWS,
        "total": "117.56",  # net 95.40; VAT 12.25 + 9.38 (9.375) + 0.53 (0.534) = 22.16
        "total_vat": "22.16",
    }


def export_all(ctx: Any, n: int) -> tuple[float, int]:
    client = ctx.client
    start, sent = time.monotonic(), client.requests_sent
    for i in range(n):
        export_invoice.run(ctx, invoice(i))
    return time.monotonic() - start, client.requests_sent - sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export")
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--numbering", choices=("fortnox", "source"), default="fortnox")
    args = parser.parse_args(argv)
    with RemoteSandbox.start(0, rate_limit=True) as sb:
        client = make_client(sb.base_url, sb.token, sb.client_id, sb.tenant, paced=True)
        config = dataclasses.replace(CONFIG, invoice_numbering=args.numbering)
        ctx = dataclasses.replace(make_ctx(client, SandboxClock(sb), MemoryStateStore()), config=config)
        wall, requests = export_all(ctx, args.invoices)
        stats = sb.stats()
        replay_wall, replay_requests = export_all(ctx, args.invoices)
        client.close()
    floor = requests / FORTNOX_RATE
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "invoices": args.invoices,
        "numbering": args.numbering,
        "requests": requests,
        "requests_per_invoice": requests / args.invoices,
        "wall_s": round(wall, 2),
        "floor_s": round(floor, 2),
        "wall_over_floor": round(wall / floor, 4),
        "client_429s": client.throttled_responses,
        "sandbox_429s": stats["rate_limited"],
        "sandbox_by_path": stats["by_path"],
        "resumed_wall_s": round(replay_wall, 3),
        "resumed_requests": replay_requests,
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{datetime.now(UTC).date().isoformat()}-export-{args.numbering}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
