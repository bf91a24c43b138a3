"""Optimizers as Cells whose state is Parameters."""
from minicell.nn.optim.adam import Adam, AdamW
from minicell.nn.optim.optimizer import Optimizer
from minicell.nn.optim.sgd import SGD, Momentum

__all__ = ["Adam", "AdamW", "Momentum", "Optimizer", "SGD"]
