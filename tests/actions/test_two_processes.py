"""Exactly once across processes: two processes share the SQLite state file and the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from fortnox_connector.runtime.store import SqliteStore
from fortnox_connector.sandbox import Sandbox
from tests.actions.test_register_payment import DOC, add, pay, payments_of

ROOT = Path(__file__).resolve().parents[2]


def test_same_key_from_two_processes_at_once_pays_once(
    sandbox: Sandbox, sandbox_tenant: int, tmp_path: Path
) -> None:
    add(sandbox, sandbox_tenant)
    db, key = tmp_path / "state.db", Fernet.generate_key().decode()
    SqliteStore(db, key.encode()).close()  # migrate once, up front
    args = {
        "base_url": sandbox.base_url,
        "token": str(sandbox.issue_token(sandbox_tenant)["access_token"]),
        "tenant": str(sandbox_tenant),
        "db": str(db),
        "key": key,
        "input": pay(),
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    procs = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and worker module
            [sys.executable, "-m", "tests.actions.worker", json.dumps(args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        for _ in range(2)
    ]
    for proc in procs:  # both imported and waiting: release them together
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r["posts"] for r in results) == [0, 1]
    assert sorted(r["out"]["idempotent_replay"] for r in results) == [False, True]
    assert results[0]["out"]["payment_number"] == results[1]["out"]["payment_number"]
    assert len(payments_of(sandbox, sandbox_tenant, DOC)) == 1
