"""Run register_payment once in its own process (for the cross-process exactly-once test).

Reads JSON from argv[1]: base_url, token, tenant, db, key (Fernet) and input; waits for a line on stdin.
Prints the action's output as JSON.
"""

from __future__ import annotations

import json
import sys

from fortnox_connector.actions import register_payment
from fortnox_connector.runtime.store import SqliteStore
from tests.actions.support import Recorder, make_client, make_ctx


def main() -> None:
    args = json.loads(sys.argv[1])
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()  # the parent releases both processes at once
    recorder = Recorder()
    with (
        SqliteStore(args["db"], args["key"].encode()) as store,
        make_client(args["base_url"], args["token"], args["tenant"], recorder) as client,
    ):
        out = register_payment.run(make_ctx(client, store, args["tenant"]), args["input"])
    sys.stdout.write(json.dumps({"out": dict(out), "posts": recorder.posts()}) + "\n")


if __name__ == "__main__":
    main()
