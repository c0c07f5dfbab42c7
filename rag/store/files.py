"""The index folder's files: their names by generation, and writing them durably.

Every data file carries the generation that wrote it (``chunks-<gen>.sqlite``,
``vectors-<gen>.faiss``), so the files of the generation a manifest names are never written
over: the next one is written beside them, then committed by replacing the manifest. Each
file's bytes are fsynced before it is renamed into place, and the folder is fsynced after the
manifest's rename, which makes that rename and the data files' renames before it durable: a
crash cannot leave a manifest that names files whose contents were lost.

The names are fixed here, in one place, because they are the format on disk: readers of an
older version find the files by the names their manifest records, and the writer tells its own
leftovers (which it may remove) from anyone else's files by them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rag.errors import IndexLocationError

# (prefix, suffix) of each data file; the generation goes between them.
_DATA_FILES = {"chunks": ("chunks-", ".sqlite"), "vectors": ("vectors-", ".faiss")}


def data_file_name(role: str, generation: int) -> str:
    """The name of the ``role`` file ("chunks" or "vectors") of ``generation``."""
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


def not_a_file(folder: Path) -> Path:
    """``folder``, unless it is a file: then a plain error, since --index-dir names a folder."""
    if folder.exists() and not folder.is_dir():
        raise IndexLocationError(
            f"{folder} is a file, not a folder. Give --index-dir a folder (it is created if missing)."
        )
    return folder


def check_readable(path: Path) -> None:
    """A data file this process may not read is a permissions problem, not damage: say so,
    rather than call it damaged (and have it rebuilt over)."""
    try:
        with path.open("rb"):
            pass
    except PermissionError as error:
        raise IndexLocationError(
            f"Cannot read {path.name} in the index in {path.parent} ({error.strerror}). "
            "Give --index-dir a folder you can read, or run as the user who built it."
        ) from error
