"""`python -m reliability.killing_runner WHEN [runner arguments]`: xsoar_runner, killed with SIGKILL at the moment a
run would save what it just received - the window in which a crash loses it.

WHEN is `token` (a write that would store a new refresh token: the token answer arrived, the save did not happen) or
`delta` (a write that would store a new delta link). The process dies without any cleanup, like a killed container.
"""
from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from xsoar_runner import cli
from xsoar_runner.context_store import FileContextStore


def refresh_tokens(context: dict[str, Any]) -> set[str]:
    auth = context.get('ms_auth')
    return {str(entry['refresh_token']) for entry in (auth.values() if isinstance(auth, dict) else ())
            if isinstance(entry, dict) and entry.get('refresh_token')}


def new_refresh_token(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return bool(refresh_tokens(new) - refresh_tokens(old))


def new_delta_link(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return old.get('graph_user_delta') != new.get('graph_user_delta') and bool(new.get('graph_user_delta'))


TRIGGERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], bool]] = {
    'token': new_refresh_token, 'delta': new_delta_link}


def install(trigger: Callable[[dict[str, Any], dict[str, Any]], bool], die: Callable[[], None]) -> Callable[[], None]:
    """Make FileContextStore.write call `die()` instead of writing when `trigger(old, new)`; returns the undo."""
    original = FileContextStore.write

    def write(self: FileContextStore, context: dict[str, Any], version: int) -> int:
        old, _ = self.read()
        if trigger(old, context):
            die()
        return original(self, context, version)

    FileContextStore.write = write  # type: ignore[method-assign]

    def undo() -> None:
        FileContextStore.write = original  # type: ignore[method-assign]
    return undo


def kill_now() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    install(TRIGGERS[argv[0]], kill_now)
    return cli.main(argv[1:])


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
