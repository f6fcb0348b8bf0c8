"""`python -m reliability`: hostile input, secrets, faults, nothing lost, TLS and proxy — measured, with a table.

Each scenario module under `reliability/scenarios/` exposes `run(env) -> list[Row]`; `__main__` runs them all,
prints one table and writes it to `reliability/results.md`. See `reliability/README.md`.
"""
