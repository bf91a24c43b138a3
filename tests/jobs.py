"""Subprocess jobs for the distributed tests: each in its own session, killed whole on timeout."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def start(command: list[str], env: dict | None = None) -> subprocess.Popen:
    """Start ``command`` at the repository root, in a new session, output captured as text."""
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV if env is None else env, cwd=ROOT, start_new_session=True)


def finish(process: subprocess.Popen, timeout: float = 90) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)``; the whole session (launcher, mpirun, ranks) is killed on timeout."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return process.returncode, out, err
