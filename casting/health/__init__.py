"""Liveness and readiness probes. Other domains import nothing from it."""
