"""Which files in an index folder are the index's own: the only ones a writer removes.

A writer removes files by their names: an older generation's data files after a commit, the
temporary files and renamed-but-uncommitted files of a killed writer. Names alone cannot tell
the index's ``chunks-1.sqlite`` from a user's file that happens to be called that, so they are
trusted only in a folder that is an index's: one holding a manifest, or the marker
``.rag-index``, which the writer puts there before the first data file of a new index (so a
first build killed before its manifest is still recognised, and cleaned up, by the next run).
A folder holding neither, but files named as data files, is refused as not an index, as a
foreign ``manifest.json`` is (``rag.store.manifest``), rather than cleaned.

Inside an index's folder, whatever is named as a data file is the index's; but a folder in
place of one (made by hand, or by another program) is never removed with its contents: an
empty one is removed, any other is named in a warning and left where it is. The next
generation is numbered above every name present, so nothing in the way is ever written over.

The marker is a file of its own rather than an entry in the manifest because it must exist
before the manifest does; an older version ignores it, so the format on disk is unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from rag.errors import IndexLocationError
from rag.store.files import fsync_dir, generation_of
from rag.store.manifest import MANIFEST

logger = logging.getLogger(__name__)

MARKER = ".rag-index"
_MARKER_TEXT = (
    "This folder holds a rag-seeds index (manifest.json, chunks-N.sqlite, vectors-N.faiss, lexical-N.bm25).\n"
    "`rag index` removes files named as its data files here; do not keep other files under those names.\n"
)
_SHOWN = 3  # names listed in an error


def is_index_folder(folder: Path) -> bool:
    """Whether ``folder`` is an index's (or a new one's): it holds a manifest or the marker."""
    return os.path.lexists(folder / MARKER) or os.path.lexists(folder / MANIFEST)


def is_temporary(name: str) -> bool:
    """A writer's temporary file: a data file being written, or its journal."""
    return generation_of(name) is not None and name.endswith((".tmp", "-journal"))


def claim_folder(folder: Path) -> None:
    """Make sure the files in ``folder`` named as data files are the index's own, so that the
    writer may remove them: the folder holds a manifest or the marker (and gets the marker if
    it lacks it), or holds no such files (and gets the marker before the first one is
    written). IndexLocationError, with nothing changed, for a folder without either that
    holds files named as data files."""
    marker = folder / MARKER
    if not is_index_folder(folder):
        theirs = sorted(p.name for p in folder.iterdir() if generation_of(p.name) is not None)
        if theirs:
            shown = ", ".join(theirs[:_SHOWN]) + (f" and {len(theirs) - _SHOWN} more" if len(theirs) > _SHOWN else "")
            raise IndexLocationError(
                f"{folder} is not an index (it has no {MANIFEST}), but holds files named as an index's data "
                f"files ({shown}), which indexing there could replace. Give --index-dir an empty folder or one "
                "that holds an index; or, if those files are what is left of an index, remove them."
            )
    if not os.path.lexists(marker):
        _write_marker(marker)


def _write_marker(marker: Path) -> None:
    """The marker, made durable before any data file is written beside it (a data file that
    outlived a crash without its marker would make the folder look like someone else's)."""
    with open(marker, "w", encoding="utf-8") as handle:
        handle.write(_MARKER_TEXT)
        handle.flush()
        os.fsync(handle.fileno())
    fsync_dir(marker.parent)


def remove_temporary_files(folder: Path) -> None:
    """What killed writers left (a data file's ``.tmp`` copy, a journal), saying so: called
    under the writer lock, in a claimed folder, so they are no live writer's, and the index's."""
    for path in folder.iterdir():
        if is_temporary(path.name):
            with contextlib.suppress(OSError):
                size = path.lstat().st_size
                if remove_index_file(path):
                    logger.info("removed %s (%d bytes), left by an interrupted update", path.name, size)


def remove_stale_files(folder: Path, keep: set[str], extra: tuple[str, ...] = ()) -> None:
    """Every data file in ``folder`` but those named in ``keep`` (older generations, a killed
    writer's), and the files named in ``extra`` (a manifest's temporary copy)."""
    for path in folder.iterdir():
        if (path.name not in keep and generation_of(path.name) is not None) or path.name in extra:
            remove_index_file(path)


def remove_index_file(path: Path) -> bool:
    """Remove one of the index's files (a link is removed, not what it points to); a folder in
    its place only when empty, else a warning naming it. Whether it is gone."""
    try:
        if not stat.S_ISDIR(path.lstat().st_mode):
            path.unlink()
            return True
        path.rmdir()  # an empty folder only: never a folder's contents
        return True
    except FileNotFoundError:
        return True
    except OSError as error:
        logger.warning(
            "Cannot remove %s from the index in %s (%s); it is not part of the index. Move it elsewhere "
            "if it is yours, or remove it.",
            path.name,
            path.parent,
            error.strerror or error,
        )
        return False


def make_way_for(path: Path) -> None:
    """``path`` (the manifest) free to be replaced by a file: an empty folder in its place is
    removed; IndexLocationError for a folder that holds something, which only its owner may
    move."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):  # a file or a link: replaced as such
        return
    try:
        path.rmdir()
    except OSError as error:
        raise IndexLocationError(
            f"{path} is a folder ({error.strerror or error}), where the index keeps its manifest. Move it out "
            f"of the way (it may be yours) and index again."
        ) from error
