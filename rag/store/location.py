"""Where an index lives, and the one place that picks the store for it.

An index is a folder (``index/``: FAISS and SQLite, ``rag.store.index``), a collection on a
Qdrant server (``qdrant://HOST:PORT`` or ``qdrant://HOST:PORT/COLLECTION``), or a Qdrant
collection kept by qdrant-client's in-process local mode in a folder (``qdrant:PATH``).
``--store`` in the CLI and ``index_dir=`` in Python take any of the three spellings.

``open_store`` gives the reader, ``begin_store_update`` the writer; both stores' readers offer
the methods ``rag.store.index.Index`` offers, and both writers yield an ``Update`` with the
same ``report``, ``documents``, ``writes``, ``add_document`` and ``add_vectors``, so the
pipeline, the retriever and the chatbot do not know which store they are on; ``Store`` is that
reader's interface, earned by its second implementation. The folder store stays the default:
one machine, no server, nothing to install. The choice is a string, not a class to pass, so the
CLI, the UI and Python spell it alike, and the Qdrant modules are imported only when used.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import RagError
from rag.records import Chunk, Document
from rag.store.manifest import Manifest, existing_manifest
from rag.store.qdrant_connection import QdrantLocation, is_store_url, parse_qdrant
from rag.validation import checked_index_dir


class Store(Protocol):
    """What the retriever, the composer, the chatbot and doctor read from an index, whichever
    store holds it (``rag.store.index.Index``, ``rag.store.qdrant.QdrantIndex``)."""

    folder: object  # where it is, printable: a folder, or a QdrantLocation
    manifest: Manifest

    @property
    def chunk_count(self) -> int: ...

    @property
    def dim(self) -> int: ...

    def dense_search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]: ...

    def lexical_search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]: ...

    def hybrid_search(
        self, query: np.ndarray, terms: Sequence[str], k: int
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]: ...

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]: ...

    def chunks(self, ids: Sequence[int]) -> dict[int, Chunk]: ...

    def document_text(self, doc_id: str) -> str | None: ...

    def document_chunk_counts(self) -> dict[str, int]: ...

    def quick_check(self) -> list[str]: ...

    def close(self) -> None: ...


def checked_store(value: object) -> Path | QdrantLocation:
    """``index_dir``/``--store`` as the location of a store: a Qdrant collection, or a folder
    checked as ``rag.validation.checked_index_dir`` checks it."""
    if isinstance(value, QdrantLocation):
        return value
    if is_store_url(value):
        return parse_qdrant(value)
    return checked_index_dir(value)


def index_place(index_dir: object, store: object, default: str = "index") -> object:
    """Where the index is, from a builder's ``index_dir`` and ``store`` keywords (either may name
    a folder or a Qdrant address; ``store`` wins over the default ``index_dir``)."""
    if store is None:
        return index_dir  # checked where it is used: None is "must be a path", as before
    if index_dir is not None and str(index_dir) not in (default, str(store)):
        raise RagError(
            f"index_dir={str(index_dir)!r} and store={str(store)!r} name two places for one index: give one of them."
        )
    return store


def open_store(where: object) -> Store:
    """The reader of the index at ``where`` (``rag.store.index.Index`` or ``QdrantIndex``)."""
    where = checked_store(where)
    if isinstance(where, QdrantLocation):
        from rag.store.qdrant import QdrantIndex

        return QdrantIndex.open(where)
    from rag.store.index import Index

    return Index.open(where)


def begin_store_update(
    where: object,
    documents: Sequence[Document],
    *,
    embedder: dict,
    chunker: dict,
    rebuild: bool = False,
    source: str | Path | None = None,
    keep: Collection[str] = (),
    progress: bool | None = None,
) -> AbstractContextManager:
    """``rag.store.update.begin_update`` for the store at ``where``: the same arguments, the
    same ``Update`` yielded, the same errors. ``progress`` is the folder store's bar for
    rebuilding its lexical file; a Qdrant collection has no such step."""
    where = checked_store(where)
    options = {"embedder": embedder, "chunker": chunker, "rebuild": rebuild, "source": source, "keep": keep}
    if isinstance(where, QdrantLocation):
        from rag.store.qdrant_update import begin_qdrant_update

        return begin_qdrant_update(where, documents, **options)
    from rag.store.update import begin_update

    return begin_update(where, documents, **options, progress=progress)


def store_manifest(where: object) -> Manifest | None:
    """What the index at ``where`` was built with; None when there is none or it is damaged
    (``rag.store.manifest.existing_manifest``'s contract)."""
    where = checked_store(where)
    if isinstance(where, QdrantLocation):
        from rag.store.qdrant import existing_qdrant_manifest

        return existing_qdrant_manifest(where)
    return existing_manifest(where)
