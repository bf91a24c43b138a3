"""Data parallelism over MPI (MindSpore's ``mindspore.communication`` names).

``init()``, ``get_rank()``, ``get_group_size()``, ``release()``, ``barrier()``, and
``reproducible_sum(contributions)``, whose result does not depend on the world size, and
``shard_bounds(rows, num_shards, shard_id, unit=1)``, the rows of a batch that a rank holds (the split
``TrainOneStepCell`` and the data pipeline expect). Importing
this package never imports mpi4py: only ``init()`` does, and only in a process started by
``mpirun`` (or ``python -m minicell.run``) among several ranks.
"""
from minicell._runtime.sharding import shard_bounds
from minicell.communication.agreement import agree, check_replicas, parameter_digest
from minicell.communication.management import barrier, get_group_size, get_rank, init, release
from minicell.communication.reduction import reproducible_sum

__all__ = ["agree", "barrier", "check_replicas", "get_group_size", "get_rank", "init", "parameter_digest",
           "release", "reproducible_sum", "shard_bounds"]
