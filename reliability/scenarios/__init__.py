"""Reliability scenarios: each module's `run(env)` returns the rows it measured (see reliability/README.md)."""
