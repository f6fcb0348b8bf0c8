"""A loopback emulator of Entra ID, Microsoft Graph (users), Azure IMDS and the Cortex XSOAR oproxy.

Start one with ``emulator.start()`` (returns an ``Emulator``) or ``python -m emulator``; see emulator/README.md.
"""

from .server import DEFAULT_SEED, Emulator, start

__all__ = ["DEFAULT_SEED", "Emulator", "start"]
