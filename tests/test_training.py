"""The main job end to end: accuracy, identical fingerprints, and exact resume after SIGKILL."""
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests import jobs

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "train_mlp.py"
SMALL = ["--points", "80", "--hidden", "16", "--batch", "16"]


def run(*args, check=True):
    result = subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def fingerprint(output):
    match = re.search(r"^fingerprint ([0-9a-f]{64})$", output, re.M)
    assert match, output
    return match.group(1)


def test_default_run_reaches_95_percent_and_prints_progress_lines():
    out = run().stdout
    lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 40
    assert re.fullmatch(r"epoch 40/40  loss \d+\.\d{4}  train_acc \d+\.\d%  test_acc \d+\.\d%  \d+\.\ds", lines[-1])
    assert float(re.search(r"test_acc (\d+\.\d)%", lines[-1]).group(1)) >= 95.0


def test_two_runs_print_the_same_fingerprint():
    assert fingerprint(run("--epochs", "3", *SMALL).stdout) == fingerprint(run("--epochs", "3", *SMALL).stdout)
    other_seed = run("--epochs", "3", *SMALL, "--seed", "1").stdout
    assert fingerprint(run("--epochs", "3", *SMALL).stdout) != fingerprint(other_seed)


def test_killed_run_resumed_in_a_new_process_matches_an_uninterrupted_one(tmp_path):
    """The run is stopped (alive) at a gate right after printing epoch 2, whose checkpoint is written
    before the line, and killed there: the resume must train epochs 3 to 6 itself."""
    epochs, kill_after = 6, 2
    straight = fingerprint(run("--epochs", str(epochs), *SMALL).stdout)
    ckpt = tmp_path / "state.ckpt"
    proc = jobs.start([sys.executable, jobs.gate(tmp_path), f"epoch {kill_after}/", str(EXAMPLE),
                       "--epochs", str(epochs), "--checkpoint", str(ckpt), *SMALL])
    safety_net = threading.Timer(120, proc.kill)  # only if the run never reaches the gate
    safety_net.start()
    try:
        assert proc.stdout.readline().startswith("train_mlp.py: world size 1,")  # the header
        lines = [proc.stdout.readline() for _ in range(kill_after)]
        alive = proc.poll() is None  # held at the gate: the kill lands on a live run
    finally:
        safety_net.cancel()
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate(timeout=60)
    assert [line.split("  ")[0] for line in lines] == [f"epoch {e}/{epochs}" for e in range(1, kill_after + 1)], err
    assert alive and proc.returncode == -signal.SIGKILL and rest == ""
    resumed = run("--epochs", str(epochs), "--resume", str(ckpt), "--checkpoint", str(ckpt))
    assert "nothing to do" not in resumed.stdout
    trained = [int(e) for e in re.findall(r"^epoch (\d+)/", resumed.stdout, re.M)]
    assert trained == list(range(kill_after + 1, epochs + 1))  # it continued rather than restarted
    assert fingerprint(resumed.stdout) == straight


@pytest.mark.parametrize("args,needle", [
    (["--epochs", "0"], "--epochs"), (["--epochs", "x"], "invalid int"), (["--bogus"], "unrecognized"),
    (["--resume", "missing.ckpt"], "does not exist"), (["--hidden", "0"], "--hidden"),
])
def test_bad_flags_and_files_give_a_one_line_error(args, needle, tmp_path):
    result = run(*args, check=False)
    assert result.returncode == 2 and needle in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreadable_or_mismatched_checkpoint_is_a_one_line_error(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"\x00garbage")
    result = run("--resume", str(junk), check=False)
    assert result.returncode == 2 and "not a NumPy .npz" in result.stderr and "Traceback" not in result.stderr
    good = tmp_path / "good.ckpt"
    run("--epochs", "1", "--checkpoint", str(good), *SMALL)
    result = run("--epochs", "2", "--resume", str(good), "--hidden", "32", check=False)
    assert result.returncode == 2 and "differs from the checkpoint" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_generator_tour_runs_and_shows_the_seed_document_example():
    tour = EXAMPLE.parent / "generator_tour.py"
    env = {**os.environ, "PYTHONPATH": str(EXAMPLE.parents[1])}
    result = subprocess.run([sys.executable, str(tour)], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert "(Tensor(shape=[], dtype=UInt64, value= 12), Tensor(shape=[], dtype=UInt64, value= 0))" in result.stdout
    assert "Generator().seed() = 1165313289" in result.stdout
    assert "offset after these two ops: 2 (each op reserves 1 offset" in result.stdout
    # the tour's minicell draw shows the same bits as MindSpore's CPU Uniform kernel
    ours = re.search(r"minicell rand, seed 12, offset 0: (.*)$", result.stdout, re.M).group(1)
    theirs = re.search(r"MindSpore CPU Uniform, same state: (.*)$", result.stdout, re.M).group(1)
    assert ours == theirs == "3f565d6e 3f5c8dae 3eaebd68 3da77d20"
