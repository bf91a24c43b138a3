"""examples/train_cnn.py (Conv2d, ghost BatchNorm2d, Dropout2d) through ``python -m minicell.run``:
the plain run and W = 2 and 3 print the same fingerprint and losses, and resume across sizes."""
import re
import sys

from tests import jobs
from tests.jobs import finish
from tests.test_distributed_training import fingerprint

EXAMPLE = jobs.ROOT / "examples" / "train_cnn.py"
# 448 training images: 18 batches of 24 and one of 16; micro-batches of 4 (the last batch's four
# micro-batches sit 2, 1, 1 on three ranks)
SMALL = ["--samples", "140", "--size", "12", "--width", "4", "--batch", "24", "--micro-batch", "4"]


def start(ranks, *args):
    launcher = [] if ranks is None else ["-m", "minicell.run", "-n", str(ranks)]
    return jobs.start([sys.executable, *launcher, str(EXAMPLE), *args])


def test_cnn_with_batch_norm_gives_the_same_bits_at_world_sizes_1_2_3_and_resumes_across_them(tmp_path):
    plain = start(None, "--epochs", "2", *SMALL)
    ckpt = tmp_path / "cnn.ckpt"
    first = start(3, "--epochs", "1", "--checkpoint", str(ckpt), *SMALL)
    code, out_plain, err = finish(plain)
    assert code == 0, err
    code, _, err = finish(first)
    assert code == 0, err
    runs = {2: start(2, "--epochs", "2", *SMALL), "resumed": start(2, "--epochs", "2", "--resume", str(ckpt))}
    three = start(3, "--epochs", "2", *SMALL)
    for name, job in [*runs.items(), (3, three)]:
        code, out, err = finish(job)
        assert code == 0, (name, err)
        assert fingerprint(out) == fingerprint(out_plain), name
        if name != "resumed":
            assert re.findall(r"loss (\d+\.\d+)", out) == re.findall(r"loss (\d+\.\d+)", out_plain)
