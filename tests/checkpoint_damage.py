"""Damaged checkpoint files for the hardening tests of every format: byte flips and truncations."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import minicell as mc


def load_damaged(good: bytes, cut: int, flips: list[tuple[int, int]], path: Path) -> tuple[Any, bytes]:
    """``(loaded, data)``: ``good`` with the byte ``flips`` (position, xor mask) applied and cut at
    ``cut`` (always when there are no flips, else every third cut), written to ``path`` and loaded.
    ``loaded`` is None when the load was refused, which must be a ValueError naming the file."""
    data = bytearray(good)
    for position, mask in flips:
        data[position % len(data)] ^= mask
    if flips == [] or cut % 3 == 0:
        data = data[: cut % (len(data) + 1)]
    path.write_bytes(bytes(data))
    try:
        return mc.load_checkpoint(path), bytes(data)
    except ValueError as error:
        assert str(error).startswith(f"For 'load_checkpoint', 'ckpt_file_name' must be a readable checkpoint, "
                                     f"but got '{path}': ")
        return None, bytes(data)
