"""Train a small CNN and a small attention model data-parallel; print one fingerprint for each.

Run plain or under ``python -m minicell.run -n W``: the fingerprints must be the same at every W
(tests/test_layers_data_parallel.py). Every random value (initial weights, Dropout2d's channel
masks, MultiheadAttention's probability masks) comes from Generators owned by the model.
"""
import numpy as np

import minicell as mc
from minicell import communication as comm
from minicell import nn, ops
from minicell._runtime.sharding import shard_bounds
from minicell.testing import fingerprint

BATCH, MICRO = 8, 2


class SmallCNN(nn.Cell):
    def __init__(self, gen: mc.Generator) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, pad_mode="pad", padding=1, has_bias=True, generator=gen)
        self.pool = nn.MaxPool2d(2, 2)
        self.drop = nn.Dropout2d(0.3, generator=mc.Generator().manual_seed(11))
        self.head = nn.Dense(4 * 4 * 4, 3, generator=gen)

    def construct(self, x: mc.Tensor) -> mc.Tensor:
        return self.head(ops.flatten(self.drop(self.pool(ops.relu(self.conv(x)))), 1))


class SmallAttention(nn.Cell):
    def __init__(self, gen: mc.Generator) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 8, generator=gen)
        self.attn = nn.MultiheadAttention(8, 2, dropout=0.3, batch_first=True, generator=mc.Generator().manual_seed(12))
        self.norm = nn.LayerNorm((8,))
        self.head = nn.Dense(8, 3, generator=gen)

    def construct(self, tokens: mc.Tensor) -> mc.Tensor:
        h = self.embed(tokens)
        h = self.norm(h + self.attn(h, h, h, is_causal=True)[0])
        return self.head(h.mean(axis=1))


def train(net: nn.Cell, inputs: np.ndarray, labels: np.ndarray) -> str:
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.Adam(net.trainable_params(), 1e-2),
                               micro_batch_size=MICRO)
    step.set_train()
    rank, world = comm.get_rank(), comm.get_group_size()
    for k in range(3):
        lo, hi = shard_bounds(BATCH, world, rank, MICRO)
        rows = slice(k * BATCH + lo, k * BATCH + hi)
        step(mc.Tensor(inputs[rows]), mc.Tensor(labels[rows]))
    comm.check_replicas(net)
    return fingerprint(net)


def main() -> None:
    comm.init()
    data = mc.Generator().manual_seed(5)
    images = ops.normal((3 * BATCH, 1, 8, 8), generator=data).asnumpy()
    tokens = ops.randint(0, 10, (3 * BATCH, 5), generator=data).asnumpy()
    labels = ops.randint(0, 3, (3 * BATCH,), generator=data).asnumpy()
    cnn = train(SmallCNN(mc.Generator().manual_seed(1)), images, labels)
    attention = train(SmallAttention(mc.Generator().manual_seed(2)), tokens, labels)
    if comm.get_rank() == 0:
        print("cnn", cnn)
        print("attention", attention)


if __name__ == "__main__":
    main()
