"""minicell: a tiny NumPy neural-net framework in MindSpore's nn.Cell style, with reproducible,
counter-based (Philox4x32-10) randomness."""
from minicell.tensor import Tensor  # first: binds the ops onto Tensor
from minicell import ops
from minicell.autograd import grad, no_grad, stop_gradient, value_and_grad
from minicell.cell import Cell
from minicell.containers import CellDict, CellList, SequentialCell
from minicell.parameter import Parameter
from minicell.serialization import load_checkpoint, load_param_into_net, save_checkpoint

__version__ = "0.1.0"

__all__ = [
    "Cell", "CellDict", "CellList", "Parameter", "SequentialCell", "Tensor", "grad",
    "load_checkpoint", "load_param_into_net", "no_grad", "ops", "save_checkpoint", "stop_gradient",
    "value_and_grad", "__version__",
]
