"""Scenario 3 in a fresh process: a whole backfill with the limit off, peak RSS of this (client) process.

``BENCH_TOKEN=… python -m bench.memory --base-url URL --client-id C --tenant N`` prints one JSON line
(the token comes from the environment, never the command line, where ``ps`` would show it).
RSS is sampled as pages are delivered, to show whether it grows with the number of payments.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import threading
import time
from datetime import UTC, datetime, timedelta

from bench.harness import CountingSink, make_client, make_ctx, run, summary_json, trigger_spec
from fortnox_connector.contract.state import MemoryStateStore


def peak_rss_mb() -> float:
    """This process image's high-water RSS (``VmHWM``).

    Not ``ru_maxrss``: Linux carries the pre-``exec`` RSS into it, i.e. the forking parent's size.
    """
    with open("/proc/self/status", encoding="ascii") as f:
        line = next(ln for ln in f if ln.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


class Watcher(threading.Thread):
    """Samples RSS every 5 ms in the background, to catch a peak inside a page (not only between pages)."""

    def __init__(self, delivered: list[int]) -> None:
        super().__init__(daemon=True)
        self._delivered = delivered
        self._done = threading.Event()
        self.highest = 0.0
        self.at_events = 0

    def run(self) -> None:
        while not self._done.wait(0.005):
            now = rss_mb()
            if now > self.highest:
                self.highest, self.at_events = now, self._delivered[0]

    def stop(self) -> None:
        self._done.set()
        self.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--tenant", type=int, required=True)
    parser.add_argument("--offset-s", type=float, default=0.0, help="sandbox clock minus this clock")
    args = parser.parse_args(argv)

    offset = timedelta(seconds=args.offset_s)
    samples: list[tuple[int, float]] = []
    baseline = rss_mb()
    spec = trigger_spec("payment_received")
    start_rss = rss_mb()

    highest = [0.0, 0]  # the highest RSS seen after any page, and when (events delivered)
    delivered = [0]
    watcher = Watcher(delivered)

    def sample(events: int) -> None:
        delivered[0] = events
        now = rss_mb()
        if now > highest[0]:
            highest[:] = [now, events]
        if not samples or events - samples[-1][0] >= 50_000:
            samples.append((events, round(now, 1)))

    sink = CountingSink(keep_keys=False, on_page=sample)
    with make_client(
        args.base_url, os.environ["BENCH_TOKEN"], args.client_id, args.tenant, paced=False
    ) as client:
        ctx = make_ctx(client, lambda: datetime.now(UTC) + offset, MemoryStateStore())
        started = time.perf_counter()
        watcher.start()
        outcome, _ = run(ctx, spec, sink)
        wall = time.perf_counter() - started
        watcher.stop()
    samples.append((sink.events, round(rss_mb(), 1)))
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: kilobytes, parent's included
    print(
        json.dumps(
            {
                "events": sink.events,
                "summary": summary_json(outcome.summary),
                "wall_s": round(wall, 2),
                "rss_at_start_mb": round(baseline, 1),
                "rss_after_imports_mb": round(start_rss, 1),
                "rss_samples_mb": samples,
                "highest_rss_after_a_page_mb": [round(highest[0], 1), highest[1]],
                "highest_rss_any_time_mb": [round(watcher.highest, 1), watcher.at_events],
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "ru_maxrss_mb_incl_parent_at_fork": round(maxrss_kb / 1024, 1),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
