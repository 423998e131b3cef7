"""``SqliteStore.lock``: exclusive across threads and across processes (two processes, one counter file)."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from fortnox_connector.runtime.store import SqliteStore

ROUNDS = 200


def _bump(counter: Path, journal: Path, who: str) -> None:
    """A read-modify-write of the counter, with enter/leave marks: overlapping holders would show."""
    with journal.open("a") as j:
        j.write(f"enter {who}\n")
    value = int(counter.read_text() or 0)
    counter.write_text(str(value + 1))
    with journal.open("a") as j:
        j.write(f"leave {who}\n")


def _contend(path: str, key: bytes, who: str, start: Any) -> None:
    """Child process: bump the shared counter ROUNDS times under the store's lock."""
    directory = Path(path).parent
    with SqliteStore(path, key) as store:
        start.wait(timeout=30)
        for _ in range(ROUNDS):
            with store.lock("refresh:acme"):
                _bump(directory / "counter", directory / "journal", who)


def _assert_never_overlapped(journal: Path, holders: int) -> None:
    lines = journal.read_text().splitlines()
    assert len(lines) == 2 * ROUNDS * holders
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        assert enter.startswith("enter ") and leave == "leave " + enter.removeprefix("enter ")


def test_two_processes_exclude_each_other(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    path = tmp_path / "state.db"
    (tmp_path / "counter").write_text("0")
    SqliteStore(path, key).close()  # migrate once, up front
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_contend, args=(str(path), key, f"p{i}", start)) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert (tmp_path / "counter").read_text() == str(2 * ROUNDS)
    _assert_never_overlapped(tmp_path / "journal", 2)
    assert {line.split()[1] for line in (tmp_path / "journal").read_text().splitlines()} == {"p0", "p1"}


def test_threads_exclude_each_other(tmp_path: Path) -> None:
    (tmp_path / "counter").write_text("0")
    with SqliteStore(tmp_path / "state.db", Fernet.generate_key()) as store:
        start = threading.Barrier(4)

        def work(i: int) -> None:
            start.wait()
            for _ in range(ROUNDS):
                with store.lock("refresh:acme"):
                    _bump(tmp_path / "counter", tmp_path / "journal", f"t{i}")

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert (tmp_path / "counter").read_text() == str(4 * ROUNDS)
    _assert_never_overlapped(tmp_path / "journal", 4)


def test_lock_files_name_no_tenant_and_other_names_do_not_block(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "state.db", Fernet.generate_key()) as store:
        before = set(os.listdir(tmp_path / "locks"))  # the store's own (creating the database)
        with store.lock("refresh:acme"), store.lock("refresh:beta"):  # different names: no deadlock
            pass
        names = set(os.listdir(tmp_path / "locks")) - before
    assert len(names) == 2 and not any("acme" in n or "beta" in n for n in names)
