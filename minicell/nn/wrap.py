"""Training cells: ``WithLossCell`` and ``TrainOneStepCell`` (MindSpore's names)."""
from __future__ import annotations

from typing import Any

from minicell.autograd import value_and_grad
from minicell.cell import Cell
from minicell.nn.optim.optimizer import Optimizer
from minicell.tensor import Tensor


class WithLossCell(Cell):
    """``loss_fn(backbone(data), label)``.

    Args:
        backbone: the network. loss_fn: a loss Cell (or any callable of (logits, labels)).
    """

    def __init__(self, backbone: Cell, loss_fn: Any) -> None:
        super().__init__(auto_prefix=False)
        if not isinstance(backbone, Cell):
            raise TypeError(f"For 'WithLossCell', 'backbone' must be a Cell, but got {type(backbone).__name__}.")
        if not callable(loss_fn):
            raise TypeError(f"For 'WithLossCell', 'loss_fn' must be callable, but got {type(loss_fn).__name__}.")
        self.backbone = backbone
        self.loss_fn = loss_fn

    def construct(self, data: Any, label: Any) -> Tensor:
        return self.loss_fn(self.backbone(data), label)


class TrainOneStepCell(Cell):
    _grad_fn: Any

    """One call runs forward, backward and the optimizer update, and returns the loss.

    Equivalent to MindSpore 2.x's idiom
    ``loss, grads = value_and_grad(network, None, optimizer.parameters)(*inputs); optimizer(grads)``.
    It does not switch modes: call ``set_train()`` so that Dropout is active.

    Args:
        network: a Cell returning a scalar loss (e.g. a WithLossCell). optimizer: an Optimizer.
    """

    def __init__(self, network: Cell, optimizer: Optimizer) -> None:
        super().__init__(auto_prefix=False)
        if not isinstance(network, Cell):
            raise TypeError(f"For 'TrainOneStepCell', 'network' must be a Cell, but got {type(network).__name__}.")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"For 'TrainOneStepCell', 'optimizer' must be an Optimizer, "
                            f"but got {type(optimizer).__name__}.")
        self.network = network
        self.optimizer = optimizer
        object.__setattr__(self, "_grad_fn", value_and_grad(network, None, optimizer.parameters))

    def construct(self, *inputs: Any) -> Tensor:
        loss, grads = self._grad_fn(*inputs)
        self.optimizer(grads)
        return loss.detach()
