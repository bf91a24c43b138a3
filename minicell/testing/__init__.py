"""``minicell.testing``: helpers for users' property tests on determinism.

- ``fingerprint(obj)``: SHA-256 of a model's (or data's) names, dtypes, shapes and bytes.
- ``assert_bitwise_equal(x, y)``, ``assert_cells_equal(a, b)``: equality to the bit, with a
  message that says where and by how much (ulps) things differ.
- ``assert_reproducible(fn, *args)``: same starting state, same output bits.
- ``assert_slice_invariant(draw, n, splits)``: any slice equals the slice of the whole.
- ``assert_batch_invariant(cell, x, splits)``: a Cell on row slices equals the rows of the whole.
- ``assert_one_pass_exact(network, inputs, M)``: a micro-batched step's one pass gives each
  micro-batch's gradients as computed alone.
- ``assert_resume_exact(make_state, step, total, stop_at)``: resume from a checkpoint equals no
  interruption.
- ``shard_split(n, world_size)``: the split of a batch that data-parallel ranks hold.
- ``minicell.testing.strategies``: Hypothesis strategies (imports hypothesis; this package does not).
- ``minicell.testing.plugin``: the pytest plugin (``minicell_generator`` fixture, ``--minicell-seed``).
"""
from minicell.testing.compare import assert_bitwise_equal, assert_cells_equal
from minicell.testing.digest import fingerprint
from minicell.testing.invariance import assert_batch_invariant, assert_reproducible, assert_slice_invariant, shard_split
from minicell.testing.one_pass import assert_one_pass_exact
from minicell.testing.resume import assert_resume_exact

__all__ = [
    "assert_batch_invariant", "assert_bitwise_equal", "assert_cells_equal", "assert_one_pass_exact",
    "assert_reproducible",
    "assert_resume_exact", "assert_slice_invariant", "fingerprint", "shard_split",
]
