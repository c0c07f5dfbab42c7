"""Whose documents an index holds: an update must not replace another source's documents.

The source is the folder the documents were read from (recorded in the manifest), or, for
documents handed over in Python, none. Indexing one folder over another's index, or documents
over a folder's, is most likely a forgotten or mistyped ``--index-dir`` / ``index_dir=``:
refused with the way out (``--rebuild``, ``rebuild=True``) while the other source is still
there. When the recorded folder is gone, it most likely moved, and the update goes ahead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from rag.errors import IndexMismatchError
from rag.records import Document
from rag.store.manifest import Manifest
from rag.validation import shown_path

logger = logging.getLogger(__name__)


def check_not_replacing(
    folder: Path, current: Manifest, source: str | None, removed: list[str], documents: Sequence[Document]
) -> None:
    """Documents of one folder indexed over another's would remove the other's: a forgotten or
    mistyped --index-dir. Refused while that folder is still there (rebuilding says it is
    meant); when it is gone, the folder most likely moved, and it goes ahead, saying so."""
    if source is None:
        _check_documents_not_replacing(folder, current, removed, documents)
        return
    if not (current.source and current.source != source and removed):
        return
    if Path(current.source).is_dir():
        shown = _listed(removed)
        raise IndexMismatchError(
            f"The index in {shown_path(folder)} holds the documents of {shown_path(current.source)}; indexing {shown_path(source)} there would "
            f"remove {len(removed)} of them ({shown}). Give another --index-dir, or replace them: "
            f"`rag index {shown_path(source)} --index-dir {shown_path(folder)} --rebuild` (rebuild=True in Python)."
        )
    logger.warning(
        "The index in %s was built from %s, which is no longer there; it now holds the documents of %s (%d removed).",
        folder,
        current.source,
        source,
        len(removed),
    )


def _check_documents_not_replacing(
    folder: Path, current: Manifest, removed: list[str], documents: Sequence[Document]
) -> None:
    """Documents handed over in Python (``Chatbot.from_documents``) are another source than the
    index's when the index was built from a folder that is still there (they would replace its
    documents, and the next `rag index` would replace them back), or when it was built from
    documents and shares no id with these (a collection updated keeps some of its ids; one
    sharing none is another collection, indexed into the wrong ``index_dir``). Refused either
    way; ``rebuild=True`` says replacing is meant."""
    if current.source is not None and Path(current.source).is_dir():
        held = f"the documents of {shown_path(current.source)}"
    elif current.source is None and removed and not current.documents.keys() & {d.id for d in documents}:
        held = f"{len(current.documents)} other documents"
    else:
        return
    loss = f"would remove {len(removed)} of them ({_listed(removed)})" if removed else "would mix the two"
    raise IndexMismatchError(
        f"The index in {shown_path(folder)} holds {held}; indexing these documents there {loss}. "
        "Give another index_dir, or replace them with rebuild=True."
    )


def _listed(ids: list[str]) -> str:
    return ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
