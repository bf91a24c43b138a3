"""Bounded failures: a rank in an endless loop, one leaving by sys.exit(0) or sys.exit(3), one
killed: each job ends with a nonzero status (the collective deadline set here is 2 s) and no
process of it is left. Ranks out of step, with different models or different initial parameters
fail clearly; a launcher without MPI, or without mpi4py, is a clear error; bad timeouts; the
launcher's pass-through of --hostfile, --host and mpirun options."""
import os
import signal
import subprocess
import sys

import pytest

import minicell as mc
from minicell import communication as comm
from minicell import nn, run
from minicell._runtime import world as _world
from minicell.communication import management
from minicell.nn.distributed import step_header
from tests.jobs import ENV, ROOT, finish, start
from tests.simulated_world import run_ranks

FAULT = """
import os, signal, sys, time, numpy as np, minicell.communication as comm
comm.init()
print("pid", os.getpid(), flush=True)
comm.barrier()
if comm.get_rank() == 1:
    how = sys.argv[1]
    if how == "loop":
        while True:
            pass
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.exit(0 if how == "exit0" else 3)
comm.reproducible_sum([np.ones(10, np.float32)])
print("rank 0 went on", flush=True)
"""

DEADLINE = {**ENV, "MINICELL_COLLECTIVE_TIMEOUT": "2"}


def session_processes(sid):
    """Pids of the live processes of session ``sid`` (the job: launcher, mpirun, daemons, ranks)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[3]) == sid:
                found.append(int(entry))
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("how", ["loop", "exit0", "exit3", "kill"])
def test_a_stuck_exiting_or_killed_rank_ends_the_job_nonzero_and_leaves_no_process(tmp_path, how):
    script = tmp_path / "fault.py"
    script.write_text(FAULT)
    job = start([sys.executable, "-m", "minicell.run", "-n", "2", str(script), how], env=DEADLINE)
    code, out, err = finish(job, 90)  # a safety net: the deadline inside is 2 s
    assert code != 0, (out, err)
    assert "rank 0 went on" not in out
    if how != "kill":
        assert "waited 2 s in the" in err, err
    ranks = [int(line.split()[1]) for line in out.splitlines() if line.startswith("pid ")]
    assert len(ranks) == 2
    assert session_processes(job.pid) == [] and not any(alive(pid) for pid in ranks)


def test_the_step_header_names_ranks_out_of_step_or_with_other_models():
    def outcome(world, hidden, step):
        net = nn.Dense(3, hidden, generator=mc.Generator().manual_seed(0))
        try:
            return step_header(world, 4, list(net.trainable_params()), step, True)
        except RuntimeError as error:
            return str(error)
    models = run_ranks(2, lambda w: outcome(w, 2 + w.rank, 0))
    assert models[0] == models[1] and models[0].startswith(
        "For 'TrainOneStepCell', 'ranks' must be at the same step with the same model (every rank must build the same "
        "model and call the training step as often), but got ranks out of step or with different models: "
        "rank 0 is at step 0 with 2 parameters of 8 elements")
    steps = run_ranks(3, lambda w: outcome(w, 2, 5 if w.rank == 2 else 4))
    assert steps[0] == steps[2] and "rank 2 is at step 5" in steps[0]
    assert run_ranks(2, lambda w: outcome(w, 2, 1)) == [[4, 4], [4, 4]]


DIVERGE = """
import numpy as np, minicell as mc, minicell.communication as comm
from minicell import nn
comm.init()
net = nn.SequentialCell(nn.Dense(2, 3, generator=mc.Generator().manual_seed(0)),
                        nn.Dense(3, 2, generator=mc.Generator().manual_seed(comm.get_rank())))
step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.Adam(net.trainable_params()))
rows = 2
step(mc.Tensor(np.ones((rows, 2), np.float32)), mc.Tensor(np.zeros(rows, np.int64)))
print("trained", flush=True)
"""


def test_ranks_with_different_initial_parameters_fail_naming_the_first_one(tmp_path):
    script = tmp_path / "diverge.py"
    script.write_text(DIVERGE)
    code, out, err = finish(start([sys.executable, "-m", "minicell.run", "-n", "2", str(script)], env=DEADLINE), 90)
    assert code != 0 and "trained" not in out
    assert ("For 'TrainOneStepCell', 'parameters' must be the same on every rank before training (the same seeds, "
            "initializers and checkpoints), but got parameter '1.weight' with other values on rank 1 than on rank 0."
            ) in err


def test_a_launcher_without_mpi_or_without_mpi4py_is_a_clear_error():
    slurm = {k: v for k, v in ENV.items() if k not in _world.LAUNCH_SIZE_VARIABLES}
    slurm.update(SLURM_PROCID="0", SLURM_NTASKS="2")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "train_mlp.py"), "--epochs", "1"],
                         capture_output=True, text=True, timeout=120, env=slurm)
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "train_mlp.py: error: For 'init', 'world size' must be 2, the ranks Slurm started (SLURM_NTASKS=2; a "
        "different size means this MPI does not speak that launcher's protocol: use its mpirun, or srun --mpi=pmix "
        "with an MPI built with PMIx; or the variable is stale), but got 1.")
    code = "import sys; sys.modules['mpi4py'] = None; import minicell.communication as c; c.init()"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=slurm)
    assert out.returncode != 0
    assert ("For 'init', 'mpi4py' must be importable in a process that Slurm started (SLURM_NTASKS is set): "
            "pip install mpi4py, built against the MPI of the launcher, but got ModuleNotFoundError: ") in out.stderr


def test_launchers_are_recognised_by_their_variables(monkeypatch):
    for name in _world.LAUNCH_SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert _world.launcher() is None and _world.launched_size() == 1
    monkeypatch.setenv("PMIX_RANK", "0")
    assert _world.launcher() == ("PMIx", "PMIX_SIZE", None) and _world.launched_size() == 1
    monkeypatch.setenv("SLURM_PROCID", "1")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "3")
    monkeypatch.delenv("PMIX_RANK")
    assert _world.launcher() == ("Slurm", "SLURM_STEP_NUM_TASKS", 3)


@pytest.mark.parametrize("timeout,env,error,match", [
    (0, None, ValueError, "For 'init', 'timeout' must be a float in (0, inf), but got 0.0."),
    (-1.5, None, ValueError, "For 'init', 'timeout' must be a float in (0, inf), but got -1.5."),
    (float("inf"), None, ValueError, "For 'init', 'timeout' must be a float in (0, inf), but got inf."),
    ("5", None, TypeError, "For 'init', 'timeout' must be a real number, but got '5'."),
    (None, "soon", ValueError, "For 'init', 'MINICELL_COLLECTIVE_TIMEOUT' must be a number of seconds > 0, "
                               "but got 'soon'."),
])
def test_bad_timeouts(monkeypatch, timeout, env, error, match):
    if env is not None:
        monkeypatch.setenv("MINICELL_COLLECTIVE_TIMEOUT", env)
    with pytest.raises(error) as caught:
        comm.init(timeout=timeout)
    assert str(caught.value) == match


def test_timeout_from_the_environment(monkeypatch):
    monkeypatch.setenv("MINICELL_COLLECTIVE_TIMEOUT", "2.5")
    assert management.collective_timeout(None) == 2.5 and management.collective_timeout(7) == 7.0
    monkeypatch.delenv("MINICELL_COLLECTIVE_TIMEOUT")
    assert management.collective_timeout(None) == 300.0


def test_launcher_passes_hostfile_host_and_mpirun_options_through(monkeypatch):
    monkeypatch.setattr(run, "usable_cores", lambda: 2)
    options, extra = run.parse(["-n", "4", "--hostfile", "hosts", "--mca", "btl", "tcp,self", "--", "job.py", "-x"])
    assert (options.nproc, options.hostfile, options.script, options.args, extra) == \
        (4, "hosts", "job.py", ["-x"], ["--mca", "btl", "tcp,self"])
    cmd = run.command("mpirun", 4, "job.py", ["-x"], {"PYTHONPATH": "p", "MINICELL_COLLECTIVE_TIMEOUT": "9"},
                      hostfile="hosts", host="a:2,b:2", extra=extra, quiet=True)
    assert cmd[:7] == ["mpirun", "-n", "4", "--hostfile", "hosts", "--host", "a:2,b:2"]
    assert "--oversubscribe" not in cmd and "--mca" in cmd and cmd[-2:] == ["job.py", "-x"]
    assert cmd[cmd.index("-x") + 1] in ("MINICELL_COLLECTIVE_TIMEOUT", "PYTHONPATH")
    one_host = run.command("mpirun", 4, "job.py", [], {}, quiet=True)
    two = run.command("mpirun", 2, "j.py", [], {}, quiet=True)
    assert "--oversubscribe" in one_host and "--oversubscribe" not in two
    assert ("--allow-run-as-root" in one_host) == (os.geteuid() == 0)
    options, extra = run.parse(["-n", "2", "job.py", "--hostfile", "x"])
    assert options.hostfile is None and options.args == ["--hostfile", "x"] and extra == []


def test_a_killed_launcher_ends_its_ranks(tmp_path):
    script = tmp_path / "wait.py"
    script.write_text("import os, time, minicell.communication as c\nc.init()\nprint('pid', os.getpid(), flush=True)\n"
                      "c.barrier()\nprint('up', flush=True)\ntime.sleep(60)\n")
    job = start([sys.executable, "-m", "minicell.run", "-n", "2", str(script)], env=DEADLINE)
    seen = []
    for line in job.stdout:
        seen.append(line)
        if line.startswith("up"):
            break
    job.send_signal(signal.SIGTERM)
    code, out, _ = finish(job, 60)
    ranks = [int(line.split()[1]) for line in seen + out.splitlines() if line.startswith("pid ")]
    assert code != 0 and ranks and not any(alive(pid) for pid in ranks)
    assert not set(ranks) & set(session_processes(job.pid))
