"""Named locks exclusive across threads AND processes: ``fcntl.flock`` on one file per name.

POSIX only. The lock is released when the holder leaves the ``with`` block or its process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class FileLocks:
    """``lock(name)`` holds ``<directory>/<hash of name>.lock`` exclusively for the ``with`` block.

    ``on_wait`` (tests) is called with the name just before the lock is requested.
    """

    def __init__(self, directory: str | os.PathLike[str], *, on_wait: Callable[[str], None] | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._on_wait = on_wait
        self._guard = threading.Lock()
        self._threads: dict[str, threading.Lock] = {}

    def path_for(self, name: str) -> Path:
        digest = hashlib.sha256(name.encode()).hexdigest()[:24]
        return self.directory / f"{digest}.lock"

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        with self._guard:
            in_process = self._threads.setdefault(name, threading.Lock())
        if self._on_wait is not None:
            self._on_wait(name)
        with in_process:  # flock is per open file, so threads of one process need their own lock
            fd = os.open(self.path_for(name), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
