"""Sinks that write JSON Lines: one event per line, to a text stream (stdout) or appended to a file."""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from fortnox_connector.contract.records import Event
from fortnox_connector.errors import DeliveryError
from fortnox_connector.runtime.sinks.base import check_options
from fortnox_connector.runtime.sinks.encoding import event_to_json


def _lines(events: Sequence[Event]) -> str:
    return "".join(event_to_json(e) + "\n" for e in events)


def _tenant(events: Sequence[Event]) -> str | None:
    return events[0].tenant if events else None


class StdoutSink:
    """Writes each event as a JSON line to ``stream`` (default: the process's stdout at delivery time)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def deliver(self, events: Sequence[Event]) -> None:
        if not events:
            return
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(_lines(events))
            stream.flush()
        except (OSError, ValueError) as exc:  # a closed pipe or stream
            raise DeliveryError(
                f"could not write events to standard output ({type(exc).__name__})",
                tenant=_tenant(events),
                hint="keep the reading end of the pipe open until the run ends",
            ) from exc

    def close(self) -> None:
        """Nothing to release: the stream belongs to the caller."""

    def __repr__(self) -> str:
        return "StdoutSink()"


class FileSink:
    """Appends each event as a JSON line to ``path`` and fsyncs before ``deliver`` returns.

    The batch is written under an exclusive ``flock`` in one go, so concurrent writers never interleave
    lines; if the write fails half-way the file is cut back to where it was. New files get mode 0600.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def deliver(self, events: Sequence[Event]) -> None:
        if not events:
            return
        data = _lines(events).encode()
        try:
            self._append(data)
        except OSError as exc:
            raise DeliveryError(
                f"could not append events to {self.path} ({exc.strerror or type(exc).__name__})",
                tenant=_tenant(events),
                hint="check that the directory exists and is writable and that the disk has room",
            ) from exc

    def _append(self, data: bytes) -> None:
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)  # no half line left behind
                raise
        finally:
            os.close(fd)  # also releases the flock
        if created:  # make the new directory entry durable too
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def close(self) -> None:
        """Nothing to release: the file is opened per delivery."""

    def __repr__(self) -> str:
        return f"FileSink(path={str(self.path)!r})"


def stdout_sink(options: Mapping[str, Any]) -> StdoutSink:
    check_options("stdout", options, set())
    return StdoutSink()


def file_sink(options: Mapping[str, Any]) -> FileSink:
    check_options("file", options, {"path"}, {"path"})
    return FileSink(str(options["path"]))
