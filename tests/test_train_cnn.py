"""examples/train_cnn.py end to end: accuracy, identical fingerprints, exact resume after SIGKILL."""
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

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
    epochs, kill_after = 8, 2
    straight = fingerprint(run("--epochs", str(epochs), *TINY).stdout)
    ckpt = tmp_path / "state.ckpt"
    proc = subprocess.Popen([sys.executable, str(EXAMPLE), "--epochs", str(epochs), "--checkpoint", str(ckpt), *TINY],
                            stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        for _ in range(kill_after):
            assert proc.stdout.readline().startswith("epoch ")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
    resumed = run("--epochs", str(epochs), "--resume", str(ckpt), "--checkpoint", str(ckpt))
    assert fingerprint(resumed.stdout) == straight
    first = re.search(r"^epoch (\d+)/", resumed.stdout, re.M)
    assert (first and int(first.group(1)) > kill_after) or "nothing to do" in resumed.stdout  # continued, not restarted


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
