"""Run export_paid_invoice once in its own process; optionally SIGKILL itself at a chosen request.

Reads JSON from argv[1]: base_url, token, tenant, db, key (Fernet), input and ``kill_after`` (e.g.
``"POST /3/invoices"``: the process kills itself with SIGKILL as soon as the answer to the first request
whose method and path start so has arrived, before the action sees it). Prints the action's output as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import httpx

from fortnox_connector.actions import export_paid_invoice
from fortnox_connector.runtime.store import SqliteStore
from tests.actions.support import Recorder, make_client, make_ctx


def main() -> None:
    args = json.loads(sys.argv[1])
    kill_after: str | None = args.get("kill_after")

    def maybe_die(request: httpx.Request) -> None:
        if kill_after and f"{request.method} {request.url.path}".startswith(kill_after):
            os.kill(os.getpid(), signal.SIGKILL)  # Fortnox has done it; its answer dies with us

    recorder = Recorder(after=maybe_die)
    with (
        SqliteStore(args["db"], args["key"].encode()) as store,
        make_client(args["base_url"], args["token"], args["tenant"], recorder) as client,
    ):
        out = export_paid_invoice.run(make_ctx(client, store, args["tenant"]), args["input"])
    sys.stdout.write(json.dumps({"out": dict(out), "posts": recorder.posts()}) + "\n")


if __name__ == "__main__":
    main()
