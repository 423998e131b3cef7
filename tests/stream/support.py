"""Stream test helpers: a sink that can be waited on and held, a stream host on its own thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fortnox_connector.contract.manager import ConnectorManager
from fortnox_connector.contract.records import Event
from fortnox_connector.errors import DeliveryError
from fortnox_connector.runtime.catalog import ManagerCatalog
from fortnox_connector.runtime.context import Runtime
from fortnox_connector.runtime.streaming import StreamHost, stream_spec

TIMEOUT = 60.0  # a ceiling for waits on conditions (a loaded CI machine), never a sleep
FAST = {"backoff": {"base": 0.01, "cap": 0.05}, "token_check_s": 0.05}


class WaitingSink:
    """Collects events; ``hold()`` blocks deliveries until ``release()``; ``fail(n)`` refuses the next n."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.deliveries = 0
        self.refused = 0
        self._cond = threading.Condition()
        self._open = threading.Event()
        self._open.set()
        self._fail = 0
        self.blocked = threading.Event()  # a delivery is waiting at hold()

    def deliver(self, events: Sequence[Event]) -> None:
        if not self._open.is_set():
            self.blocked.set()
            self._open.wait()
        with self._cond:
            if self._fail > 0:
                self._fail -= 1
                self.refused += 1
                raise DeliveryError("receiver down", hint="start it")
            self.deliveries += 1
            self.events.extend(events)
            self._cond.notify_all()

    def close(self) -> None:
        return None

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def fail(self, n: int) -> None:
        with self._cond:
            self._fail += n

    @property
    def keys(self) -> list[str]:
        with self._cond:
            return [e.dedup_key for e in self.events]

    def wait_for(self, predicate: Callable[[list[Event]], bool], timeout: float = TIMEOUT) -> list[Event]:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.events), timeout):
                raise AssertionError(f"timed out; delivered so far: {[e.dedup_key for e in self.events]}")
            return list(self.events)

    def wait_keys(self, keys: set[str], timeout: float = TIMEOUT) -> list[Event]:
        return self.wait_for(lambda evs: keys <= {e.dedup_key for e in evs}, timeout)


class Lines:
    """Status lines, waitable."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, line: str) -> None:
        with self._cond:
            self.lines.append(line)
            self._cond.notify_all()

    def wait(self, predicate: Callable[[str], bool], count: int = 1, timeout: float = TIMEOUT) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: sum(1 for x in self.lines if predicate(x)) >= count, timeout)
            if not ok:
                raise AssertionError(f"timed out waiting for a status line; got: {self.lines}")


class Running:
    def __init__(self, host: StreamHost, loop: asyncio.AbstractEventLoop, lines: Lines) -> None:
        self.host = host
        self.loop = loop
        self.lines = lines

    def call(self, fn: Callable[[], Any]) -> None:
        self.loop.call_soon_threadsafe(fn)

    def wait_streaming(self, count: int = 1) -> None:
        self.lines.wait(lambda line: line.startswith("stream streaming"), count)


@contextmanager
def streaming(
    runtime: Runtime,
    sink: WaitingSink,
    on_commit: Callable[[str], None] | None = None,
    checkpoint: str | None = None,
    **settings: Any,
) -> Iterator[Running]:
    """Run the Fortnox ``invoices`` stream for ``runtime``'s tenants on a thread until the block ends."""
    runtime.catalog = ManagerCatalog(ConnectorManager.load(entry_points=False, plugins=[_plugin()]))
    lines = Lines()
    host = StreamHost(
        runtime,
        stream_spec(runtime),
        sink,
        status=lines,
        settings={**FAST, **settings},
        keep_keys=True,
        on_commit=on_commit,
        checkpoint=checkpoint,
    )
    started = threading.Event()
    holder: dict[str, Any] = {}

    def main() -> None:
        async def go() -> None:
            holder["loop"] = asyncio.get_running_loop()
            started.set()
            await host.run()

        try:
            asyncio.run(go())
        except BaseException as exc:  # surfaced by the test below
            holder["error"] = exc

    thread = threading.Thread(target=main, name="stream-host", daemon=True)
    thread.start()
    assert started.wait(TIMEOUT)
    try:
        yield Running(host, holder["loop"], lines)
    finally:
        sink.release()
        holder["loop"].call_soon_threadsafe(host.stop)
        thread.join(TIMEOUT)
    assert not thread.is_alive(), "the stream host did not stop"
    if "error" in holder:
        raise holder["error"]


def _plugin() -> object:
    from fortnox_connector import plugin

    return plugin
