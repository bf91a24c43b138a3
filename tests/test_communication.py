"""minicell.communication: the world of one, the MPI world (real mpirun runs), the launcher,
agreement checks, DistributedGradReducer, and faults that must end a job instead of hanging."""
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

import minicell as mc
from minicell import communication as comm
from minicell import nn, run
from minicell._runtime import world as _world
from minicell.communication.agreement import agree_in, check_replicas_in
from minicell.nn.distributed import reduce_weighted
from tests.jobs import ENV, finish, start
from tests.simulated_world import run_ranks


def launch(ranks, script, *args, timeout=60):
    """``python -m minicell.run -n ranks script args``: (exit code, stdout, stderr, seconds)."""
    t0 = time.monotonic()
    code, out, err = finish(start([sys.executable, "-m", "minicell.run", "-n", str(ranks), str(script), *args]),
                            timeout)
    return code, out, err, time.monotonic() - t0


def test_import_and_init_outside_mpirun_never_touch_mpi():
    code = ("import sys, minicell, minicell.communication as c; c.init(); c.init(); c.barrier(); "
            "print(c.get_rank(), c.get_group_size(), 'mpi4py' in sys.modules)")
    env = {k: v for k, v in ENV.items() if k not in _world.LAUNCH_SIZE_VARIABLES}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.stdout.split() == ["0", "1", "False"], out.stderr


def test_a_launched_rank_that_did_not_call_init_is_told_to(monkeypatch):
    monkeypatch.setattr(_world, "_state", {"world": None})
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "3")
    with pytest.raises(RuntimeError, match=r"^For 'minicell.communication', 'init\(\)' must be called before training "
                                           r"in a process that an MPI launcher started, but got one of 3 ranks that "
                                           r"has not called it\.$"):
        comm.get_rank()


def test_init_refuses_other_backends():
    with pytest.raises(ValueError, match="'backend_name' must be None or 'mpi', but got 'nccl'"):
        comm.init("nccl")


def test_launcher_finds_mpirun_and_adds_what_a_small_root_machine_needs():
    mpirun = run.find_mpirun()
    assert mpirun and os.access(mpirun, os.X_OK)
    env = run.environment(3)
    threads = str(max(1, (os.cpu_count() or 1) // 3))
    assert all(env[name] == threads for name in run.THREAD_VARIABLES)
    cmd = run.command(mpirun, 3, "job.py", ["--x", "1"], env)
    assert cmd[:3] == [mpirun, "-n", "3"] and "--oversubscribe" in cmd and cmd[-3:] == ["job.py", "--x", "1"]
    assert ("--allow-run-as-root" in cmd) == (os.geteuid() == 0)


def test_agree_gives_every_rank_the_same_error():
    def outcome(world, settings, error):
        try:
            agree_in(world, settings, error)
        except ValueError as failure:
            return str(failure)
        return "ok"
    differ = run_ranks(3, lambda w: outcome(w, f"--batch {16 + 16 * (w.rank == 2)}", None))
    assert differ == ["For 'agree', 'settings' must be the same on every rank (ranks started with the same flags), "
                      "but got rank 0 with --batch 16 and rank 2 with --batch 32."] * 3
    failing = run_ranks(3, lambda w: outcome(w, "--batch 16", "bad checkpoint" if w.rank == 1 else None))
    assert failing == ["bad checkpoint"] * 3
    assert run_ranks(2, lambda w: outcome(w, "--batch 16", None)) == ["ok", "ok"]
    with pytest.raises(ValueError, match="^boom$"):
        comm.agree("--batch 16", "boom")


def test_check_replicas_fails_on_every_rank_when_parameters_diverge():
    def outcome(world):
        cell = nn.Dense(2, 2, generator=mc.Generator().manual_seed(int(world.rank == 1)))
        try:
            return check_replicas_in(world, cell)
        except RuntimeError as failure:
            return str(failure)
    results = run_ranks(2, outcome)
    assert results[0] == results[1]
    assert results[0].startswith("For 'check_replicas', 'cell' must be a Cell whose parameters are the same on every "
                                 "rank, but got diverged replicas: parameters ")


def test_reduce_weighted_is_the_same_for_any_spread_of_micro_batches():
    rng = np.random.default_rng(0)
    grads = [[rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal(4)] for _ in range(5)]
    weights = [0.25, 0.25, 0.25, 0.125, 0.125]
    shapes, dtypes = [(3, 2), (4,)], [np.float32, np.float64]
    alone = reduce_weighted(grads, weights, shapes, dtypes, _world.SingleProcess())
    for size, owners in ((2, [0, 1, 1, 0, 1]), (4, [3, 3, 3, 0, 2])):
        results = run_ranks(size, lambda w, owners=owners: reduce_weighted(
            [g for g, o in zip(grads, owners) if o == w.rank], [x for x, o in zip(weights, owners) if o == w.rank],
            shapes, dtypes, w))
        for result in results:
            assert all(a.tobytes() == b.tobytes() for a, b in zip(result, alone))


def test_grad_reducer_means_over_contributions_and_checks_them():
    params = [mc.Parameter(np.zeros((2,), np.float32), name="w")]
    reducer = nn.DistributedGradReducer(params)
    out = reducer([(np.array([1.0, 2.0], np.float32),), (np.array([3.0, 5.0], np.float32),)])
    assert out[0].asnumpy().tolist() == [2.0, 3.5]
    summed = nn.DistributedGradReducer(params, mean=False)((np.array([1.0, 2.0], np.float32),))
    assert summed[0].asnumpy().tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="one gradient per parameter with shapes"):
        reducer((np.zeros(3, np.float32),))
    with pytest.raises(TypeError, match="'mean' must be a bool"):
        nn.DistributedGradReducer(params, mean=1)


def test_check_replicas_returns_the_digest_in_a_world_of_one():
    cell = nn.Dense(2, 2, generator=mc.Generator())
    assert comm.check_replicas(cell) == comm.parameter_digest(cell)


MPI_SCRIPT = """
import sys, numpy as np, minicell.communication as comm, minicell as mc
from minicell._exact import exact_sum as _exact_sum
from minicell import nn
comm.init()
rank, size = comm.get_rank(), comm.get_group_size()
rng = np.random.default_rng(7)
parts = [(rng.standard_normal(501) * np.exp2(rng.integers(-50, 50, 501))).astype(np.float32) for _ in range(6)]
parts[5][:3] = [np.inf, -np.inf, np.nan]
everything = _exact_sum.exact_sum_rows(np.stack(parts[::-1]))
mine = comm.reproducible_sum(parts[rank::size])
ref = comm.reproducible_sum(parts[:1] if rank == 0 else [], shape=(501,), dtype=np.float32)
cell = nn.Dense(3, 2, generator=mc.Generator().manual_seed(rank if '--diverge' in sys.argv else 0))
comm.barrier()
if rank == 0:
    print("same", everything.tobytes() == mine.tobytes(), ref.tobytes() == parts[0].tobytes(), size)
comm.check_replicas(cell)
print("replicas ok", rank)
comm.release()
comm.release()
try:
    comm.init()
except RuntimeError as error:
    print("after release:", error)
"""


def test_reproducible_sum_over_real_mpi_ranks_and_divergence_check(tmp_path):
    script = tmp_path / "sum.py"
    script.write_text(MPI_SCRIPT)
    code, out, err, _ = launch(3, script)
    assert code == 0, err
    assert "same True True 3" in out and out.count("replicas ok") == 3
    assert out.count("after release: For 'init', 'the call' must be made before release() (MPI cannot start again "
                     "in a process that finalized it), but got a call after release().") == 3
    code, out, err, _ = launch(2, script, "--diverge")
    assert code != 0 and "but got diverged replicas" in err  # ended, not hung (the timeout is a safety net)


FAULT_SCRIPT = """
import os, signal, sys, threading, numpy as np, minicell.communication as comm
comm.init()
rank = comm.get_rank()
print(f"rank {rank} running", flush=True)
comm.barrier()  # every rank has printed its marker before rank 1 fails
if rank == 1:
    if sys.argv[1] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise RuntimeError("rank 1 failed")
comm.reproducible_sum([np.ones(10, np.float32)])
threading.Event().wait()  # the survivors never end by themselves: only the job's teardown ends them
"""


@pytest.mark.parametrize("how", ["kill", "raise"])
def test_a_rank_killed_or_raising_ends_the_job(tmp_path, how):
    """Every rank ran (a marker from each, then a barrier) before rank 1 dies; the survivors wait
    for ever, so only the launcher's teardown can end the job: the timeout is a safety net."""
    script = tmp_path / "fault.py"
    script.write_text(FAULT_SCRIPT)
    code, out, err, _ = launch(3, script, how, timeout=90)
    assert sorted(re.findall(r"^rank (\d) running$", out, re.M)) == ["0", "1", "2"], (out, err)
    assert code != 0
    if how == "raise":
        assert "RuntimeError: rank 1 failed" in err
