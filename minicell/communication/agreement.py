"""Checks that every rank agrees: same settings before training, same parameters during it.

``agree(settings, error)`` is the one collective a script runs before training: every rank
passes the text of its settings and its own validation error (or None), and every rank raises
the same ``ValueError`` with the same one-line message if the settings differ between ranks or
any rank found an error, so a bad configuration ends every rank the same way, before any
training collective. ``check_replicas(cell)`` compares a SHA-256 of all parameters of every rank
and raises ``RuntimeError`` on every rank when they diverged.
"""
from __future__ import annotations

import hashlib
from typing import Any

import minicell._runtime.world as _world
from minicell._checks import Shown, fail, fail_value
from minicell.cell import Cell


def agree(settings: str, error: str | None = None) -> None:
    """Raise the same ValueError on every rank if settings differ or any rank has an error."""
    agree_in(_world.current(), settings, error)


def agree_in(world: Any, settings: str, error: str | None) -> None:
    """``agree`` in an explicit world."""
    if world.size == 1:
        if error:
            raise ValueError(error)
        return
    mine = f"{settings}\0{error or ''}".encode()
    table = [entry.decode().split("\0", 1) for entry in world.allgather_bytes(mine)]
    differ = [rank for rank, (text, _) in enumerate(table) if text != table[0][0]]
    if differ:
        raise fail_value("agree", "settings", "the same on every rank (ranks started with the same flags)",
                         Shown(f"rank 0 with {table[0][0]} and rank {differ[0]} with {table[differ[0]][0]}"))
    for _, message in table:
        if message:
            raise ValueError(message)


def parameter_digest(cell: Cell) -> str:
    """SHA-256 of every parameter of ``cell`` (name and bytes, in name order)."""
    digest = hashlib.sha256()
    for name, param in cell.parameters_and_names():
        digest.update(name.encode())
        digest.update(param.asnumpy().tobytes())
    return digest.hexdigest()


def check_replicas(cell: Cell) -> str:
    """Compare ``cell``'s parameters across ranks; RuntimeError on every rank if they diverged.

    Returns the common digest.
    """
    return check_replicas_in(_world.current(), cell)


def check_replicas_in(world: Any, cell: Cell) -> str:
    """``check_replicas`` in an explicit world."""
    mine = parameter_digest(cell)
    digests = [d.decode() for d in world.allgather_bytes(mine.encode())]
    differ = [rank for rank, d in enumerate(digests) if d != digests[0]]
    if differ:
        raise fail(RuntimeError, "check_replicas", "cell", "a Cell whose parameters are the same on every rank",
                   Shown(f"diverged replicas: parameters {digests[0][:16]}... on rank 0 and "
                         f"{digests[differ[0]][:16]}... on rank {differ[0]}"))
    return mine
