"""`make demo` is a promise of the README: it must keep working on a fresh machine."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_every_step_as_expected() -> None:
    completed = subprocess.run([sys.executable, '-m', 'demo'], cwd=ROOT, capture_output=True, text=True, timeout=300,
                               env={**os.environ, 'PYTHONPATH': str(ROOT)})

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert ', 0 not.' in completed.stdout
    for section in ('client credentials', 'certificate', 'oproxy', 'managed identity, system assigned',
                    'managed identity, user assigned', 'authorization code'):
        assert section in completed.stdout.lower()
