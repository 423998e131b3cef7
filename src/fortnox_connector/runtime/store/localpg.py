"""A throwaway PostgreSQL server in a temporary directory: for the tests and ``make scale-demo``.

Debian keeps ``initdb`` and ``pg_ctl`` in ``/usr/lib/postgresql/<version>/bin``, which is not on PATH, so
they are looked up there too. ``initdb`` refuses to run as root (and development machines and CI run as
root): then the cluster is created and started as the ``postgres`` system user with ``runuser``, in a
directory that user owns. The server listens on a free loopback port only (no Unix socket is needed) with
trust authentication, so it is only ever for local, disposable use: durability is switched off
(``fsync=off``) because the data dies with the directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from fortnox_connector.errors import ConfigError

SERVER_USER = "postgres"
INSTALL_HINT = "install PostgreSQL's server binaries: `apt-get install -y postgresql` (Debian/Ubuntu)"


def find_pg_bin(name: str) -> Path:
    """The path of a PostgreSQL server program (``initdb``, ``pg_ctl``): PATH first, then Debian's dirs."""
    found = shutil.which(name)
    if found:
        return Path(found)
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: _version_of(p), reverse=True
    )
    if candidates:
        return Path(candidates[0])
    raise ConfigError(f"PostgreSQL's {name} was not found", hint=INSTALL_HINT)


def _version_of(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalPostgres:
    """``with LocalPostgres() as pg: pg.url(...)``: a server for the block, its data removed afterwards.

    ``max_connections`` is generous: every worker thread holds pooled connections and every held store
    lock is one session.
    """

    max_connections: int = 400
    port: int = field(default_factory=free_port)
    directory: Path | None = None
    _tmp: Path | None = field(default=None, init=False, repr=False)

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def _run(self, *args: str, log: Path | None = None) -> None:
        command = list(args)
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            said = done.stderr.strip() + ("\n" + log.read_text()[-800:] if log and log.exists() else "")
            raise ConfigError(
                f"{Path(args[0]).name} failed (exit {done.returncode}): {said[-1200:]}",
                hint=INSTALL_HINT if done.returncode == 127 else "see the message of PostgreSQL above",
            )

    def start(self) -> LocalPostgres:
        try:
            return self._start()
        except BaseException:
            self.stop()  # a half-made cluster (or a server that started and then failed) goes away
            raise

    def _start(self) -> LocalPostgres:
        initdb, pg_ctl = find_pg_bin("initdb"), find_pg_bin("pg_ctl")
        self._tmp = Path(tempfile.mkdtemp(prefix="fortnox-pg-"))
        self.directory = self._tmp / "data"
        if self.as_root:  # initdb refuses root: the cluster belongs to the postgres user
            try:
                user = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise ConfigError(f"there is no {SERVER_USER!r} system user", hint=INSTALL_HINT) from None
            os.chown(self._tmp, user.pw_uid, user.pw_gid)
        self._run(str(initdb), "-D", str(self.directory), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        log = self._tmp / "server.log"
        for attempt in range(3):  # the free port may be taken by someone else before the server binds it
            try:
                self._run(
                    str(pg_ctl),
                    "-D",
                    str(self.directory),
                    "-o",
                    self._options(),
                    "-l",
                    str(log),
                    "-w",
                    "start",
                    log=log,
                )
                break
            except ConfigError:
                if attempt == 2:
                    raise
                self.port = free_port()
        return self

    def _options(self) -> str:
        return " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                "-c unix_socket_directories=''",
                f"-c max_connections={self.max_connections}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c shared_buffers=32MB",
            ]
        )

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while it runs (``postmaster.pid``'s first line)."""
        path = self.directory / "postmaster.pid" if self.directory is not None else None
        try:
            return int(path.read_text().split()[0]) if path is not None else None
        except (OSError, ValueError, IndexError):
            return None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name chosen by our own callers
        return self.url(name)

    def stop(self) -> None:
        if self._tmp is None:
            return
        try:
            if self.directory is not None and (self.directory / "postmaster.pid").exists():
                self._run(str(find_pg_bin("pg_ctl")), "-D", str(self.directory), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
