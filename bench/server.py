"""The benchmark's sandbox, in a process of its own so the client's CPU and memory are measured alone.

``python -m bench.server --payments N [--rate-limit]`` seeds one tenant, prints one JSON line (base URL,
tenant, an access token, client id, seeding time) and serves until its standard input closes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from fortnox_connector.sandbox import Sandbox, SandboxOptions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("--payments", type=int, required=True)
    parser.add_argument("--rate-limit", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0, help="round trip added per request, s")
    parser.add_argument("--jitter", type=float, default=0.0, help="± seconds around --latency")
    args = parser.parse_args(argv)
    options = SandboxOptions(
        seed=args.seed,
        rate_limit=args.rate_limit,
        token_ttl=30 * 86400,
        tenants=1,
        invoices_per_tenant=30,
        payments_per_tenant=20,
        latency=args.latency,
        latency_jitter=args.jitter,
    )
    with Sandbox.start(options, host="127.0.0.1", port=0) as sb:
        tenant = sb.tenant_ids()[0]
        started = time.perf_counter()
        sb.seed_payments(tenant, args.payments)
        seeded_s = time.perf_counter() - started
        token = sb.issue_token(tenant)
        ready = {
            "base_url": sb.base_url,
            "tenant": tenant,
            "token": token["access_token"],
            "client_id": sb.client_id,
            "payments": len(sb.payments(tenant)),
            "seed_s": round(seeded_s, 3),
        }
        print(json.dumps(ready), flush=True)
        sys.stdin.read()  # the parent closes our stdin when it is done
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
