"""Data-parallel training end to end through ``python -m minicell.run``: the same fingerprint for
the plain run and W = 2, 3, 4; resume at another world size after a rank is killed; each bad
configuration is one identical line on every rank and exit status 2."""
import os
import re
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

import minicell as mc
from minicell import nn, ops
from minicell.ops._dropout import sample_indexed
from tests import jobs
from tests.jobs import ENV, finish

EXAMPLE = jobs.ROOT / "examples" / "train_mlp.py"
# 82 training points: batches of 24, 24, 24 and 10; micro-batches of 4, so the short last batch has
# three micro-batches and W = 4 leaves a rank without one (its generators must still advance)
SMALL = ["--points", "34", "--hidden", "8", "--batch", "24", "--micro-batch", "4"]


def start(ranks, *args):
    """The example, plain (``ranks`` None) or through the launcher."""
    launcher = [] if ranks is None else ["-m", "minicell.run", "-n", str(ranks)]
    return jobs.start([sys.executable, *launcher, str(EXAMPLE), *args])


def fingerprint(out):
    found = re.findall(r"^fingerprint ([0-9a-f]{64})$", out, re.M)
    assert len(found) == 1, out  # only rank 0 prints
    return found[0]


@pytest.fixture(scope="module")
def plain():
    code, out, err = finish(start(None, "--epochs", "3", *SMALL))
    assert code == 0, err
    return out


def test_plain_run_and_every_world_size_print_the_same_fingerprint(plain):
    assert "world size 1" in plain
    jobs = {ranks: start(ranks, "--epochs", "3", "--check-every", str(ranks - 1), *SMALL) for ranks in (2, 3, 4)}
    for ranks, job in jobs.items():
        code, out, err = finish(job)
        assert code == 0, err
        assert f"world size {ranks}," in out and out.count("epoch 3/3") == 1
        assert fingerprint(out) == fingerprint(plain)
        losses = re.findall(r"loss (\d+\.\d+)", out)
        assert losses == re.findall(r"loss (\d+\.\d+)", plain)


def test_killed_rank_then_resume_at_another_world_size_gives_the_uninterrupted_run(plain, tmp_path):
    """Rank 0 stops, alive, at a gate right after printing epoch 1 (its checkpoint is written
    before the line), so the other ranks wait for it inside epoch 2: rank 2 is killed there, the
    job must end (not hang), and the resume at W = 3 must train epochs 2 and 3 itself."""
    ckpt = tmp_path / "state.ckpt"
    job = jobs.start([sys.executable, "-m", "minicell.run", "-n", "4", jobs.gate(tmp_path), "epoch 1/", str(EXAMPLE),
                      "--epochs", "3", "--checkpoint", str(ckpt), *SMALL])
    try:
        assert job.stdout.readline().startswith("train_mlp.py: world size 4")
        assert job.stdout.readline().startswith("epoch 1/3")
        ranks = [pid for pid in _descendants(job.pid) if "OMPI_COMM_WORLD_RANK=2" in _environ(pid)]
        assert len(ranks) == 1 and _running(ranks[0])  # the job is alive and held at the gate
        os.kill(ranks[0], signal.SIGKILL)
        code, out, _ = finish(job, timeout=60)  # the timeout is a safety net: a hung job fails the test
        assert code != 0 and "epoch 2/3" not in out and "fingerprint" not in out
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    code, out, err = finish(start(3, "--epochs", "3", "--resume", str(ckpt), *SMALL[4:6]))
    assert code == 0, err
    assert "nothing to do" not in out
    assert re.findall(r"^epoch (\d)/3", out, re.M) == ["2", "3"]  # resumed after epoch 1, not restarted
    assert fingerprint(out) == fingerprint(plain)


def _running(pid):
    """True while ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _environ(pid):
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").replace("\0", " ")
    except OSError:
        return ""


def _all_ranks_fail_alike(code, err, ranks, needle):
    lines = [line for line in err.splitlines() if line.startswith("train_mlp.py: error:")]
    assert code == 2 and len(lines) == ranks and len(set(lines)) == 1, err
    assert needle in lines[0] and "Traceback" not in err


@pytest.mark.parametrize("args,needle", [
    (["--batch", "24", "--micro-batch", "5"], "--batch 24 is not a multiple of --micro-batch 5"),
    (["--batch", "24", "--micro-batch", "12"], "3 ranks but a batch of 24 has only 2 micro-batches of 12"),
])
def test_bad_configurations_fail_the_same_way_on_every_rank(args, needle):
    code, _, err = finish(start(3, "--epochs", "1", "--points", "34", *args))
    _all_ranks_fail_alike(code, err, 3, needle)


def test_a_checkpoint_that_disagrees_fails_on_every_rank(tmp_path):
    ckpt = tmp_path / "one.ckpt"
    code, _, err = finish(start(None, "--epochs", "1", "--checkpoint", str(ckpt), *SMALL))
    assert code == 0, err
    code, _, err = finish(start(2, "--epochs", "2", "--resume", str(ckpt), "--micro-batch", "8"))
    _all_ranks_fail_alike(code, err, 2, "--micro-batch 8 differs from the checkpoint's 4")


def test_ranks_started_with_different_settings_fail_the_same_way():
    from minicell import run
    env = run.environment(2)
    base = run.command(run.find_mpirun(), 1, str(EXAMPLE), ["--epochs", "1", *SMALL],
                       {**env, "PYTHONPATH": ENV["PYTHONPATH"]})
    other = [sys.executable, str(EXAMPLE), "--epochs", "1", *SMALL[:-1], "8"]
    code, _, err = finish(jobs.start(base + [":", "-n", "1", *other], {**env, "PYTHONPATH": ENV["PYTHONPATH"]}))
    _all_ranks_fail_alike(code, err, 2, "For 'agree', 'settings' must be the same on every rank (ranks started "
                                        "with the same flags), but got rank 0 with")


def test_dropout_masks_are_indexed_by_global_row_and_reserve_once_per_step():
    x = mc.Tensor(np.ones((6, 5), np.float32))
    whole = ops.dropout(x, 0.5, generator=mc.Generator().manual_seed(3)).asnumpy()
    gen = mc.Generator().manual_seed(3)
    reservations = []
    pieces = []
    for lo, hi in ((0, 2), (2, 4), (4, 6)):
        with sample_indexed(reservations, lo):
            pieces.append(nn.Dropout(0.5, generator=gen).set_train()(x[lo:hi]).asnumpy())
    assert np.array_equal(np.concatenate(pieces), whole)
    assert int(gen.get_state()[1]) == 1 and len(reservations) == 1


def test_micro_batched_step_equals_the_plain_step_with_one_micro_batch():
    def trained(micro):
        gen = mc.Generator().manual_seed(0)
        net = nn.SequentialCell(nn.Dense(3, 8, generator=gen), nn.Dropout(0.2, generator=gen),
                                nn.Dense(8, 2, generator=gen))
        step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.SGD(net.trainable_params(), 0.1),
                                   micro_batch_size=micro)
        step.set_train()
        rng = np.random.default_rng(0)
        loss = step(mc.Tensor(rng.standard_normal((12, 3)).astype(np.float32)), mc.Tensor(rng.integers(0, 2, 12)))
        return float(loss), [p.asnumpy().tobytes() for p in net.trainable_params()]
    assert trained(None) == trained(12)
    loss4, params4 = trained(4)
    assert loss4 == pytest.approx(trained(None)[0], rel=1e-5)


def test_micro_batch_size_is_checked():
    net = nn.Dense(2, 2, generator=mc.Generator())
    with pytest.raises(ValueError, match="'micro_batch_size' must be an int in \\[1, inf\\), but got 0"):
        nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1), micro_batch_size=0)


def test_recomputed_cells_inside_micro_batches_replay_the_shared_offsets():
    def trained(recompute):
        gen = mc.Generator().manual_seed(0)
        block = nn.SequentialCell(nn.Dense(3, 8, generator=gen), nn.ReLU(), nn.Dropout(0.3, generator=gen))
        if recompute:
            block.recompute()
        net = nn.SequentialCell(block, nn.Dense(8, 2, generator=gen))
        step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.SGD(net.trainable_params(), 0.1),
                                   micro_batch_size=3)
        step.set_train()
        rng = np.random.default_rng(0)
        for _ in range(2):
            step(mc.Tensor(rng.standard_normal((10, 3)).astype(np.float32)), mc.Tensor(rng.integers(0, 2, 10)))
        return [p.asnumpy().tobytes() for _, p in step.parameters_and_names()]
    assert trained(True) == trained(False)


def test_a_checkpoint_in_the_middle_of_an_epoch_resumes_at_another_world_size(plain, tmp_path):
    # --save-every saves on step multiples only: after 2 epochs of 4 batches the last save is at
    # step 5, batch 1 of epoch 2; the data iterator's position and generator are in the file
    ckpt = tmp_path / "mid.ckpt"
    code, _, err = finish(start(None, "--epochs", "2", "--save-every", "5", "--checkpoint", str(ckpt), *SMALL))
    assert code == 0, err
    import minicell as mc
    saved = mc.load_checkpoint(str(ckpt))
    assert (int(saved["data.epoch"].asnumpy()), int(saved["data.batch"].asnumpy())) == (1, 1)
    code, out, err = finish(start(2, "--epochs", "3", "--resume", str(ckpt), *SMALL[4:6]))
    assert code == 0, err
    assert fingerprint(out) == fingerprint(plain)


def test_micro_batches_running_beside_the_first_share_its_reservations_at_any_thread_count():
    """The one pass (segments spread over the pool, single-threaded BLAS) gives the same parameters
    and generator offsets for 1 to 8 threads."""
    def trained(threads):
        previous = mc.get_num_threads()
        mc.set_num_threads(threads)
        try:
            gen, other = mc.Generator().manual_seed(0), mc.Generator().manual_seed(1)
            net = nn.SequentialCell(nn.Dense(3, 16, generator=gen), nn.Dropout(0.3, generator=gen), nn.ReLU(),
                                    nn.Dense(16, 16, generator=gen), nn.Dropout(0.5, generator=other),
                                    nn.Dense(16, 2, generator=gen), nn.Dropout(0.1, generator=gen))
            step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()),
                                       nn.Adam(net.trainable_params(), 0.01), micro_batch_size=2)
            step.set_train()
            rng = np.random.default_rng(0)
            for _ in range(3):
                step(mc.Tensor(rng.standard_normal((15, 3)).astype(np.float32)), mc.Tensor(rng.integers(0, 2, 15)))
            return [p.asnumpy().tobytes() for p in net.trainable_params()], [g.get_state() for g in (gen, other)]
        finally:
            mc.set_num_threads(previous)
    one = trained(1)
    assert one[1][0][1] > 0 and one[1][1][1] > 0
    for threads in (2, 4, 8):
        assert trained(threads) == one

