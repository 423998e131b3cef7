"""A local Fortnox emulator: OAuth, invoices, payments, rate limit, faults, control API (docs/sandbox.md)."""

from .faults import FAULT_KINDS, Stats
from .server import Sandbox, SandboxOptions, run_sandbox

__all__ = ["FAULT_KINDS", "Sandbox", "SandboxOptions", "Stats", "run_sandbox"]
