"""Done-when of issue 2: in a fresh virtualenv, ``pip install .`` and a ten-line host script load the
connector through its entry point and list its triggers and actions with their schemas.

Offline and quick: the venv is made without pip (the test's own pip installs into it with ``--python``),
the build uses the test environment's hatchling (``--no-build-isolation``), nothing is fetched
(``--no-index``, no config file), and the dependencies come from the test environment through a ``.pth``
file. The wheel itself is built from this checkout, so the packaged ``connector.yaml`` and ``schemas/``
(pyproject's force-include) are what the host reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST = Path(__file__).with_name("host.py")


def _purelib(python: Path) -> Path:
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


@pytest.mark.install
def test_pip_install_then_a_host_script_lists_triggers_and_actions_with_schemas(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = _purelib(python)
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))},
        "PIP_CONFIG_FILE": os.devnull,
    }
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-index"]
    pip += ["--no-deps", "--no-build-isolation", "--no-cache-dir", "--disable-pip-version-check"]
    subprocess.run([*pip, str(ROOT)], check=True, cwd=tmp_path, env=pip_env, capture_output=True)  # noqa: S603
    installed = site / "fortnox_connector"
    assert (installed / "declaration" / "data" / "connector.yaml").is_file()
    assert (installed / "declaration" / "data" / "schemas" / "config.json").is_file()

    where = "import fortnox_connector.declaration.schemas as s; print(s.__file__); print(s.data_dir())"
    run = subprocess.run(  # noqa: S603 - the new venv's interpreter, fixed code
        [str(python), "-I", "-c", where], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    module, data = run.stdout.split()
    assert Path(module).is_relative_to(site) and Path(data) == installed / "declaration" / "data"

    run = subprocess.run(  # noqa: S603 - the new venv's interpreter, our host script
        [str(python), "-I", str(HOST)], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert run.stderr == ""
    lines = [line.split(" ", 2) for line in run.stdout.splitlines()]
    assert lines[0] == ["connector", "fortnox", "0.1.0 Fortnox"]
    triggers = {name: json.loads(schema) for kind, name, schema in lines if kind == "trigger"}
    actions = {name: json.loads(schemas) for kind, name, schemas in lines if kind == "action"}
    assert list(triggers) == ["payment_received", "invoice_paid"]
    assert all(schema["type"] == "object" for schema in triggers.values())
    assert list(actions) == [
        "register_payment",
        "get_invoice",
        "find_invoices",
        "upsert_customer",
        "export_invoice",
        "export_paid_invoice",
    ]
    register_in, register_out = actions["register_payment"]
    assert "idempotency_key" in register_in["required"] and "common.json" in register_in["$defs"]
    assert "payment_number" in register_out["required"]
    get_in, get_out = actions["get_invoice"]
    assert get_in["required"] == ["invoice"] and "payments" in get_out["properties"]
