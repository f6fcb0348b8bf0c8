"""``python -m emulator``: run the emulator until SIGTERM / SIGINT.

Prints one JSON line (the content of ``<state dir>/emulator.json``: URLs, CA bundle, admin token, registrations,
ready-made instance parameters) once both listeners accept connections.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from types import FrameType

from .server import DEFAULT_SEED, start


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Run the Entra ID / Graph / IMDS / oproxy emulator on loopback until SIGTERM or SIGINT.")
    parser.add_argument("--port", type=int, default=0, help="HTTPS port (Entra ID, Graph, oproxy); 0 = any free")
    parser.add_argument("--imds-port", type=int, default=0, help="plain-HTTP managed identity port; 0 = any free")
    parser.add_argument("--state-dir", default=None, help="where ca.pem, app certs and emulator.json go "
                                                          "(default: a temporary dir removed on exit)")
    parser.add_argument("--users", type=int, default=200, help="number of generated users (default 200)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the deterministic tenant")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    emulator = start(users=args.users, seed=args.seed, state_dir=args.state_dir, port=args.port,
                     imds_port=args.imds_port)
    try:
        print(json.dumps(emulator.info), flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
