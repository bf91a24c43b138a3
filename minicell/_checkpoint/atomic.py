"""Atomic file writes: temporary file in the same folder, flush, fsync, rename, fsync folder.

A process killed at any moment leaves either the old file or the new one, never a torn file.

A writer killed mid-write leaves its temporary file behind; the next write to the same target
removes such leftovers. Temporary files are named, in the target's folder::

    .<target basename>.<host tag>.<pid>.<16 random hex digits>.minicell-tmp

where the host tag is 8 hex digits of SHA-256 of the host name and PID namespace. Before writing
``path``, a writer removes the regular files of exactly that scheme for exactly that basename
whose writer is gone (same host tag and the PID no longer runs, or is a zombie) or that nobody
has modified for ``STALE_AFTER_SECONDS`` (a writer on another host, whose PID cannot be checked).
So a live writer's file is never removed while it writes (its PID runs and it keeps writing),
and savers to different targets never touch each other's files: a basename ending in ``.ckpt``
cannot be a prefix of another target's temporary name with a different basename, and even if
two names collided, only files of dead or long-idle writers are removed. Removal errors are
ignored: cleaning is a courtesy, never a reason for a save to fail.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Callable
from typing import BinaryIO

TEMP_SUFFIX = ".minicell-tmp"
STALE_AFTER_SECONDS = 3600.0


def host_tag() -> str:
    """8 hex digits naming this host and PID namespace (PIDs are only comparable within one)."""
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}/{namespace}".encode()).hexdigest()[:8]


def temp_name(path: str) -> str:
    """A fresh temporary file name for ``path``, in its folder, of the scheme above."""
    folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}.{host_tag()}.{os.getpid()}.{secrets.token_hex(8)}{TEMP_SUFFIX}")


def _temp_pattern(base: str) -> re.Pattern[str]:
    fields = r"\.([0-9a-f]{8})\.([0-9]{1,10})\.[0-9a-f]{16}"
    return re.compile(r"\." + re.escape(base) + fields + re.escape(TEMP_SUFFIX))


def process_is_gone(pid: int) -> bool:
    """True when no process ``pid`` runs here (a zombie, killed but not yet reaped, counts as gone)."""
    if pid == os.getpid():
        return False
    if not 0 < pid < 1 << 31:  # no process has it (and kill(0, 0) would signal our own group)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: it runs
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rpartition(b")")[2].split()[:1] == [b"Z"]
    except OSError:
        return False


def remove_stale_temps(path: str) -> list[str]:
    """Remove the temporary files of dead or long-idle writers of ``path``; return their paths."""
    folder, base = os.path.split(os.path.abspath(path))
    pattern, tag, now = _temp_pattern(base), host_tag(), time.time()
    removed: list[str] = []
    prefix = f".{base}."
    try:
        entries = [entry for entry in os.scandir(folder) if entry.name.startswith(prefix)]
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                continue
            dead = match.group(1) == tag and process_is_gone(int(match.group(2)))
            if dead or now - info.st_mtime > STALE_AFTER_SECONDS:
                os.unlink(entry.path)
                removed.append(entry.path)
        except OSError:  # gone already (another saver cleaned it) or not ours to remove
            continue
    return removed


def write_atomically(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(file)`` on a temporary file and move it over ``path`` once it is on disk.

    Leftover temporary files of earlier, killed writers of ``path`` are removed first.
    """
    def write_into(tmp: str, fd: int) -> None:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())

    _replace_atomically(path, write_into)


def write_atomically_by_name(path: str, write: Callable[[str], None]) -> None:
    """Like ``write_atomically`` for writers that open a file by name (``safetensors`` does):
    ``write(tmp_path)`` fills the temporary file, which is then fsynced and moved over ``path``."""
    def write_into(tmp: str, fd: int) -> None:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        os.close(fd)
        write(tmp)
        os.chmod(tmp, mode)  # the writer may have made the file anew, with other permissions
        fd_again = os.open(tmp, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            os.fsync(fd_again)
        finally:
            os.close(fd_again)

    _replace_atomically(path, write_into)


def _replace_atomically(path: str, write_into: Callable[[str, int], None]) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temps(path)
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        write_into(tmp, fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is done all the same
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
