"""The index folder's files: their names by generation, and writing them durably.

Every data file carries the generation that wrote it (``chunks-<gen>.sqlite``,
``vectors-<gen>.faiss``, ``lexical-<gen>.bm25``), so the files of the generation a manifest names are never written
over: the next one is written beside them, then committed by replacing the manifest. Each
file's bytes are fsynced before it is renamed into place, and the folder is fsynced after the
manifest's rename, which makes that rename and the data files' renames before it durable: a
crash cannot leave a manifest that names files whose contents were lost.

The names are fixed here, in one place, because they are the format on disk: readers of an
older version find the files by the names their manifest records, and the writer tells its own
leftovers (which it may remove) from anyone else's files by them.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
from pathlib import Path

from rag.errors import IndexLocationError, IndexWriteError
from rag.validation import SHORTER_INDEX_DIR, path_problem, shown_path

# (prefix, suffix) of each data file; the generation goes between them.
_DATA_FILES = {"chunks": ("chunks-", ".sqlite"), "vectors": ("vectors-", ".faiss"), "lexical": ("lexical-", ".bm25")}
LOCK = ".lock"  # the writer lock (flock), held for the whole of an update


def data_file_name(role: str, generation: int) -> str:
    """The name of the ``role`` file ("chunks", "vectors" or "lexical") of ``generation``."""
    prefix, suffix = _DATA_FILES[role]
    return f"{prefix}{generation}{suffix}"


def generation_of(name: str) -> int | None:
    """The generation a data file (or a killed writer's leftover of one) belongs to; None for
    any other file."""
    for prefix, suffix in _DATA_FILES.values():
        if name.startswith(prefix):
            # SQLite leaves "-journal" beside a database a killed writer had open.
            number = name[len(prefix) :].removesuffix("-journal").removesuffix(".tmp").removesuffix(suffix)
            if number.isdigit():
                return int(number)
    return None


def highest_generation(folder: Path) -> int:
    """The newest generation any file in ``folder`` belongs to; 0 when none does."""
    generations = [generation_of(p.name) for p in folder.iterdir()]
    return max([g for g in generations if g is not None], default=0)


def holds_index_files(folder: Path) -> bool:
    return any(generation_of(p.name) is not None for p in folder.iterdir())


def write_json_atomic(path: Path, data: dict) -> None:
    """``data`` as ``path``, whole or not at all: written beside it, fsynced, renamed."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_name_lengths(folder: Path) -> Path:
    """``folder``, unless its name is longer than the system allows (a component over
    ``NAME_MAX``, the whole over ``PATH_MAX``): then a plain error saying which, where the OS
    would say only "File name too long"."""
    problem = path_problem(folder, "index folder")
    if problem:
        raise IndexLocationError(f"{problem}. {SHORTER_INDEX_DIR}")
    return folder


def not_a_file(folder: Path) -> Path:
    """``folder``, unless it is a file or cannot be a folder's name: then a plain error, since
    --index-dir names a folder."""
    check_name_lengths(folder)
    if folder.exists() and not folder.is_dir():
        raise IndexLocationError(
            f"{shown_path(folder)} is a file, not a folder. Give --index-dir a folder (it is created if missing)."
        )
    return folder


def check_readable(path: Path) -> None:
    """A data file this process may not read is a permissions problem, not damage: say so,
    rather than call it damaged (and have it rebuilt over)."""
    try:
        with path.open("rb"):  # a regular file (``manifest.data_file`` checked): it opens at once
            pass
    except PermissionError as error:
        raise IndexLocationError(
            f"Cannot read {path.name} in the index in {path.parent} ({error.strerror}). "
            "Give --index-dir a folder you can read, or run as the user who built it."
        ) from error


def is_regular_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (after links): a FIFO or a device in place of an index
    file would hang or never end the read."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


# ----------------------------------------------------------------------------------------
# Failed writes: what went wrong, in words, and what the next generation leaves behind

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def write_failure(error: BaseException) -> OSError | None:
    """``error`` as the OSError it amounts to when it is a failed write (SQLite and FAISS report
    a full disk in their own words); None for any other error."""
    import sqlite3

    if isinstance(error, OSError):
        return error
    if isinstance(error, sqlite3.OperationalError):
        message = str(error)
        if "disk is full" in message:
            return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if "disk I/O error" in message:
            return OSError(errno.EIO, os.strerror(errno.EIO))
    return None


def remove_generation(folder: Path, generation: int) -> int:
    """Remove every file of ``generation`` (temporary or renamed into place) and the manifest's
    temporary copy; the bytes they held."""
    removed = 0
    for path in list(folder.iterdir()):
        if generation_of(path.name) == generation or path.name == "manifest.json.tmp":
            try:
                removed += path.lstat().st_size
                path.unlink()
            except OSError:
                pass  # gone already, or the disk refuses even this: the next update retries
    return removed


def cannot_write(folder: Path, error: OSError, written: int = 0, previous: int = 0) -> IndexWriteError:
    """The error for a write to the index in ``folder`` that failed with ``error``, after
    ``written`` bytes of the new generation, the previous one taking ``previous`` bytes."""
    reason = error.strerror or str(error)
    if error.errno not in _NO_SPACE:
        return IndexWriteError(
            f"Cannot write the index in {shown_path(folder)} ({reason}). The previous index is unchanged. "
            "Give --index-dir a folder you can write to."
        )
    needed = max(written, previous)
    try:
        free = f"; {describe_size(shutil.disk_usage(folder).free)} free there now"
    except OSError:
        free = ""
    return IndexWriteError(
        f"The disk holding {shown_path(folder)} is full: the new index needs about {describe_size(needed)} "
        f"({describe_size(written)} written when it ran out, the previous index takes {describe_size(previous)}){free}. "
        "The previous index is unchanged and the partial files were removed. Free that much space, "
        "or give --index-dir a folder on another disk."
    )


def describe_size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"
