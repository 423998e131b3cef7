"""The store's encryption key: from ``FORTNOX_CONNECTOR_KEY`` or a key file created with mode 0600.

The key is a Fernet key (urlsafe base64 of 32 random bytes). It is never logged or put in an error.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet

from fortnox_connector.errors import ConfigError

KEY_ENV = "FORTNOX_CONNECTOR_KEY"
PREVIOUS_KEYS_ENV = "FORTNOX_CONNECTOR_PREVIOUS_KEYS"  # comma-separated, during a key rotation
log = logging.getLogger(__name__)


def check_key(key: bytes, *, source: str) -> bytes:
    """``key`` if it is a valid Fernet key, else raise ``ConfigError`` naming ``source``, not the key."""
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise ConfigError(
            f"the encryption key from {source} is not a valid key",
            field=KEY_ENV,
            hint="use a key made by `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'` (44 characters)",
        ) from None
    return key


def load_or_create_key(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> bytes:
    """The key from ``$FORTNOX_CONNECTOR_KEY`` if set, else from ``path`` (created, mode 0600, if absent)."""
    environ = os.environ if env is None else env
    from_env = environ.get(KEY_ENV, "").strip()
    if from_env:
        return check_key(from_env.encode(), source=f"${KEY_ENV}")
    key_path = Path(path)
    try:
        return _read(key_path)
    except FileNotFoundError:
        pass
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # Write a private temporary file, then link it into place: the key file appears complete or not at all,
    # and if another process won the race its key is used.
    fd, tmp = tempfile.mkstemp(dir=key_path.parent, prefix=".key-")
    try:
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, key + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, key_path)
        except FileExistsError:
            return _read(key_path)
    finally:
        os.unlink(tmp)
    log.info("created a new encryption key file at %s (mode 0600); back it up", key_path)
    return key


def _read(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("the key file %s is readable by others (mode %o); run chmod 600 on it", path, mode)
    key = path.read_bytes().strip()
    if not key:  # created by a process that has not written it yet, or truncated
        raise ConfigError(
            f"the key file {path} is empty",
            field=KEY_ENV,
            hint=f"restore the key file from a backup or set ${KEY_ENV}",
        )
    return check_key(key, source=str(path))


def previous_keys(env: Mapping[str, str] | None = None) -> list[bytes]:
    """Keys in ``$FORTNOX_CONNECTOR_PREVIOUS_KEYS`` (comma-separated): ``SqliteStore(previous_keys=…)``."""
    environ = os.environ if env is None else env
    raw = environ.get(PREVIOUS_KEYS_ENV, "")
    return [
        check_key(k.strip().encode(), source=f"${PREVIOUS_KEYS_ENV}") for k in raw.split(",") if k.strip()
    ]
