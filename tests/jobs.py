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


# Runs a script (argv: prefix, script, args...) and stops it for good, alive, right after it prints
# a line starting with ``prefix``: a test that kills it then knows where the kill landed.
GATE = """
import os, runpy, sys, threading
prefix, script = sys.argv[1], sys.argv[2]


class Gate:
    def __init__(self, out):
        self.out, self.line = out, ""

    def write(self, text):
        count = self.out.write(text)
        self.line += text
        while "\\n" in self.line:
            line, self.line = self.line.split("\\n", 1)
            if line.startswith(prefix):
                self.out.flush()
                threading.Event().wait()  # stopped here, alive, until the test kills the process
        return count

    def flush(self):
        self.out.flush()

    def __getattr__(self, name):
        return getattr(self.out, name)


sys.stdout = Gate(sys.stdout)
sys.argv = sys.argv[2:]
sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
runpy.run_path(script, run_name="__main__")
"""


def gate(folder: Path) -> str:
    """The path of the GATE script, written into ``folder`` (run it as ``python gate prefix script args``)."""
    path = Path(folder) / "gate.py"
    path.write_text(GATE)
    return str(path)
