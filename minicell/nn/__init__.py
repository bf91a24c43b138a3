"""Layers, losses, optimizers and training cells, plus the Cell machinery, under ``minicell.nn``."""
from minicell.cell import Cell
from minicell.containers import CellDict, CellList, SequentialCell
from minicell.nn.activation import GELU, Flatten, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from minicell.nn.dense import Dense
from minicell.nn.dropout import Dropout, Dropout1d, Dropout2d, Dropout3d
from minicell.random.generator import Generator

__all__ = [
    "Cell", "CellDict", "CellList", "Dense", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "Flatten",
    "GELU", "Generator", "LogSoftmax", "ReLU", "SequentialCell", "Sigmoid", "Softmax", "Tanh",
]
