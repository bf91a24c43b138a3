"""Fork handlers, registered in one place: what a forked child must make anew.

A child made by ``os.fork`` has one thread, the one that forked. Locks held by other threads at
that moment stay held for ever in the child, and thread pools keep the handles of workers that
do not exist there (work submitted to them never runs). Each module that owns a lock or a pool
hands a function to :func:`on_fork_in_child`; they run in the child, in registration order,
from the one ``os.register_at_fork`` call of the package (none on platforms without fork).
"""
from __future__ import annotations

import os
from collections.abc import Callable

_child_handlers: list[Callable[[], None]] = []


def on_fork_in_child(handler: Callable[[], None]) -> Callable[[], None]:
    """Run ``handler()`` in every child forked from now on; returns it (usable as a decorator)."""
    _child_handlers.append(handler)
    return handler


def _run_child_handlers() -> None:
    for handler in list(_child_handlers):
        handler()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_run_child_handlers)
