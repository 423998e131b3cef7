"""The README's host is a test: in a fresh virtualenv with only the plain install (no extras), the README's
host script polls both triggers and registers a payment against the sandbox, and ``mypy --strict`` passes
on it.

Offline and quick: the venv is made without pip (the test's own pip installs the wheel into it with
``--python``, built by the test environment's hatchling, ``--no-index``); its dependencies are exactly the
plain install's closure, linked from the test environment into a directory the venv reads through a
``.pth`` file (so an extra's package, e.g. click, is absent there). The sandbox runs in the test's own
process on loopback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import Distribution, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from fortnox_connector.sandbox import Sandbox, SandboxOptions

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 25
EXTRAS_ONLY = ("click", "rich", "croniter", "websockets", "starlette")


def readme_host() -> str:
    """The first Python block of the README's "How a host loads it"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## How a host loads it") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "the README's host section has no Python block"
    return match.group(1)


def plain_closure(name: str = "fortnox-connector") -> list[Distribution]:
    """The distributions the plain install brings (requirements without extras), ours excluded."""
    seen: dict[str, Distribution] = {}
    todo = [Requirement(r) for r in distribution(name).requires or ()]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = req.name.lower().replace("_", "-")
        if key in seen:
            continue
        seen[key] = distribution(req.name)
        todo += [Requirement(r) for r in seen[key].requires or ()]
    return list(seen.values())


def link_site(dists: list[Distribution], into: Path) -> None:
    """Link each distribution's top-level files and its metadata into ``into`` (a site directory)."""
    into.mkdir()
    for dist in dists:
        base = Path(str(dist.locate_file("")))
        tops = {Path(str(f)).parts[0] for f in dist.files or () if not str(f).startswith("..")}
        for top in tops:
            if not (into / top).exists() and (base / top).exists():
                (into / top).symlink_to(base / top)


def run(
    args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``args`` (our own interpreters and fixed code), capturing its output as text."""
    return subprocess.run(args, check=False, capture_output=True, text=True, env=env, cwd=cwd)  # noqa: S603


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the wheel installed and only the plain install's dependencies visible."""
    tmp = tmp_path_factory.mktemp("host")
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    link_site(plain_closure(), tmp / "plain-site")
    (site / "plain-dependencies.pth").write_text(str(tmp / "plain-site") + "\n")
    pip_env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    pip_env["PIP_CONFIG_FILE"] = os.devnull
    quiet = ["--quiet", "--no-index", "--no-deps", "--no-cache-dir", "--disable-pip-version-check"]
    wheel = [sys.executable, "-m", "pip", "wheel", *quiet, "--no-build-isolation", "-w", str(tmp / "wheels")]
    built = run([*wheel, str(ROOT)], cwd=tmp, env=pip_env)  # built here: hatchling is a dev package
    assert built.returncode == 0, built.stderr
    [whl] = (tmp / "wheels").glob("fortnox_connector-*.whl")
    done = run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", *quiet, str(whl)], env=pip_env
    )
    assert done.returncode == 0, done.stderr
    return env_dir


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(SandboxOptions(rate_limit=False), host="127.0.0.1", port=0) as sb:
        yield sb


@pytest.mark.install
def test_the_readme_host_runs_on_the_plain_install_and_mypy_strict_passes_on_it(
    plain_venv: Path, sandbox: Sandbox, tmp_path: Path
) -> None:
    script = readme_host()
    assert len(script.splitlines()) <= MAX_LINES
    assert "fortnox_connector._" not in script and re.findall(r"from (\S+) import", script) == [
        "fortnox_connector.contract"
    ]
    host = tmp_path / "host.py"
    host.write_text(script)
    company = sandbox.tenant_ids()[0]
    today = datetime.now(UTC).date()
    sandbox.add_invoice(
        company, DocumentNumber=9001, Total="1000.00", InvoiceDate=str(today - timedelta(days=3))
    )
    payment = {
        "invoice": {"document_number": "9001"},
        "amount": "1000.00",
        "currency": "SEK",
        "payment_date": str(today),
        "mode_of_payment": "BG",
        "mode_of_payment_account": 1930,
        "idempotency_key": "host-1",
    }
    env = {
        "PATH": os.environ["PATH"],
        "FORTNOX_URL": sandbox.base_url,
        "FORTNOX_CLIENT_ID": sandbox.client_id,
        "FORTNOX_CLIENT_SECRET": sandbox.client_secret,
        "FORTNOX_TENANT_ID": str(company),
        "PAYMENT": json.dumps(payment),
    }
    python = str(plain_venv / "bin" / "python")
    done = run([python, "-I", str(host)], env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("payment_received ['fortnox:acme:payment:") and lines[1].startswith(
        "invoice_paid ['fortnox:acme:invoice:"
    )
    assert re.fullmatch(r"register_payment \d+ True", lines[2])
    assert [p for p in sandbox.payments(company) if int(p["InvoiceNumber"]) == 9001]

    typed = run(
        [sys.executable, "-m", "mypy", "--strict", "--python-executable", python, str(host)], cwd=tmp_path
    )
    assert typed.returncode == 0, typed.stdout


@pytest.mark.install
def test_the_plain_install_has_no_extras_and_the_cli_names_the_extra(plain_venv: Path) -> None:
    python = str(plain_venv / "bin" / "python")
    for module in EXTRAS_ONLY:
        assert run([python, "-I", "-c", f"import {module}"]).returncode != 0, f"{module} is installed"
    cli = run(
        [python, "-I", "-c", "from fortnox_connector.runtime.launch import main; raise SystemExit(main())"]
    )
    assert cli.returncode == 2 and "pip install 'fortnox-connector[runtime]'" in cli.stderr
    assert len(plain_closure()) >= 7
    requires = distribution("fortnox-connector").requires or []
    plain = [r for r in requires if "extra ==" not in r]
    assert len(plain) == 7, plain  # httpx, msgspec, authlib, pluggy, PyYAML, jsonschema, tzdata
