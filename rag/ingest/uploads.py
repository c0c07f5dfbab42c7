"""Adding a file someone uploaded to the documents folder, safely, and taking it out again.

An uploaded file's name comes from the person's browser, so it is untrusted: it may hold
``../``, a Windows path, control characters, or a name that hides itself (``.bashrc``). The
name is reduced to a plain file name of letters, digits, spaces and ``-_.()``, kept
inside the folder, and must end in one of the suffixes of ``UPLOAD_LIMITS``. The content must
read as its format (text must decode, a web page, Word file or PDF must give text: the reader
indexing will use, from ``rag.ingest.readers``) and stay under its suffix's size limit, so a
bad upload is refused with a message instead of being skipped silently at indexing time.

An upload never replaces a file already in the folder: a page is shared by its visitors, and
one visitor's file must not silently rewrite everyone's article. A same-named upload with the
same bytes is "already there" (nothing changes); with different bytes it is stored under the
next free name (``report (2).txt``), claimed atomically so two uploads at once cannot take the
same name. Files stored this way are listed in a hidden ledger (``.uploads.json``) in the
folder, and only those can be removed through the page (``remove_upload``): the library the
operator put in the folder is theirs to change on disk. A removed upload is moved into the
hidden ``.removed`` folder, not deleted, so a mistaken removal can be undone by the operator.
Hidden files and folders are never indexed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DocumentsError
from rag.ingest.extracted import ExtractionError
from rag.ingest.loading import decode
from rag.ingest.readers import PLAIN_TEXT, reader_for

DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# One row per suffix the page accepts: its size limit in bytes, or None for the page's
# ``max_upload_bytes`` (the text default). A new format is one row here, once
# ``rag.ingest.loading`` can index it; rows it cannot index are left out.
UPLOAD_LIMITS: dict[str, int | None] = {
    ".txt": None,
    ".md": None,
    # saved pages carry their markup, scripts and styles: several times their text
    ".html": 10 * 1024 * 1024,
    ".htm": 10 * 1024 * 1024,
    ".docx": 10 * 1024 * 1024,  # a Word file with a few pictures in it
    # a PDF embeds its fonts and pictures: a long report runs to several MB for its text
    ".pdf": 20 * 1024 * 1024,
}
UPLOAD_SUFFIXES = frozenset(suffix for suffix in UPLOAD_LIMITS if reader_for(suffix) is not None)
MAX_NAME_CHARS = 100
LEDGER_NAME = ".uploads.json"
REMOVED_FOLDER = ".removed"
MAX_SAME_NAME = 1000

_UNSAFE_RE = re.compile(r"[^\w.\-() ]+")
_RUNS_RE = re.compile(r"([ ._-])\1+")
_ledger_lock = threading.Lock()


@dataclass(frozen=True)
class StoredUpload:
    """What became of one upload: ``outcome`` is "added", "renamed" (stored as ``path.name``
    because a different file holds the name asked for) or "unchanged" (the same text is
    already there as ``path.name``)."""

    requested: str
    path: Path
    outcome: str


def upload_limit(suffix: str, max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> int:
    """The size limit for an upload ending in ``suffix``."""
    limit = UPLOAD_LIMITS.get(suffix.lower())
    return max_bytes if limit is None else limit


def largest_upload_limit(max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> int:
    return max(upload_limit(suffix, max_bytes) for suffix in UPLOAD_SUFFIXES)


def safe_name(name: str) -> str:
    """A plain file name for ``name`` that cannot leave the folder, or ``DocumentsError``."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", name or ""))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = suffix.lower()
    if f".{suffix}" not in UPLOAD_SUFFIXES:
        allowed = ", ".join(sorted(UPLOAD_SUFFIXES))
        raise DocumentsError(
            f"{base or 'The file'} is not a {allowed} file; only articles in these formats can be added."
        )
    stem = _UNSAFE_RE.sub("_", stem)
    stem = _RUNS_RE.sub(r"\1", stem).strip(" ._-")
    if not stem:
        stem = "upload"
    stem = stem[: MAX_NAME_CHARS - len(suffix) - 1].rstrip(" ._-") or "upload"
    return f"{stem}.{suffix}"


def save_upload(folder: str | Path, name: str, data: bytes, *, max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> Path:
    """``store_upload``'s path: where ``data`` is in the folder now (never over another file)."""
    return store_upload(folder, name, data, max_bytes=max_bytes).path


def store_upload(
    folder: str | Path, name: str, data: bytes, *, max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
) -> StoredUpload:
    """Store ``data`` as ``folder/safe_name(name)``, or under the next free name when a
    different file holds that one; never replaces a file. Records it in the ledger.

    Refuses (``DocumentsError``) files that are too large, empty, or not text.
    """
    folder = Path(folder)
    filename = safe_name(name)
    check_upload(filename, data, max_bytes=max_bytes)
    if (folder / filename).resolve().parent != folder.resolve():
        raise DocumentsError(f"{name!r} cannot be stored in the documents folder; rename the file and try again.")
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        stored = _claim(folder, filename, Path(temporary), data)
    finally:
        Path(temporary).unlink(missing_ok=True)
    if stored.outcome != "unchanged":
        # If the ledger cannot be written, the file is still stored; only removing it from the page is lost.
        with contextlib.suppress(OSError):
            _record(folder, stored.path.name)
    return stored


def check_upload(filename: str, data: bytes, *, max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> None:
    """``DocumentsError`` when ``data`` is too large for its suffix, not text, or empty."""
    check_upload_size(filename, len(data), max_bytes=max_bytes)
    suffix = Path(filename).suffix
    text = decode(data) if reader_for(suffix) is PLAIN_TEXT else _converted_text(filename, data)
    if text is None:
        allowed = ", ".join(sorted(UPLOAD_SUFFIXES))
        raise DocumentsError(f"{filename} does not look like text (it may be a binary file); upload {allowed}.")
    if not text.strip():
        raise DocumentsError(f"{filename} is empty; there is nothing in it to index.")


def check_upload_size(filename: str, size: int, *, max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> None:
    """``DocumentsError`` when a file of ``size`` bytes is too large for its suffix: asked
    before the file is read, so that one over its limit is never held in memory."""
    limit = upload_limit(Path(filename).suffix, max_bytes)
    if size > limit:
        raise DocumentsError(f"{filename} is {_size(size)}; the limit is {_size(limit)}. Split it into smaller files.")


def _claim(folder: Path, filename: str, written: Path, data: bytes) -> StoredUpload:
    """Link ``written`` under the first of ``filename``, ``stem (2).suffix``, ... that is free,
    unless one of them already holds ``data``. A hard link fails when the name exists, so two
    uploads at once never take the same name and nothing is overwritten."""
    stem, suffix = Path(filename).stem, Path(filename).suffix
    for number in range(1, MAX_SAME_NAME + 1):
        candidate = folder / (filename if number == 1 else f"{stem} ({number}){suffix}")
        outcome = "added" if number == 1 else "renamed"
        if candidate.exists() or candidate.is_symlink():
            if candidate.is_file() and _same_bytes(candidate, data):
                return StoredUpload(filename, candidate.resolve(), "unchanged")
            continue
        try:
            _link_exclusively(written, candidate)
        except FileExistsError:
            continue
        return StoredUpload(filename, candidate.resolve(), outcome)
    raise DocumentsError(f"{filename}: too many files of that name already; rename it and upload again.")


def _link_exclusively(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system: create exclusively, then copy
        with open(target, "xb") as out, open(source, "rb") as data:
            out.write(data.read())


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def uploaded_names(folder: str | Path) -> list[str]:
    """The files uploaded through the page that are still in ``folder``, sorted."""
    folder = Path(folder)
    return sorted(name for name in _read_ledger(folder) if (folder / name).is_file())


def remove_upload(folder: str | Path, name: str) -> Path:
    """Move the uploaded file ``name`` out of ``folder`` into its hidden ``.removed`` folder
    (kept, not deleted) and return where it went; ``DocumentsError`` for any other file."""
    folder = Path(folder)
    if not name or name not in uploaded_names(folder):
        raise DocumentsError(
            f"{name or 'No file'} is not a document uploaded through the page; only those can be removed here. "
            "Choose one from the list."
        )
    kept = folder / REMOVED_FOLDER / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}-{name}"
    kept.parent.mkdir(exist_ok=True)
    try:
        os.replace(folder / name, kept)
    except OSError as error:
        raise DocumentsError(f"{name} could not be removed ({error.strerror}); try again.") from error
    with _ledger_lock:
        _write_ledger(folder, [n for n in _read_ledger(folder) if n != name])
    return kept


def _record(folder: Path, name: str) -> None:
    with _ledger_lock:
        names = _read_ledger(folder)
        if name not in names:
            _write_ledger(folder, [*names, name])


def _read_ledger(folder: Path) -> list[str]:
    try:
        names = json.loads((folder / LEDGER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _write_ledger(folder: Path, names: list[str]) -> None:
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".uploads-", suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(names, out, indent=0)
        os.replace(temporary, folder / LEDGER_NAME)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _converted_text(filename: str, data: bytes) -> str:
    try:
        return reader_for(Path(filename).suffix).read(data, filename).text
    except ExtractionError as error:
        raise DocumentsError(f"{filename} cannot be indexed: {error}.") from error


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MB"
    if count >= 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count} bytes"
