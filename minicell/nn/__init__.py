"""Layers, losses, optimizers and training cells, plus the Cell machinery, under ``minicell.nn``."""
from minicell.cell import Cell
from minicell.containers import CellDict, CellList, SequentialCell
from minicell.generator import Generator
from minicell.nn.activation import GELU, Flatten, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from minicell.nn.attention import MultiheadAttention
from minicell.nn.conv import Conv1d, Conv2d
from minicell.nn.dense import Dense
from minicell.nn.distributed import DistributedGradReducer
from minicell.nn.dropout import Dropout, Dropout1d, Dropout2d, Dropout3d
from minicell.nn.embedding import Embedding
from minicell.nn.learning_rate_schedule import (
                                                CosineDecayLR,
                                                ExponentialDecayLR,
                                                LearningRateSchedule,
                                                PolynomialDecayLR,
                                                WarmUpLR,
)
from minicell.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, LossBase, MSELoss
from minicell.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from minicell.nn.optim import SGD, Adam, AdamW, Momentum, Optimizer
from minicell.nn.pooling import AvgPool2d, MaxPool2d
from minicell.nn.wrap import TrainOneStepCell, WithLossCell

__all__ = [
    "Adam", "AdamW", "BCEWithLogitsLoss", "Cell", "CellDict", "CellList", "CosineDecayLR", "CrossEntropyLoss", "Dense",
    "DistributedGradReducer", "ExponentialDecayLR", "LearningRateSchedule", "PolynomialDecayLR", "WarmUpLR",
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "Flatten", "GELU", "Generator", "L1Loss",
    "LogSoftmax", "LossBase", "MSELoss", "Momentum", "MultiheadAttention", "Optimizer", "ReLU", "SGD", "SequentialCell",
    "Sigmoid", "Softmax", "Tanh", "TrainOneStepCell", "WithLossCell",
    "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv1d", "Conv2d", "Embedding", "LayerNorm", "MaxPool2d",
]
