"""Layers, losses, optimizers and training cells, plus the Cell machinery, under ``minicell.nn``."""
from minicell.cell import Cell
from minicell.containers import CellDict, CellList, SequentialCell
from minicell.random.generator import Generator

__all__ = ["Cell", "CellDict", "CellList", "Generator", "SequentialCell"]
