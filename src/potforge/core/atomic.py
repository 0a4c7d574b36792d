"""Atomic file writes: write to a temporary file beside the target, then rename.

A killed process leaves either the old file or the new one, never half of one. What it
does leave is its temporary ``.NAME.PID.HEX.tmp`` (and, for :func:`atomic_directory`, the
``.NAME.PID.HEX.old`` copy being removed); the next write of the same target removes those
whose process no longer runs (see :func:`remove_stale`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .errors import OutputError

__all__ = ["atomic_write", "atomic_path", "atomic_directory", "remove_stale"]


def _host_tag() -> str:
    """8 hex digits naming this machine and PID namespace (whose process ids a name holds)."""
    import socket
    import zlib

    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{zlib.crc32(f'{socket.gethostname()}|{namespace}'.encode()):08x}"


_HOST_TAG = _host_tag()


def temporary_name(path: Path, suffix: str) -> Path:
    """A fresh name beside ``path`` for a temporary file or directory: ``.NAME.PID.HOST.HEX.tmp``
    (what :func:`remove_stale` recognises)."""
    return path.parent / f".{path.name}.{os.getpid()}.{_HOST_TAG}.{os.urandom(4).hex()}.{suffix}"


def _process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (when in doubt: yes)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True     # another user's live process, or nothing we can tell: keep its files
    return True


def remove_stale(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files and directories that killed potforge processes left beside
    ``path`` (``.NAME.PID.HEX.tmp``, ``.NAME.PID.HEX.old``, NAME being ``path``'s own name);
    returns what was removed.

    Only names of exactly that form for this target are considered (never another target's,
    whose name may start the same), and only those whose process id no longer runs on this
    machine (never a live process's file, nor our own). A stale ``.old`` directory is the
    previous version of an :func:`atomic_directory` target and is kept while the target is
    missing (the process died between the two renames), so nothing is lost. Process ids only
    mean something on the machine (and in the PID namespace) that made them, so names carry a
    tag of both (``.NAME.PID.HOST.HEX.tmp``): a file made on another node of a shared file
    system, or in a container writing to a bind mount, is never judged by our process table
    and is left alone.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    # .NAME.PID.HOST.HEX.tmp; the older .NAME.PID.HEX.tmp (no host tag) counts as this machine's
    pattern = re.compile(rf"\.{re.escape(path.name)}\.([0-9]{{1,10}})\.(?:([0-9a-f]{{8}})\.)?[0-9a-f]{{8}}\.(tmp|old)")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or match.group(2) not in (None, _HOST_TAG) or _process_alive(int(match.group(1))):
            continue
        if match.group(3) == "old" and not path.exists():
            continue
        stale = directory / entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(stale)
            else:
                stale.unlink()
        except FileNotFoundError:
            continue            # another process cleaned it first
        except OSError:
            continue            # not ours to remove (permissions): leave it
        removed.append(stale)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's directory; on success it replaces ``path``."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    with _output_errors(path):
        directory.mkdir(parents=True, exist_ok=True)
        remove_stale(path)
        # a unique name beside the target (same file system, so the final rename is atomic)
        while True:
            tmp_path = temporary_name(directory / path.name, "tmp")
            try:
                fd = os.open(tmp_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                continue
            os.close(fd)
            break
    try:
        with _output_errors(path, tmp_path):
            yield tmp_path
            os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


#: errors of the file system, not of the program: they become one-line OutputErrors
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                           errno.EPERM, errno.EIO, errno.ENOTDIR, errno.EEXIST, errno.ENOENT,
                           errno.EISDIR, errno.ENAMETOOLONG})
#: what a write to an open file can fail with (it names no file)
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


@contextlib.contextmanager
def _output_errors(path: Path, tmp: Path | None = None) -> Iterator[None]:
    """Turn a file-system refusal while writing ``path`` (no such folder, a file where a folder
    should be, not writable, disk full) into one line naming the output. Around the caller's
    own code (``tmp`` given) only errors of writing the temporary file itself are turned, so a
    different OSError of the caller keeps its own meaning."""
    try:
        yield
    except OSError as err:
        ours = err.filename is None and err.errno in _FULL_ERRNOS if tmp is not None else True
        if tmp is not None and err.filename is not None:
            ours = Path(err.filename) == tmp
        if not ours or err.errno not in _WRITE_ERRNOS:
            raise
        named = Path(err.filename) if err.filename else None
        if err.errno in (errno.EEXIST, errno.ENOTDIR) and named is not None and named.is_file():
            reason = f"{named} is a file, not a folder"
        else:
            where = f" ({named})" if named is not None and named.name != path.name \
                and not named.name.startswith(f".{path.name}.") else ""
            reason = f"{err.strerror}{where}"
        raise OutputError(f"cannot write this output: {reason}", path=os.fspath(path)) from None


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file for writing; on success it atomically replaces ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; on success it takes the place of
    ``path`` (an existing directory is moved aside first and removed after), so a set of files
    that must match is never seen half old, half new."""
    path = Path(path)
    with _output_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(path)
        tmp = temporary_name(path, "tmp")
        tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    try:
        with _output_errors(path):
            if path.exists() or path.is_symlink():
                old = temporary_name(path, "old")
                os.replace(path, old)
            os.replace(tmp, path)
    except BaseException:
        if old is not None and not path.exists():
            os.replace(old, path)       # the previous version back where it was
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)   # the target was a file (or a link)
