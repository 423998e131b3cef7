"""The store key: from the environment, or a key file created once with mode 0600; never shown."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from fortnox_connector.errors import ConfigError
from fortnox_connector.runtime.store import KEY_ENV, PREVIOUS_KEYS_ENV, load_or_create_key, previous_keys


@pytest.fixture
def wide_umask() -> Iterator[None]:
    old = os.umask(0)  # the key file must be private even when the umask would allow anything
    try:
        yield
    finally:
        os.umask(old)


def test_key_file_created_private_and_reused(tmp_path: Path, wide_umask: None) -> None:
    path = tmp_path / "conf" / "store.key"
    key = load_or_create_key(path, env={})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Fernet(key)  # a valid key
    assert load_or_create_key(path, env={}) == key
    assert [p.name for p in path.parent.iterdir()] == ["store.key"]  # no temporary file left behind


def test_environment_wins_and_no_file_is_created(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    path = tmp_path / "store.key"
    assert load_or_create_key(path, env={KEY_ENV: key.decode() + "\n"}) == key
    assert not path.exists()


def test_invalid_key_in_environment_is_refused_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_or_create_key(tmp_path / "store.key", env={KEY_ENV: "not-a-key-value-xyz"})
    assert "not-a-key-value-xyz" not in str(err.value) and f"${KEY_ENV}" in str(err.value)
    assert err.value.hint


def test_readable_key_file_warns_and_works(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key = Fernet.generate_key()
    path = tmp_path / "store.key"
    path.write_bytes(key)
    path.chmod(0o644)
    caplog.set_level(logging.DEBUG)
    assert load_or_create_key(path, env={}) == key
    assert "chmod 600" in caplog.text and key.decode() not in caplog.text


def test_empty_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "store.key"
    path.write_bytes(b"")
    with pytest.raises(ConfigError, match="empty"):
        load_or_create_key(path, env={})


def test_creation_never_logs_the_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = load_or_create_key(tmp_path / "store.key", env={})
    assert "created" in caplog.text and key.decode() not in caplog.text


def test_previous_keys_from_environment() -> None:
    a, b = Fernet.generate_key(), Fernet.generate_key()
    assert previous_keys({PREVIOUS_KEYS_ENV: f"{a.decode()}, {b.decode()},"}) == [a, b]
    assert previous_keys({}) == []
    with pytest.raises(ConfigError, match=PREVIOUS_KEYS_ENV):
        previous_keys({PREVIOUS_KEYS_ENV: "nope"})
