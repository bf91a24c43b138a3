"""``minicell.dataset``: a data pipeline that is a pure function of its Generator's state.

MindSpore's ``mindspore.dataset`` names: sources ``NumpySlicesDataset`` and ``GeneratorDataset``;
``.map(operations, input_columns, num_parallel_workers)``, ``.batch(batch_size,
drop_remainder)``, ``.create_tuple_iterator()``, ``.create_dict_iterator()``,
``.get_dataset_size()``; transforms in ``minicell.dataset.vision`` and
``minicell.dataset.transforms``.

The contract (the tests pin each line):

1. **Order.** Epoch ``e``'s order is ``minicell.random.permutation(seed, offset_e, n)`` (identity
   without shuffle), where ``(seed, offset_e)`` is the one offset the dataset's Generator reserves
   when epoch ``e`` starts. Global batch ``k`` is positions ``[k B, (k + 1) B)`` of that order.
2. **Augmentation.** A random transform's numbers for a sample are a pure function of (seed,
   ``offset_e``, the transform's slot, the sample's index in the dataset): sample ``i`` in slot
   ``s`` reads ``random_words(seed, offset_e, K, start=4 * ((s + 1) * 2**56 + i * ceil(K / 4)))``
   (``minicell.dataset.counters``). Batch size, worker count, shard count and processing order
   change nothing; each epoch gives new numbers.
3. **Workers.** ``num_parallel_workers`` (threads computing batches ahead) never changes a value or
   the order. A failing operation raises from ``next()``; no worker is left waiting.
4. **Sharding.** ``batch_size`` is the global batch. With ``num_shards = W`` (default: the group
   size of ``minicell.communication`` once its ``init()`` ran, else 1) shard ``r`` receives rows
   ``shard_bounds(rows_in_batch, W, r, unit)`` of every global batch (``minicell._runtime.sharding``, the
   same split as data-parallel training; ``unit`` is ``batch(..., micro_batch_size=M)``, so the
   shards are exactly the rows ``nn.TrainOneStepCell(..., micro_batch_size=M)`` expects), with
   their global row indices (``batch.rows``), sample indices (``batch.sample_ids``) and the
   global batch's row count (``batch.global_rows``). Concatenated in rank order the shards give
   exactly the unsharded batch, for any ``W``; a shard may be empty (zero rows) in a short last batch.
5. **Resume.** The iterator is a Cell with Parameters ``epoch``, ``batch`` (its position),
   ``epoch_seed``, ``epoch_offset`` (the running epoch's reservation) and the Generator as the
   sub-cell ``generator``. After ``load_param_into_net`` of a checkpoint into a fresh iterator of
   the same pipeline (at any shard count) the next output is the one the uninterrupted run gave.
   ``generator=None`` means a new ``Generator()`` (seed 0, offset 0) owned and saved by the
   iterator, never the process-wide default generator: that one is seeded from NumPy's global
   state in each process, so the ranks of a sharded run would draw different orders and their
   shards would no longer cover the dataset. Every rank must use the same seed.
6. **Errors** name the dataset or transform and the argument (``For 'RandomCrop', 'size' must
   be ...``); arguments are checked before any state changes, and a failed ``next()`` leaves the
   position and the Generator as they were.
"""
import minicell.dataset.transforms as transforms
import minicell.dataset.vision as vision
from minicell.dataset.iterator import DatasetIterator, DictBatch, TupleBatch
from minicell.dataset.pipeline import Dataset
from minicell.dataset.sources import GeneratorDataset, NumpySlicesDataset

__all__ = ["Dataset", "DatasetIterator", "DictBatch", "GeneratorDataset", "NumpySlicesDataset",
           "TupleBatch", "transforms", "vision"]
