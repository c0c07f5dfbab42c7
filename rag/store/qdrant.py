"""The index in a Qdrant collection, read: ``QdrantIndex`` offers what ``rag.store.index.Index``
offers (the retriever, the composer and the chatbot do not know which one they hold), and
``hybrid_search``, both searches in one request.

The layout, the filter that hides points not yet or no longer wanted, and the BM25 weights are
in ``rag.store.qdrant_connection``; the writer is ``rag.store.qdrant_update``. Opening reads the
meta point once (the manifest, the committed generation, the vocabulary with its document
frequencies) and pins the collection the alias names then: a rebuild by another process
switches the alias, and is seen when the index is opened again, as a folder index's new
generation is.

When the collection holds chunk points the meta point does not count (a killed writer's, or an
updated document's old ones not yet deleted), Qdrant's collection-wide idf would count them
too: then the lexical query asks for idf over the live chunks only (``IdfCorpusParams``), so
the scores stay exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.errors import IndexCorruptError, RagError
from rag.records import Chunk
from rag.store.manifest import Manifest
from rag.store.qdrant_connection import (
    DENSE,
    TERMS,
    Connection,
    QdrantLocation,
    connect,
    document_point_id,
    live_filter,
    meta_id,
    point_key,
    query_weight,
    resolve_alias,
    vocabulary_point_id,
)


class QdrantIndex:
    """An open, read-only index in a Qdrant collection. Safe to query from several threads."""

    def __init__(self, connection: Connection, collection: str, meta: dict, vocabulary: dict[str, list[int]]) -> None:
        self.folder = connection.location
        self.collection = collection
        self.manifest = manifest_of(meta)
        self.generation = int(meta["committed"])
        self._connection = connection
        self._stale = list(meta.get("stale", []))
        self._vocabulary = vocabulary
        self._live = live_filter(self.generation, self._stale)
        self._scoped_idf = False
        self._dim = int(self.manifest.embedder.get("dim", 0))

    @classmethod
    def open(cls, location: QdrantLocation) -> QdrantIndex:
        connection = connect(location)
        try:
            with connection.calling() as client:
                collection = resolve_alias(client, location)
                meta = read_meta(client, collection) if collection else None
                if meta is None:
                    raise RagError(f"No index in {location}. Build one with `rag index FOLDER --store {location}`.")
                vocabulary = read_vocabulary(client, collection, meta)
            index = cls(connection, collection, meta, vocabulary)
            index._scoped_idf = index._holds_unlisted_chunks()
        except BaseException:
            connection.close()
            raise
        return index

    def close(self) -> None:
        self._connection.close()

    @property
    def chunk_count(self) -> int:
        return self.manifest.chunk_count

    @property
    def dim(self) -> int:
        return self._dim

    def dense_search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Chunk ids by inner product with ``query``, best first."""
        return self.hybrid_search(query, (), k)[0]

    def lexical_search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Chunk ids by BM25 for any of ``terms``; scores are positive, higher is better."""
        return self.hybrid_search(None, terms, k)[1]

    def hybrid_search(
        self, query: np.ndarray | None, terms: Sequence[str], k: int
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """The dense and the lexical candidates, asked for in one request."""
        from qdrant_client import models

        if k <= 0:
            return [], []
        requests, kinds = [], []
        if query is not None:
            vector = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
            requests.append(models.QueryRequest(query=vector, using=DENSE, limit=k, filter=self._live))
            kinds.append("dense")
        sparse = self._sparse_query(terms)
        if sparse is not None:
            params = models.SearchParams(idf=models.IdfCorpusParams(corpus=self._live)) if self._scoped_idf else None
            requests.append(models.QueryRequest(query=sparse, using=TERMS, limit=k, filter=self._live, params=params))
            kinds.append("lexical")
        found = {"dense": [], "lexical": []}
        if requests:
            with self._connection.calling() as client:
                responses = client.query_batch_points(self.collection, requests)
            for kind, response in zip(kinds, responses, strict=True):
                found[kind] = [(int(point.id), float(point.score)) for point in response.points]
        return found["dense"], found["lexical"]

    def _sparse_query(self, terms: Sequence[str]):
        from qdrant_client import models

        query = self.term_query(terms)
        return models.SparseVector(indices=query[0], values=query[1]) if query else None

    def term_query(self, terms: Sequence[str]) -> tuple[list[int], list[float]] | None:
        """The sparse query for ``terms``: the ids of those the index holds, each weighted so
        that Qdrant's idf becomes FTS5's; None when it holds none of them."""
        entries = [self._vocabulary.get(t) for t in dict.fromkeys(t for t in terms if t)]
        entries = [entry for entry in entries if entry and entry[1] > 0]
        if not entries:
            return None
        chunks = self.chunk_count
        return [entry[0] for entry in entries], [query_weight(chunks, entry[1]) for entry in entries]

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks contain each term (0 for terms the index has never seen)."""
        return {t: int(self._vocabulary.get(t, (0, 0))[1]) for t in dict.fromkeys(terms)}

    def chunks(self, ids: Sequence[int]) -> dict[int, Chunk]:
        ids = list(dict.fromkeys(int(i) for i in ids))
        if not ids:
            return {}
        with self._connection.calling() as client:
            points = client.retrieve(self.collection, ids, with_payload=True, with_vectors=False)
        return {int(p.id): chunk_of(int(p.id), p.payload) for p in points if self._is_live(p.payload)}

    def _is_live(self, payload: dict) -> bool:
        return (
            payload.get("generation", self.generation + 1) <= self.generation and payload.get("key") not in self._stale
        )

    def document_text(self, doc_id: str) -> str | None:
        entry = self.manifest.documents.get(doc_id)
        if entry is None:
            return None
        key = point_key(int(entry.get("generation", self.generation)), doc_id)
        with self._connection.calling() as client:
            points = client.retrieve(self.collection, [document_point_id(key)], with_payload=True)
        return points[0].payload.get("text") if points else None

    def document_chunk_counts(self) -> dict[str, int]:
        return {doc_id: entry["chunks"] for doc_id, entry in sorted(self.manifest.documents.items())}

    def quick_check(self) -> list[str]:
        """["ok"] when the collection holds the chunks and documents the manifest lists."""
        problems = []
        with self._connection.calling() as client:
            live = client.count(self.collection, count_filter=self._live, exact=True).count
            keys = [point_key(int(e.get("generation", self.generation)), d) for d, e in self.manifest.documents.items()]
            found = client.retrieve(self.collection, [document_point_id(k) for k in keys], with_payload=False)
        if live != self.chunk_count:
            problems.append(f"{live} chunks in the collection, {self.chunk_count} in the manifest")
        if len(found) != len(keys):
            problems.append(f"{len(keys) - len(found)} of {len(keys)} documents' texts are missing")
        return problems or ["ok"]

    def _holds_unlisted_chunks(self) -> bool:
        from qdrant_client import models

        every_chunk = models.Filter(must=[models.FieldCondition(key="generation", range=models.Range(gte=0))])
        with self._connection.calling() as client:
            return client.count(self.collection, count_filter=every_chunk, exact=True).count != self.chunk_count


def manifest_of(meta: dict) -> Manifest:
    data = dict(meta["manifest"])
    return Manifest(**{key: data[key] for key in Manifest.__dataclass_fields__ if key in data})


def chunk_of(chunk_id: int, payload: dict) -> Chunk:
    return Chunk(
        chunk_id,
        payload["doc_id"],
        payload["text"],
        payload["start_char"],
        payload["end_char"],
        payload["start_line"],
        payload["end_line"],
    )


def read_meta(client, collection: str) -> dict | None:
    points = client.retrieve(collection, [meta_id()], with_payload=True)
    return points[0].payload if points else None


def read_vocabulary(client, collection: str, meta: dict) -> dict[str, list[int]]:
    """term -> [term id, chunks containing it], of the committed generation."""
    generation, parts = int(meta["committed"]), int(meta.get("vocabulary_parts", 0))
    ids = [vocabulary_point_id(generation, part) for part in range(parts)]
    vocabulary: dict[str, list[int]] = {}
    for point in client.retrieve(collection, ids, with_payload=True) if ids else []:
        vocabulary.update(point.payload["terms"])
    if len(vocabulary) != int(meta.get("vocabulary_size", len(vocabulary))):
        raise IndexCorruptError(collection, "the vocabulary is incomplete")
    return vocabulary


def existing_qdrant_manifest(location: QdrantLocation) -> Manifest | None:
    """What the collection was built with; None when there is none (``existing_manifest``'s
    contract for folders)."""
    connection = connect(location)
    try:
        with connection.calling() as client:
            collection = resolve_alias(client, location)
            meta = read_meta(client, collection) if collection else None
        return manifest_of(meta) if meta else None
    finally:
        connection.close()
