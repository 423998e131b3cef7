"""Stream benchmark: from a payment booked in the sandbox to its event at the sink, over one connection.

``python -m bench.stream [--tenants 100] [--rate 20] [--seconds 30] [--burst 2000] [--no-rate-limit]``

The sandbox runs in its own process (``bench.stream_server``) with the WebSocket feed and Fortnox's rate
limit; this process runs the real ``StreamHost`` + ``FortnoxStream`` + ``FortnoxClient`` with a SQLite
state store (a checkpoint committed per feed event) and a sink that stamps each event on arrival.

1. Latency: a steady stream of bookings (``--rate`` a second for ``--seconds``, round-robin over the
   tenants, half of them paying their invoice in full) → p50, p99, max of sink time minus booking time for
   ``payment_received``; REST requests per streamed payment (the sandbox's counter).
2. Throughput: ``--burst`` bookings at once → events a second the one listener sustains (first booking to
   last event at the sink).

Results go to ``bench/results/stream-<date>.json``; docs/bench.md explains them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from cryptography.fernet import Fernet

from fortnox_connector.contract.manager import ConnectorManager
from fortnox_connector.contract.records import Event
from fortnox_connector.contract.state import Token
from fortnox_connector.runtime.catalog import ManagerCatalog
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.settings import RuntimeSettings
from fortnox_connector.runtime.store import SqliteStore
from fortnox_connector.runtime.streaming import StreamHost, stream_spec
from fortnox_connector.secrets import Secret

RESULTS = Path(__file__).parent / "results"


class StampingSink:
    """Records when each dedup key arrived; ``wait`` blocks until a set of keys is in."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.events = 0
        self._cond = threading.Condition()

    def deliver(self, events: Sequence[Event]) -> None:
        now = time.time()
        with self._cond:
            for e in events:
                self.arrived.setdefault(e.dedup_key, now)
            self.events += len(events)
            self._cond.notify_all()

    def close(self) -> None:
        return None

    def wait(self, keys: set[str], timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: keys <= self.arrived.keys(), timeout)


class Server:
    def __init__(self, tenants: int, rate_limit: bool) -> None:
        cmd = [sys.executable, "-m", "bench.stream_server", "--tenants", str(tenants)]
        cmd += ["--rate-limit"] if rate_limit else []
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # noqa: S603
        self.ready: dict[str, Any] = self._read()

    def _read(self) -> dict[str, Any]:
        out: IO[str] | None = self.proc.stdout
        assert out is not None
        answer: dict[str, Any] = json.loads(out.readline())
        return answer

    def ask(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)


def _runtime(server: Server, home: Path) -> Runtime:
    r = server.ready
    settings = RuntimeSettings(
        home=home,
        client_id=r["client_id"],
        client_secret=Secret(r["client_secret"]),
        api_url=r["base_url"],
        auth_url=r["base_url"],
        feed_url=r["feed_url"],
    )
    store = SqliteStore(settings.db_path, Fernet.generate_key())
    for t in r["tenants"]:
        name = f"t{t['id']}"
        store.add_tenant(name, display_name=name, auth_mode="authorization_code")
        token = Token(
            Secret(t["access_token"]),
            datetime.now(UTC) + timedelta(days=29),
            frozenset({"invoice", "payment", "companyinformation", "settings"}),
            Secret(t["refresh_token"]),
        )
        store.swap_token(name, None, token)
    return Runtime(settings=settings, store=store, catalog=ManagerCatalog(ConnectorManager.load()))


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    server = Server(args.tenants, not args.no_rate_limit)
    sink = StampingSink()
    lines: list[str] = []
    streaming = threading.Event()

    def status(line: str) -> None:
        lines.append(line)
        if line.startswith("stream streaming"):
            streaming.set()

    with tempfile.TemporaryDirectory() as home, _runtime(server, Path(home)) as runtime:
        host = StreamHost(runtime, stream_spec(runtime), sink, status=status, status_every_s=3600)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete, args=(host.run(),), daemon=True)
        thread.start()
        try:
            assert streaming.wait(60), lines
            result = {
                "tenants": args.tenants,
                "rate_limit": not args.no_rate_limit,
                "latency": _latency(server, sink, args),
                "throughput": _throughput(server, sink, args),
            }
        finally:
            loop.call_soon_threadsafe(host.stop)
            thread.join(60)
            server.close()
    return result


def _booked_keys(booked: list[list[Any]]) -> dict[str, float]:
    return {f"fortnox:t{tenant}:payment:{number}:booked": stamp for tenant, number, stamp in booked}


def _latency(server: Server, sink: StampingSink, args: argparse.Namespace) -> dict[str, Any]:
    count = int(args.rate * args.seconds)
    server.ask(f"prepare {count}")
    before = server.ask("stats")["requests"]
    booked = _booked_keys(server.ask(f"book {args.rate}")["booked"])
    complete = sink.wait(set(booked), timeout=args.seconds + 120)
    requests = server.ask("stats")["requests"] - before
    waits = [sink.arrived[k] - t for k, t in booked.items() if k in sink.arrived]
    return {
        "payments": count,
        "rate_per_s": args.rate,
        "all_arrived": complete,
        "p50_ms": round(statistics.median(waits) * 1000, 1),
        "p99_ms": round(_percentile(waits, 99) * 1000, 1),
        "max_ms": round(max(waits) * 1000, 1),
        "rest_requests_per_payment": round(requests / count, 3),
    }


def _throughput(server: Server, sink: StampingSink, args: argparse.Namespace) -> dict[str, Any]:
    server.ask(f"prepare {args.burst}")
    events_before = sink.events
    booked = _booked_keys(server.ask("book 0")["booked"])
    complete = sink.wait(set(booked), timeout=600)
    first = min(booked.values())
    last = max(sink.arrived[k] for k in booked if k in sink.arrived)
    events = sink.events - events_before
    return {
        "payments": args.burst,
        "all_arrived": complete,
        "seconds": round(last - first, 2),
        "payments_per_s": round(args.burst / (last - first), 1),
        "events_per_s": round(events / (last - first), 1),  # payment_received + invoice_paid
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stream", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0, help="bookings a second in the latency phase")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--no-rate-limit", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10 tenants, 5 s, a burst of 100 (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        args.tenants, args.seconds, args.burst = 10, 5.0, 100
    result = run(args)
    print(json.dumps(result, indent=2))
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        suffix = "-no-rate-limit" if args.no_rate_limit else ""
        (RESULTS / f"stream-{datetime.now(UTC).date().isoformat()}{suffix}.json").write_text(
            json.dumps(result, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
