"""A training step that fails changes nothing: parameters, optimizer state, generator offsets
(the network's and the default generator's) and BatchNorm's moving statistics stay as they were,
in every mode of ``TrainOneStepCell`` (plain or micro-batched, replicated or sharded optimizer,
with or without clipping)."""
from __future__ import annotations

import numpy as np
import pytest

import minicell as mc
from minicell import nn, ops


class SqrtOfZero(nn.Cell):
    """Dense, BatchNorm, two Dropouts (one on the default generator); the loss is mean(h * y): with
    y = inf the gradients are not finite, so the optimizer refuses the step after the forward ran
    (and drew its masks); with y = 1 the step is good."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Dense(4, 4, generator=mc.Generator().manual_seed(1))
        self.bn = nn.BatchNorm1d(4)
        self.drop = nn.Dropout(0.5, generator=mc.Generator().manual_seed(2))
        self.drop_default = nn.Dropout(0.5)

    def construct(self, x: mc.Tensor, y: mc.Tensor) -> mc.Tensor:
        h = self.drop_default(self.drop(self.bn(self.fc(x))))
        return ops.mean(h * y)


def state(step: nn.Cell) -> dict[str, np.ndarray]:
    values = {p.name: p.asnumpy().copy() for p in step.get_parameters()}
    values["default generator"] = np.array([int(v) for v in mc.default_generator().get_state()], np.uint64)
    return values


@pytest.mark.parametrize("micro_batch_size", [None, 4])
@pytest.mark.parametrize("parallel_optimizer", [False, True])
@pytest.mark.parametrize("clip_norm", [None, 1.0])
def test_a_step_refused_by_the_optimizer_leaves_every_state_as_it_was(micro_batch_size, parallel_optimizer,
                                                                      clip_norm):
    mc.manual_seed(3)
    net = SqrtOfZero().set_train()
    step = nn.TrainOneStepCell(net, nn.Adam(net.trainable_params(), 1e-3), micro_batch_size=micro_batch_size,
                               parallel_optimizer=parallel_optimizer, clip_norm=clip_norm)
    x = np.ones((8, 4), np.float32)
    x[:, 0] = np.arange(8)
    before = state(step)
    with np.errstate(all="ignore"), pytest.raises(ValueError, match=r"^For 'Adam', 'grads' must be finite "
                                                                    r"gradients .*, but got NaN or inf"):
        step(mc.Tensor(x), mc.Tensor(np.full((8, 4), np.inf, np.float32)))
    after = state(step)
    assert before.keys() == after.keys()
    assert [name for name in before if not np.array_equal(before[name], after[name])] == []
    step(mc.Tensor(x), mc.Tensor(np.ones((8, 4), np.float32)))  # and the next good step runs
    assert int(step.optimizer.global_step.asnumpy()) == 1
