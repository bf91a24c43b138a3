"""Convolutions, pooling, channel dropout, embeddings, attention with dropout and LayerNorm inside
the data-parallel training cell: the same bits at every world size (one reservation per layer
and step, masks indexed by global row)."""
from __future__ import annotations

import sys

from tests import jobs

SCRIPT = str(jobs.ROOT / "tests" / "scripts" / "layers_data_parallel.py")


def run(ranks: int | None) -> str:
    launcher = [] if ranks is None else ["-m", "minicell.run", "-n", str(ranks)]
    code, out, err = jobs.finish(jobs.start([sys.executable, *launcher, SCRIPT]), timeout=120)
    assert code == 0, err
    return out


def test_cnn_and_attention_models_train_to_the_same_bits_at_every_world_size():
    plain = run(None)
    assert plain.count("\n") == 2 and plain.startswith("cnn ")
    for ranks in (2, 4):
        assert run(ranks) == plain
