"""examples/train_gpt.py on a tiny configuration: the same fingerprint and sampled text plain and
at W = 2, after a SIGKILL and resume (mid-epoch), and a prompt sampled alone or in a batch."""
from __future__ import annotations

import os
import re
import signal
import sys

import numpy as np
import pytest

import minicell as mc
from tests import jobs
from tests.jobs import finish

EXAMPLE = jobs.ROOT / "examples" / "train_gpt.py"
# 3 steps per epoch: 7 steps end mid-epoch 3; saving every 2 steps saves mid-epoch too
TINY = ["--block", "16", "--width", "16", "--layers", "1", "--heads", "2", "--batch", "8", "--micro-batch", "2",
        "--windows", "24", "--steps", "7", "--warmup", "2", "--sample", "12", "--prompt", "def ", "--prompt", "x ="]


def start(ranks, *args):
    launcher = [] if ranks is None else ["-m", "minicell.run", "-n", str(ranks)]
    return jobs.start([sys.executable, *launcher, str(EXAMPLE), *args])


def results(out: str) -> tuple[str, list[str], str]:
    """(fingerprint, sample lines, held-out loss) of one run's output (only rank 0 prints them)."""
    found = re.findall(r"^fingerprint ([0-9a-f]{64})$", out, re.M)
    assert len(found) == 1, out
    held_out = re.findall(r"^held-out loss (\d+\.\d+) nats/char", out, re.M)
    assert len(held_out) == 1, out
    return found[0], re.findall(r"^sample \d+: .*$", out, re.M), held_out[0]


@pytest.fixture(scope="module")
def plain():
    code, out, err = finish(start(None, *TINY), timeout=120)
    assert code == 0, err
    return out


def test_plain_run_prints_progress_held_out_loss_samples_and_fingerprint(plain):
    assert "world size 1" in plain and re.search(r"^step 7/7  loss \d+\.\d{4}  \d+ ms/step", plain, re.M)
    digest, samples, _ = results(plain)
    assert [s.split(":")[0] for s in samples] == ["sample 0", "sample 1"]
    assert samples[0].startswith("sample 0: 'def ") and samples[1].startswith("sample 1: 'x =")


def test_two_ranks_give_the_same_fingerprint_and_text(plain):
    code, out, err = finish(start(2, *TINY), timeout=180)
    assert code == 0, err
    assert "world size 2" in out
    assert results(out) == results(plain)


def test_killed_mid_epoch_and_resumed_gives_the_uninterrupted_run(plain, tmp_path):
    ckpt = tmp_path / "gpt.ckpt"
    job = start(None, *TINY, "--checkpoint", str(ckpt), "--save-every", "2")
    try:
        for line in job.stdout:  # step 2 of 3 in epoch 1: the iterator stands mid-epoch
            if line.startswith("checkpoint saved at step 2"):
                break
        os.kill(job.pid, signal.SIGKILL)
        job.wait(timeout=60)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
        job.communicate()
    code, out, err = finish(start(None, "--resume", str(ckpt), *TINY[-6:]), timeout=120)
    assert code == 0, err
    assert results(out) == results(plain)


def test_bad_flags_and_mismatched_checkpoint_are_one_line_errors(tmp_path):
    code, _, err = finish(start(None, *TINY, "--prompt", "\u263a"), timeout=120)
    assert code == 2 and err.strip().endswith("characters that are not in the text: ['\u263a']")
    ckpt = tmp_path / "gpt.ckpt"
    code, _, err = finish(start(None, *TINY[:-10], "--steps", "1", "--sample", "0", "--checkpoint", str(ckpt)),
                          timeout=120)
    assert code == 0, err
    code, _, err = finish(start(None, "--resume", str(ckpt), "--width", "32"), timeout=120)
    assert code == 2 and err.strip() == "train_gpt.py: error: --width 32 differs from the checkpoint's 16"


@pytest.fixture(scope="module")
def example():
    sys.path.insert(0, str(EXAMPLE.parent))
    try:
        import train_gpt
    finally:
        sys.path.remove(str(EXAMPLE.parent))
    return train_gpt


def test_a_prompt_sampled_alone_or_in_a_batch_gives_the_same_text(example):
    config = dict(example.DEFAULTS, block=16, width=16, layers=1, heads=2, batch=8, micro_batch=4, windows=16,
                  steps=2, warmup=1)
    state = example.TrainingState(config)
    state.model.set_train(True)
    for (window,) in state.data:
        state.train_step(window)

    def texts(prompts, first_row=0):
        sampler = mc.Generator().manual_seed(9)
        return example.generate(state.model, prompts, state.vocab, 10, sampler, 0.9, 20, first_row)

    batch = texts(["The ", "def f(x):", "a" * 40, "import"])
    assert len(set(batch)) > 1
    for row, prompt in enumerate(["The ", "def f(x):", "a" * 40, "import"]):
        assert texts([prompt], first_row=row) == [batch[row]]
    assert texts(["import", "The "], first_row=3)[0] == batch[3]


def test_training_windows_depend_only_on_seed_epoch_and_sample_index(example):
    text = np.arange(1000)
    from minicell.dataset.counters import Draw
    transform = example.RandomWindow(text, 5)
    whole = transform.apply(np.zeros(6), Draw(3, 4, 0, np.arange(6)))
    part = transform.apply(np.zeros(2), Draw(3, 4, 0, np.array([4, 1])))
    assert np.array_equal(part, whole[[4, 1]])
    assert (np.diff(whole, axis=1) == 1).all() and whole.max() < 1000
    assert not np.array_equal(transform.apply(np.zeros(6), Draw(3, 5, 0, np.arange(6))), whole)


def test_epochs_set_the_steps_and_exclude_steps(example):
    args = example.parse_args(["--epochs", "3", "--windows", "64", "--batch", "16"])
    assert example.config_of(args)["steps"] == 12
    with pytest.raises(SystemExit):
        example.parse_args(["--epochs", "3", "--steps", "5"])
    schedule = example.WarmUpCosine(1.0, 0.1, 2, 12)
    assert [round(schedule.rate(s), 6) for s in (0, 1, 2, 11, 20)] == [0.5, 1.0, 1.0, 0.1, 0.1]
