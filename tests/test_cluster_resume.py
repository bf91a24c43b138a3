"""The sharded optimizer end to end through real MPI ranks: a run saved at W = 4 with
``--parallel-optimizer 1`` resumes at W = 2 without it and plain with it, and both end with the
fingerprint of the uninterrupted plain run (one checkpoint file, today's format)."""
import re
import sys

from tests import jobs
from tests.jobs import finish

EXAMPLE = jobs.ROOT / "examples" / "train_mlp.py"
SMALL = ["--points", "34", "--hidden", "8", "--batch", "24", "--micro-batch", "4"]


def example(ranks, *args):
    launcher = [] if ranks is None else ["-m", "minicell.run", "-n", str(ranks)]
    code, out, err = finish(jobs.start([sys.executable, *launcher, str(EXAMPLE), *args, *SMALL]), 180)
    assert code == 0, err
    found = re.findall(r"^fingerprint ([0-9a-f]{64})$", out, re.M)
    assert len(found) == 1, out
    return found[0]


def test_saved_sharded_at_w4_resumes_at_w2_and_plain_with_or_without_sharding(tmp_path):
    ckpt = tmp_path / "state.ckpt"
    uninterrupted = example(None, "--epochs", "3")
    saved = example(4, "--epochs", "2", "--parallel-optimizer", "1", "--checkpoint", str(ckpt))
    assert saved == example(None, "--epochs", "2")
    assert example(2, "--epochs", "3", "--resume", str(ckpt)) == uninterrupted
    assert example(None, "--epochs", "3", "--resume", str(ckpt), "--parallel-optimizer", "1") == uninterrupted
    assert example(3, "--epochs", "3", "--resume", str(ckpt), "--parallel-optimizer", "1") == uninterrupted
