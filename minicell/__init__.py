"""minicell: a tiny NumPy neural-net framework in MindSpore's nn.Cell style, with reproducible,
counter-based (Philox4x32-10) randomness."""
from minicell.tensor import Tensor  # first: binds the ops onto Tensor
from minicell import ops
from minicell.autograd import grad, no_grad, stop_gradient, value_and_grad

__version__ = "0.1.0"

__all__ = ["Tensor", "grad", "no_grad", "ops", "stop_gradient", "value_and_grad", "__version__"]
