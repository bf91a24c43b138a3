"""Checkpoints: ``save_checkpoint``, ``load_checkpoint``, ``load_param_into_net``, and the
PyTorch name maps ``to_torch_names``, ``from_torch_names``.

Modules: ``checkpoints`` (save, load, load into a net), ``torch_names`` (the PyTorch name maps),
``_arguments`` (what they accept, checked in one place).

Keys are Parameter names, as in MindSpore: ``save_checkpoint(cell)`` writes each Parameter under
``param.name`` (its structural path when it has no name), and ``load_param_into_net`` matches
the net's Parameters by ``param.name``. So a checkpoint of a training cell loads into a fresh
network: wrapping a network does not rename its Parameters.

Formats (``format=``, DESIGN.md section 9; the readers and writers are in
``minicell._checkpoint``): ``"npz"`` (the default: minicell's version-1 format, an uncompressed
NumPy ``.npz`` archive with the names in order and ``requires_grad``), ``"safetensors"`` (read by
PyTorch, MindSpore 2.7, JAX and NumPy through the ``safetensors`` package) and ``"ckpt"``
(MindSpore's protobuf ``Checkpoint``). ``load_checkpoint`` detects the format from the file's
first bytes; ``format=`` insists on one. Every dtype, uint64 included, round-trips bit for bit
in all three. The ``safetensors`` and ``protobuf`` packages (extra ``interop``) are imported only
when those formats are used.

Everything is checked before the temporary file is written, and again when reading, where
nothing in the file is trusted: every malformed file is a ``ValueError`` naming it and what is
wrong, decided before any array larger than the file is allocated (a ``.ckpt`` is one protobuf
message, parsed whole by the ``protobuf`` package first, as MindSpore parses it). Saving into a folder that
does not exist is a ``FileNotFoundError``, like loading a file that does not exist. Files are
written atomically; temporary files left by killed savers are removed by the next save to the
same path (``minicell._checkpoint.atomic``).
"""
from minicell.serialization.checkpoints import load_checkpoint, load_param_into_net, save_checkpoint
from minicell.serialization.torch_names import from_torch_names, to_torch_names

__all__ = ["from_torch_names", "load_checkpoint", "load_param_into_net", "save_checkpoint", "to_torch_names"]
