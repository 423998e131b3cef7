"""Benchmarks against the sandbox on loopback: `make bench` (never asserted by a timed test)."""
