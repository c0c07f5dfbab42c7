"""Adding a file someone uploaded to the documents folder, safely.

An uploaded file's name comes from the person's browser, so it is untrusted: it may hold
``../``, a Windows path, control characters, or a name that hides itself (``.bashrc``). The
name is reduced to a plain file name of letters, digits, spaces and ``-_.()``, kept
inside the folder, and must end in one of ``UPLOAD_SUFFIXES``. The content must read as its
format (text must decode, a web page or Word file must give text: the reader indexing will
use, from ``rag.ingest.readers``) and stay under a size limit, so a
bad upload is refused with a message instead of being skipped silently at indexing time.

An upload with the name of a file already in the folder replaces it: uploading a new version
of an article is the common case, and the index then re-reads only that file.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path

from rag.errors import DocumentsError
from rag.ingest.extracted import ExtractionError
from rag.ingest.loading import decode
from rag.ingest.readers import PLAIN_TEXT, READERS

# plain text as .txt or .md, and every converted format the folder walk reads
UPLOAD_SUFFIXES = frozenset(
    {".txt", ".md"} | {suffix for suffix, reader in READERS.items() if reader is not PLAIN_TEXT}
)
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_NAME_CHARS = 100

_UNSAFE_RE = re.compile(r"[^\w.\-() ]+")
_RUNS_RE = re.compile(r"([ ._-])\1+")


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
    """Write ``data`` as ``folder/safe_name(name)`` atomically and return that path.

    Refuses (``DocumentsError``) files that are too large, empty, or not text.
    """
    folder = Path(folder)
    filename = safe_name(name)
    if len(data) > max_bytes:
        raise DocumentsError(
            f"{filename} is {_size(len(data))}; the limit is {_size(max_bytes)}. Split it into smaller files."
        )
    text = decode(data) if READERS[Path(filename).suffix] is PLAIN_TEXT else _converted_text(filename, data)
    if text is None:
        raise DocumentsError(f"{filename} does not look like text (it may be a binary file); upload .txt or .md.")
    if not text.strip():
        raise DocumentsError(f"{filename} is empty; there is nothing in it to index.")
    target = (folder / filename).resolve()
    if target.parent != folder.resolve():
        raise DocumentsError(f"{name!r} cannot be stored in the documents folder; rename the file and try again.")
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _converted_text(filename: str, data: bytes) -> str:
    try:
        return READERS[Path(filename).suffix].read(data).text
    except ExtractionError as error:
        raise DocumentsError(f"{filename} cannot be indexed: {error}.") from error


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MB"
    if count >= 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count} bytes"
