"""minicell: a tiny NumPy neural-net framework in MindSpore's nn.Cell style, with reproducible,
counter-based (Philox4x32-10) randomness."""
from minicell import initializer, nn, ops, random
from minicell._runtime.parallel import get_num_threads, set_num_threads
from minicell.autograd import grad, no_grad, stop_gradient, value_and_grad
from minicell.cell import Cell
from minicell.containers import CellDict, CellList, SequentialCell
from minicell.generator import (
                                       Generator,
                                       default_generator,
                                       fork_rng,
                                       get_rng_state,
                                       initial_seed,
                                       manual_seed,
                                       seed,
                                       set_rng_state,
)
from minicell.ops._random import rand, randint, randn, randperm
from minicell.parameter import Parameter
from minicell.serialization import load_checkpoint, load_param_into_net, save_checkpoint
from minicell.tensor import Tensor

__version__ = "0.1.0"

__all__ = [
    "Cell", "CellDict", "CellList", "Generator", "Parameter", "SequentialCell", "Tensor",
    "default_generator", "fork_rng", "get_num_threads", "get_rng_state", "grad", "initial_seed", "initializer",
    "load_checkpoint", "load_param_into_net", "manual_seed", "nn", "no_grad", "ops", "rand", "randint", "randn",
    "randperm", "random", "save_checkpoint", "seed", "set_num_threads", "set_rng_state", "stop_gradient",
    "value_and_grad", "__version__",
]
