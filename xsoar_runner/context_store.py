"""The integration context of one instance, kept in a JSON file that several runner processes can share.

Writes are serialised with an exclusive ``flock`` on a side lock file and replace the data file atomically, so a
versioned write from a process that read an older version fails with ValueError, as it does on the server.
"""
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from demistomock import next_context_version


class FileContextStore:
    """``{"version": n, "context": {...}}`` in ``path``; implements demistomock's ``ContextStore``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.path.with_name(self.path.name + '.lock')

    @contextmanager
    def _locked(self, operation: int) -> Iterator[None]:
        with open(self._lock_path, 'a') as lock_file:
            fcntl.flock(lock_file, operation)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _load(self) -> tuple[dict[str, Any], int]:
        if not self.path.exists():
            return {}, 0
        stored = json.loads(self.path.read_text(encoding='utf-8'))
        return stored['context'], int(stored['version'])

    def read(self) -> tuple[dict[str, Any], int]:
        """The stored context and its version (0 before the first write)."""
        with self._locked(fcntl.LOCK_SH):
            return self._load()

    def write(self, context: dict[str, Any], version: int) -> int:
        """Stores ``context`` if ``version`` is -1 or still current; returns the new version, else ValueError."""
        blob = json.dumps(context)  # not JSON-serialisable: TypeError before anything is touched
        with self._locked(fcntl.LOCK_EX):
            _, current = self._load()
            new_version = next_context_version(current, version)
            tmp = self.path.with_name(f'{self.path.name}.{os.getpid()}.tmp')
            with open(tmp, 'w', encoding='utf-8') as f:
                f.write(json.dumps({'version': new_version, 'context': json.loads(blob)}, indent=2))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            return new_version
