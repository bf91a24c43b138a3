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

Writers that open their file by name and may make temporary files of their own next to it
(``safetensors`` writes ``.tmpXXXXXX`` and renames it) write inside a private temporary folder
of the same scheme with the suffix ``.minicell-tmpdir``; the finished file is fsynced and moved
over the target, and the folder removed. The folders of dead or long-idle writers are removed
like the files (the regular files directly inside them, then the folder).
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
TEMP_DIR_SUFFIX = ".minicell-tmpdir"
STALE_AFTER_SECONDS = 3600.0


def host_tag() -> str:
    """8 hex digits naming this host and PID namespace (PIDs are only comparable within one)."""
    try:
        namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}/{namespace}".encode()).hexdigest()[:8]


def temp_name(path: str, suffix: str = TEMP_SUFFIX) -> str:
    """A fresh temporary file (or folder) name for ``path``, in its folder, of the scheme above."""
    folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}.{host_tag()}.{os.getpid()}.{secrets.token_hex(8)}{suffix}")


def _temp_pattern(base: str, suffix: str = TEMP_SUFFIX) -> re.Pattern[str]:
    fields = r"\.([0-9a-f]{8})\.([0-9]{1,10})\.[0-9a-f]{16}"
    return re.compile(r"\." + re.escape(base) + fields + re.escape(suffix))


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
    """Remove the temporary files and folders of dead or long-idle writers of ``path``; return their paths."""
    folder, base = os.path.split(os.path.abspath(path))
    file_pattern, dir_pattern = _temp_pattern(base), _temp_pattern(base, TEMP_DIR_SUFFIX)
    tag, now = host_tag(), time.time()
    removed: list[str] = []
    prefix = f".{base}."
    try:
        entries = [entry for entry in os.scandir(folder) if entry.name.startswith(prefix)]
    except OSError:
        return removed
    for entry in entries:
        is_file_name = file_pattern.fullmatch(entry.name)
        match = is_file_name or dir_pattern.fullmatch(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            kind_ok = stat.S_ISREG(info.st_mode) if is_file_name else stat.S_ISDIR(info.st_mode)
            if not kind_ok:
                continue
            dead = match.group(1) == tag and process_is_gone(int(match.group(2)))
            modified = info.st_mtime if is_file_name else max([info.st_mtime, *_file_times(entry.path)])
            if dead or now - modified > STALE_AFTER_SECONDS:
                if is_file_name:
                    os.unlink(entry.path)
                else:
                    _remove_temp_dir(entry.path)
                removed.append(entry.path)
        except OSError:  # gone already (another saver cleaned it) or not ours to remove
            continue
    return removed


def _file_times(folder: str) -> list[float]:
    return [child.stat(follow_symlinks=False).st_mtime for child in os.scandir(folder)]


def _remove_temp_dir(folder: str) -> None:
    """Remove the regular files directly in ``folder``, then the folder (an OSError if it is not empty then)."""
    for child in os.scandir(folder):
        if stat.S_ISREG(child.stat(follow_symlinks=False).st_mode):
            os.unlink(child.path)
    os.rmdir(folder)


def write_atomically(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(file)`` on a temporary file and move it over ``path`` once it is on disk.

    Leftover temporary files of earlier, killed writers of ``path`` are removed first.
    """
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temps(path)
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def write_atomically_by_name(path: str, write: Callable[[str], None]) -> None:
    """Like ``write_atomically`` for writers that open a file by name (``safetensors`` does):
    ``write(name)`` fills a file in a private temporary folder (where the writer may make
    temporary files of its own), which is then fsynced and moved over ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temps(path)
    tmp_dir = temp_name(path, TEMP_DIR_SUFFIX)
    os.mkdir(tmp_dir, 0o700)
    inner = os.path.join(tmp_dir, "data")
    try:
        fd = os.open(inner, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        mode = stat.S_IMODE(os.fstat(fd).st_mode)  # what the umask makes of 0o666, as write_atomically's files
        os.close(fd)
        write(inner)
        os.chmod(inner, mode)  # the writer may have made the file anew, with other permissions
        fd = os.open(inner, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(inner, path)
    finally:
        with contextlib.suppress(OSError):
            _remove_temp_dir(tmp_dir)
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is done all the same
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
