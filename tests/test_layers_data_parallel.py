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


def test_training_batch_norm_is_ghost_batch_norm_in_micro_batches():
    """BatchNorm in training mode is no longer refused: each micro-batch of 2 rows is normalized
    by its own statistics and the moving statistics move once per step (tests/test_one_pass.py
    holds the exactness and refusal tests)."""
    import numpy as np

    import minicell as mc
    from minicell import nn

    gen = mc.Generator().manual_seed(3)
    net = nn.SequentialCell([nn.Dense(4, 6, generator=gen), nn.BatchNorm1d(6), nn.Dropout(0.2, generator=gen),
                             nn.Dense(6, 2, generator=gen)])
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.Adam(net.trainable_params(), 1e-2),
                               micro_batch_size=2)
    step.set_train()
    x = mc.Tensor(np.linspace(-1, 1, 32, dtype=np.float32).reshape(8, 4))
    y = mc.Tensor(np.array([0, 1] * 4))
    step(x, y)
    assert not np.array_equal(net[1].moving_mean.asnumpy(), np.zeros(6, np.float32))
