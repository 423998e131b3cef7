"""``python -m bench.scale`` (``make bench-scale``): a night of N tenants on 1, 2 and 4 Temporal workers vs
SQLite ``serve --once``, on the same sandbox (own process, rate limit on).

For each setup: a first night backfills, then an **idle** night (nothing new: the goal is 1 request per
tenant and trigger) and a night after **10 new payments** per tenant. Figures: wall time, Fortnox API
requests per tenant per trigger, 429s, the scaling ratio 1 → 4 workers, and for the Temporal setups the CPU
seconds each part used during the night (Temporal's server, PostgreSQL, the sandbox, the workers). Each night
prints a line on stderr as it ends (and its progress every tenth of the tenants), so a long run can be
followed. Results go to ``bench/results/scale-<date>.json`` (``--out`` to choose); docs/temporal.md explains
them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fortnox_connector.temporal.local import TRIGGERS, LocalCluster, NightFigures, _api_requests, cli

RESULTS = Path(__file__).parent / "results"
NIGHTS = ("backfill", "idle", "new_payments")


def say(text: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def progress_of(label: str) -> Callable[[int, int], None]:
    """Tell every tenth of the tenants done (and the last)."""
    started = time.perf_counter()

    def tell(done: int, total: int) -> None:
        step = max(1, total // 10)
        if done % step == 0 or done == total:
            say(f"  {label}: {done}/{total} tenants, {time.perf_counter() - started:.1f} s")

    return tell


def temporal_setup(tenants: int, workers: int, new_payments: int) -> dict[str, Any]:
    setup = f"temporal x{workers}"
    started = time.perf_counter()
    with LocalCluster(tenants=tenants) as cluster:
        cluster.start_workers(workers)
        say(f"{setup}: {tenants} tenants ready after {time.perf_counter() - started:.1f} s")
        figures: dict[str, Any] = {}
        for night in NIGHTS:
            if night == "new_payments":
                cluster.add_payments(new_payments)
            f = cluster.night(progress=progress_of(f"{setup} {night}"))
            figures[night] = _figures(f)
            say(f"{setup} {night}: {json.dumps(figures[night])}")
    return {"setup": setup, **figures, "setup_wall_s": round(time.perf_counter() - started, 1)}


def sqlite_setup(tenants: int, new_payments: int) -> dict[str, Any]:
    """The same nights with ``serve --once --workers 8`` on SQLite (one process)."""
    started_setup = time.perf_counter()
    with LocalCluster(tenants=tenants) as cluster:  # its sandbox and tenants; the state copied to SQLite
        env = cluster.env()
        env.pop("FORTNOX_CONNECTOR_STORE")
        _copy_tenants_to_sqlite(cluster, env)

        def night() -> dict[str, Any]:
            before = cluster.control("GET", "/stats")
            started = time.perf_counter()
            subprocess.run(  # noqa: S603 - our own CLI
                [
                    *cli(),
                    "serve",
                    "--once",
                    "--workers",
                    "8",
                    "--sink",
                    "file",
                    "--sink-option",
                    f"path={cluster.events_file}",
                    "--json",
                ],
                env=env,
                check=False,
                capture_output=True,
            )
            wall = time.perf_counter() - started
            after = cluster.control("GET", "/stats")
            requests = _api_requests(after) - _api_requests(before)
            return {
                "wall_s": round(wall, 2),
                "requests": requests,
                "requests_per_tenant_trigger": round(requests / (tenants * len(TRIGGERS)), 3),
                "rate_limited": after["rate_limited"] - before["rate_limited"],
                "load_1m": round(os.getloadavg()[0], 1),
            }

        figures: dict[str, Any] = {}
        for name in NIGHTS:
            if name == "new_payments":
                cluster.add_payments(new_payments)
            figures[name] = night()
            say(f"sqlite {name}: {json.dumps(figures[name])}")
    return {
        "setup": "sqlite serve --once (8 threads)",
        **figures,
        "setup_wall_s": round(time.perf_counter() - started_setup, 1),
    }


def _copy_tenants_to_sqlite(cluster: LocalCluster, env: dict[str, str]) -> None:
    from fortnox_connector.runtime.store import SqliteStore
    from fortnox_connector.runtime.store.postgres import PostgresStore

    home = Path(env["FORTNOX_CONNECTOR_HOME"])
    with (
        PostgresStore(cluster.store_url, cluster.key) as pg,
        SqliteStore(home / "state.db", cluster.key) as lite,
    ):
        for record in pg.list_tenants():
            lite.add_tenant(
                record.id,
                display_name=record.display_name,
                auth_mode=record.auth_mode,
                fortnox_tenant_id=record.fortnox_tenant_id,
            )
            lite.save_config(record.id, pg.load_config(record.id) or {})
            token = pg.load_token(record.id)
            assert token is not None
            lite.swap_token(record.id, None, token)


def _figures(f: NightFigures) -> dict[str, Any]:
    return {
        "wall_s": round(f.wall_s, 2),
        "requests": f.requests,
        "requests_per_tenant_trigger": round(f.requests_per_tenant_trigger, 3),
        "rate_limited": f.rate_limited,
        "events": f.events,
        "failed": f.failed,
        "cpu_s": f.cpu_s,
        "load_1m": round(os.getloadavg()[0], 1),  # the machine's load as the night ended (shared cores)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--new-payments", type=int, default=10)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--out", type=Path, help="the results file (default bench/results/scale-<date>.json)")
    args = parser.parse_args(argv)
    out: Path = args.out or RESULTS / f"scale-{datetime.now(UTC):%Y-%m-%d}.json"
    started = time.perf_counter()
    rows = []
    for n in args.workers:
        rows.append(temporal_setup(args.tenants, n, args.new_payments))
        print(json.dumps(rows[-1]), flush=True)
    if not args.no_sqlite:
        rows.append(sqlite_setup(args.tenants, args.new_payments))
        print(json.dumps(rows[-1]), flush=True)
    walls = {r["setup"]: r["idle"]["wall_s"] for r in rows}
    one, four = walls.get("temporal x1"), walls.get("temporal x4")
    summary = {
        "tenants": args.tenants,
        "rows": rows,
        "scaling_1_to_4_idle": round(one / four, 2) if one and four else None,
        "total_wall_s": round(time.perf_counter() - started, 1),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}), flush=True)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
