"""examples/train_cnn.py end to end: accuracy, identical fingerprints, exact resume after SIGKILL."""
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests import jobs
from tests.test_training import fingerprint

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "train_cnn.py"
TINY = ["--samples", "150", "--size", "12", "--width", "4", "--batch", "16"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run(*args, check=True):
    result = subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True, text=True, timeout=120, env=ENV)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def last_accuracy(output):
    return float(re.findall(r"test_acc (\d+\.\d)%", output)[-1])


def test_default_sizes_reach_95_percent_in_two_of_the_four_default_epochs():
    out = run("--epochs", "2").stdout
    assert re.search(r"^epoch 2/2  loss \d+\.\d{4}  test_acc \d+\.\d%  \d+\.\ds$", out, re.M), out
    assert last_accuracy(out) >= 95.0


def test_tiny_run_learns_and_two_runs_print_the_same_fingerprint():
    first = run("--epochs", "4", *TINY).stdout
    assert last_accuracy(first) >= 90.0  # 4 classes: chance is 25%
    assert fingerprint(first) == fingerprint(run("--epochs", "4", *TINY).stdout)
    assert fingerprint(first) != fingerprint(run("--epochs", "4", *TINY, "--seed", "1").stdout)


def test_killed_run_resumed_in_a_new_process_matches_an_uninterrupted_one(tmp_path):
    """The run is stopped (alive) right after printing epoch 2, whose checkpoint is saved before the
    line; it is killed there, so the resume must train epochs 3 to 8 itself and end identical."""
    epochs, kill_after = 8, 2
    straight = fingerprint(run("--epochs", str(epochs), *TINY).stdout)
    ckpt = tmp_path / "state.ckpt"
    proc = jobs.start([sys.executable, jobs.gate(tmp_path), f"epoch {kill_after}/", str(EXAMPLE),
                       "--epochs", str(epochs), "--checkpoint", str(ckpt), *TINY], env=ENV)
    safety_net = threading.Timer(120, proc.kill)  # only if the run never reaches the gate
    safety_net.start()
    try:
        lines = [proc.stdout.readline() for _ in range(kill_after)]
        alive = proc.poll() is None  # stopped at the gate: the kill lands on a live run
    finally:
        safety_net.cancel()
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate(timeout=60)
    assert [line.split("  ")[0] for line in lines] == [f"epoch {e}/{epochs}" for e in range(1, kill_after + 1)], err
    assert alive and proc.returncode == -signal.SIGKILL and rest == ""
    resumed = run("--epochs", str(epochs), "--resume", str(ckpt), "--checkpoint", str(ckpt))
    assert "nothing to do" not in resumed.stdout
    trained = [int(e) for e in re.findall(r"^epoch (\d+)/", resumed.stdout, re.M)]
    assert trained == list(range(kill_after + 1, epochs + 1))  # continued where it was killed, not restarted
    assert fingerprint(resumed.stdout) == straight


def test_bad_flags_and_mismatched_checkpoints_are_one_line_errors(tmp_path):
    for args, needle in ((["--epochs", "0"], "--epochs"), (["--width", "0"], "--width"),
                         (["--size", "2"], "--size must be at least 4"), (["--resume", str(tmp_path / "no")], "no")):
        result = run(*args, check=False)
        assert result.returncode == 2 and needle in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    good = tmp_path / "good.ckpt"
    run("--epochs", "1", "--checkpoint", str(good), *TINY)
    result = run("--epochs", "2", "--resume", str(good), "--width", "8", check=False)
    assert result.returncode == 2 and "differs from the checkpoint" in result.stderr
