"""The index on disk, read: ``Index`` opens the generation the manifest names and answers
searches and chunk lookups from it.

Layout of an index folder::

    manifest.json          format version, embedder, chunker, token counter, documents
                           (sha256, chunk count), and the data files of the current generation
    chunks-<gen>.sqlite    documents, chunks (text, character and line spans, analysed terms)
    vectors-<gen>.faiss    the vectors, keyed by chunk id (``rag.store.vectors``)
    lexical-<gen>.bm25     bm25s's scores of the terms, memory-mapped (``rag.store.terms``)

Each part has its own module: ``rag.store.manifest`` (the manifest, its checks, and whether an
embedder or chunker fits the index), ``rag.store.lexical`` (the SQLite database),
``rag.store.terms`` (BM25 search), ``rag.store.vectors`` (the vectors; the only module that knows FAISS),
``rag.store.files`` (file names, durable writes, failed writes), ``rag.store.update`` (the
writer: generations, the lock, incremental updates), ``rag.store.sources`` (whose documents an
index holds) and ``rag.store.health`` (the contents checks doctor and every update run, and
the files killed writers leave). This module only reads, so it never takes the
writer's lock: an update commits by replacing the manifest, and a reader that meets files
removed by a commit between reading the manifest and opening them reads the new manifest.

An index of format 1 (its terms in an FTS5 table) is not searched: opening it says to run
`rag index` once, which converts it without re-reading or re-embedding anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError, IndexMismatchError, RagError
from rag.records import Chunk
from rag.store.files import check_readable, describe_size, not_a_file
from rag.store.lexical import ChunkTable
from rag.store.manifest import FORMAT_VERSION, Manifest, data_file, read_manifest
from rag.store.terms import ENGINE, TermsIndex
from rag.store.vectors import FaissVectors
from rag.validation import shown_path

_OPEN_ATTEMPTS = 3  # reading an index while a writer replaces it


class Index:
    """An open, read-only index. Safe to query from several threads."""

    def __init__(
        self, folder: Path, manifest: Manifest, table: ChunkTable, vectors: FaissVectors, terms: TermsIndex
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self._table = table
        self._vectors = vectors
        self._terms = terms

    @classmethod
    def open(cls, folder: str | Path) -> Index:
        folder = not_a_file(Path(folder))
        for attempt in range(_OPEN_ATTEMPTS):
            manifest = read_manifest(folder)
            if manifest is None:
                raise RagError(
                    f"No index in {shown_path(folder)}. Build one with `rag index FOLDER --index-dir {shown_path(folder)}`."
                )
            _check_format(folder, manifest)
            try:
                db_path, vectors_path, terms_path = (
                    data_file(folder, manifest, role) for role in ("chunks", "vectors", "lexical")
                )
                for path in (db_path, vectors_path, terms_path):
                    check_readable(path)
                vectors = FaissVectors.load(vectors_path)
                terms = TermsIndex.open(terms_path)
                table = ChunkTable.open(db_path)
                break
            except IndexCorruptError:
                # A writer may have committed a new generation and removed this one's files
                # between reading the manifest and opening them: then read the new manifest.
                latest = read_manifest(folder)
                if attempt == _OPEN_ATTEMPTS - 1 or latest is None or latest.generation == manifest.generation:
                    raise
        index = cls(folder, manifest, table, vectors, terms)
        try:
            index._check_consistent()
        except RagError:
            index.close()
            raise
        return index

    def close(self) -> None:
        self._table.close()

    @property
    def chunk_count(self) -> int:
        return self._vectors.count

    @property
    def dim(self) -> int:
        """The dimension of the stored vectors."""
        return self._vectors.dimension

    def dense_search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Chunk ids by inner product with ``query``, best first."""
        ids, scores = self._vectors.search(query, k)
        return list(zip(ids, scores, strict=True))

    def hybrid_search(
        self, query: np.ndarray, terms: Sequence[str], k: int
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """The dense and the lexical candidates (``dense_search``, ``lexical_search``): one call,
        as a store that sends both in one request answers it."""
        return self.dense_search(query, k), self.lexical_search(terms, k)

    def lexical_search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Chunk ids by BM25 for any of ``terms``; scores are positive, higher is better."""
        return self._terms.search(terms, k)

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks contain each term (0 for terms the index has never seen)."""
        return self._terms.document_frequencies(terms)

    def chunks(self, ids: Sequence[int]) -> dict[int, Chunk]:
        return self._table.chunks(ids)

    def document_text(self, doc_id: str) -> str | None:
        return self._table.document_text(doc_id)

    def document_chunk_counts(self) -> dict[str, int]:
        return {doc_id: entry["chunks"] for doc_id, entry in sorted(self.manifest.documents.items())}

    @property
    def lexical_engine(self) -> str:
        """What answers ``lexical_search``, in words, with the size of its file."""
        return f"{ENGINE}, {describe_size(self._terms.size())}"

    def quick_check(self) -> list[str]:
        """["ok"] when every page of the chunk database reads, else what is wrong: damage that
        opening does not read, but a question would meet."""
        return self._table.quick_check()

    def _check_consistent(self) -> None:
        # Vectors of another dimension than the embedder's would fail FAISS's assertion at the
        # first search, a traceback instead of this message.
        expected = self.manifest.embedder.get("dim")
        if self.dim != expected:
            raise IndexCorruptError(
                self.folder,
                f"{self.manifest.files['vectors']['name']} holds vectors of dimension {self.dim}, "
                f"the manifest says {expected}",
            )
        rows = self._table.count()
        if len({rows, self.chunk_count, self._terms.count, self.manifest.chunk_count}) > 1:
            raise IndexCorruptError(
                self.folder,
                f"{rows} chunks in the table, {self.chunk_count} vectors, {self.manifest.chunk_count} in the manifest"
                + ("" if self._terms.count == rows else f", {self._terms.count} in {self._terms.path.name}"),
            )


def _check_format(folder: Path, manifest: Manifest) -> None:
    """IndexMismatchError for an index of an older format, which `rag index` converts."""
    if manifest.format_version < FORMAT_VERSION:
        raise IndexMismatchError(
            f"The index in {shown_path(folder)} has format {manifest.format_version} (SQLite full-text search); this "
            f"version searches format {FORMAT_VERSION}. Run `rag index FOLDER --index-dir {shown_path(folder)}` once to "
            "convert it: its chunks and vectors are kept, nothing is re-embedded."
        )
