"""Updating an index in a Qdrant collection: the same contract as ``rag.store.update`` (what
changed is decided by the same ``diff``, by sha256 and title; the caller adds chunks and
vectors through the ``Update`` yielded), with Qdrant's means of making it atomic.

An incremental update writes the new chunks under the next generation number, which readers
do not see, then commits by rewriting the meta point (manifest, generation, vocabulary): from
then on readers see the new chunks and hide the changed and removed documents' old ones (their
keys are listed as stale), which are then deleted by a filter and the list cleared. A full
rebuild (or the first build) fills a new collection and switches the alias to it in one
request; the old collection is then deleted.

A writer killed at any point leaves a meta point naming complete, committed chunks; the next
writer deletes what the killed one left (chunks of generations above the committed one, stale
keys, vocabulary parts of other generations, collections the alias does not name). One writer
at a time: for ``qdrant:PATH`` the folder's writer lock (``rag.store.lock``) and local mode's
own lock on the folder; a server has no lock this code can take, so two writers on one
collection at once are the deployment's to prevent (docs/QDRANT.md).

Sparse values need the average chunk length, known only once every chunk is in: the chunks are
written with their dense vectors as they come, and their term vectors just before the commit,
from term counts kept in memory (a few bytes per term of each chunk).
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.language.analysis import index_terms
from rag.records import Chunk, Document
from rag.store.lock import writer_lock
from rag.store.manifest import Manifest, check_compatible
from rag.store.qdrant import manifest_of, read_meta, read_vocabulary
from rag.store.qdrant_cleanup import (
    above,
    highest_collection,
    remove_abandoned_collections,
    remove_leftovers,
    terms_of,
)
from rag.store.qdrant_connection import (
    DENSE,
    TERMS,
    Connection,
    QdrantLocation,
    connect,
    document_point_id,
    meta_id,
    physical_name,
    point_key,
    resolve_alias,
    term_frequency_part,
    vocabulary_point_id,
)
from rag.store.sources import check_not_replacing
from rag.store.update import DISPLAY_ENTRIES, UpdateReport, diff

logger = logging.getLogger(__name__)

_BATCH = 256  # points per upsert
_VOCABULARY_PART = 20_000  # terms per vocabulary point


class QdrantUpdate:
    """One update in progress (``rag.store.update.Update``'s interface)."""

    def __init__(self, report: UpdateReport, documents: list[Document], writer: _Writer | None = None) -> None:
        self.report = report
        self.documents = documents
        self._writer = writer

    @property
    def writes(self) -> bool:
        return self._writer is not None

    def add_document(self, document: Document, chunks: Sequence[Chunk], searchable: Sequence[str]) -> list[int]:
        if len(searchable) != len(chunks):
            raise ValueError("need one searchable text per chunk")
        return self._writer.add_document(document, chunks, searchable)

    def add_vectors(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        self._writer.add_vectors(ids, vectors)


class _Writer:
    """The points of one generation, written as they come; committed by ``commit``."""

    def __init__(self, connection: Connection, collection: str, manifest: Manifest, state: dict) -> None:
        self.connection = connection
        self.collection = collection
        self.manifest = manifest
        self.generation = manifest.generation
        self.next_id = int(state.get("next_id", 1))
        self.vocabulary: dict[str, list[int]] = state.get("vocabulary", {})
        self.next_term = max((entry[0] for entry in self.vocabulary.values()), default=-1) + 1
        self.total_terms = int(state.get("total_terms", 0))
        self.stale: list[str] = state.get("stale", [])
        self.pending: dict[int, dict] = {}  # chunk id -> payload, until its vector comes
        self.counts: dict[int, tuple[list[int], list[int], int]] = {}  # chunk id -> term ids, tfs, length
        self.parts = 0  # vocabulary points written

    def add_document(self, document: Document, chunks: Sequence[Chunk], searchable: Sequence[str]) -> list[int]:
        from qdrant_client import models

        key = point_key(self.generation, document.id)
        ids = list(range(self.next_id, self.next_id + len(chunks)))
        self.next_id += len(chunks)
        for chunk_id, chunk, text in zip(ids, chunks, searchable, strict=True):
            self.counts[chunk_id] = self._count_terms(index_terms(text))
            self.pending[chunk_id] = {
                "doc_id": document.id, "key": key, "generation": self.generation, "ordinal": chunk.id,
                "text": chunk.text, "start_char": chunk.start_char, "end_char": chunk.end_char,
                "start_line": chunk.start_line, "end_line": chunk.end_line, "length": self.counts[chunk_id][2],
            }  # fmt: skip
        text_point = models.PointStruct(
            id=document_point_id(key),
            vector={},
            payload={"kind": "document", "key": key, "doc_id": document.id, "text": document.text,
                     "text_generation": self.generation},
        )  # fmt: skip
        with self.connection.calling() as client:
            client.upsert(self.collection, [text_point], wait=True)
        self.manifest.documents[document.id] = {
            "sha256": document.sha256,
            "chunks": len(chunks),
            "title": document.title,
            **{key: value for key in DISPLAY_ENTRIES if (value := getattr(document, key)) is not None},
            "generation": self.generation,
        }
        return ids

    def _count_terms(self, terms: list[str]) -> tuple[list[int], list[int], int]:
        counts = Counter(terms)
        ids = []
        for term in counts:
            entry = self.vocabulary.setdefault(term, [self.next_term, 0])
            if entry[0] == self.next_term:
                self.next_term += 1
            entry[1] += 1
            ids.append(entry[0])
        self.total_terms += len(terms)
        return ids, list(counts.values()), len(terms)

    def add_vectors(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        from qdrant_client import models

        vectors = np.asarray(vectors, dtype=np.float32)
        points = [
            models.PointStruct(id=int(i), vector={DENSE: row.tolist()}, payload=self.pending.pop(int(i)))
            for i, row in zip(ids, vectors, strict=True)
        ]
        with self.connection.calling() as client:
            for start in range(0, len(points), _BATCH):
                client.upsert(self.collection, points[start : start + _BATCH], wait=True)

    def forget(self, chunk_ids_terms: list[tuple[list[int], int]]) -> None:
        """Take removed chunks (their term ids and lengths) out of the document frequencies."""
        by_id = {entry[0]: entry for entry in self.vocabulary.values()}
        for term_ids, length in chunk_ids_terms:
            for term_id in term_ids:
                if term_id in by_id:
                    by_id[term_id][1] -= 1
            self.total_terms -= length

    def commit(self) -> None:
        """Term vectors, vocabulary, then the meta point: the commit."""
        from qdrant_client import models

        if self.pending:
            raise RagError(f"{len(self.pending)} chunks were added without their vectors.")
        chunks = self.manifest.chunk_count
        average = self.total_terms / chunks if chunks else 0.0
        updates = [
            models.PointVectors(
                id=chunk_id,
                vector={
                    TERMS: models.SparseVector(
                        indices=term_ids, values=[term_frequency_part(tf, length, average) for tf in tfs]
                    )
                },
            )  # fmt: skip
            for chunk_id, (term_ids, tfs, length) in self.counts.items()
        ]
        words = sorted(self.vocabulary.items())
        parts = [dict(words[start : start + _VOCABULARY_PART]) for start in range(0, len(words), _VOCABULARY_PART)]
        with self.connection.calling() as client:
            for start in range(0, len(updates), _BATCH):
                client.update_vectors(self.collection, updates[start : start + _BATCH], wait=True)
            client.upsert(
                self.collection,
                [
                    models.PointStruct(
                        id=vocabulary_point_id(self.generation, n),
                        vector={},
                        payload={"kind": "vocabulary", "terms": p},
                    )
                    for n, p in enumerate(parts)
                ],
                wait=True,
            )
            self.parts = len(parts)
            self.write_meta(client)

    def write_meta(self, client) -> None:
        from qdrant_client import models

        payload = {
            "kind": "meta",
            "manifest": self.manifest.to_json(),
            "committed": self.generation,
            "next_id": self.next_id,
            "total_terms": self.total_terms,
            "stale": self.stale,
            "vocabulary_parts": self.parts,
            "vocabulary_size": len(self.vocabulary),
        }
        client.upsert(self.collection, [models.PointStruct(id=meta_id(), vector={}, payload=payload)], wait=True)


@contextlib.contextmanager
def begin_qdrant_update(
    location: QdrantLocation,
    documents: Sequence[Document],
    *,
    embedder: dict,
    chunker: dict,
    rebuild: bool = False,
    source: str | Path | None = None,
    keep: Collection[str] = (),
) -> Iterator[QdrantUpdate]:
    """``rag.store.update.begin_update`` for a Qdrant collection (see the module docstring)."""
    source = str(Path(source).resolve()) if source is not None else None
    ids = [d.id for d in documents]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise RagError(f"Two documents share the id {duplicate!r}; give each a unique id.")
    lock = writer_lock(_lock_folder(location.path)) if location.path is not None else contextlib.nullcontext()
    connection = connect(location)
    try:
        with lock:
            yield from _update(connection, location, documents, embedder, chunker, rebuild, source, keep)
    finally:
        connection.close()


def _lock_folder(path: Path) -> Path:
    """Beside local mode's own ``.lock`` (held by the process's client), not on it: flock
    locks of one process on two descriptors of one file exclude each other."""
    folder = path / "writer"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _update(connection, location, documents, embedder, chunker, rebuild, source, keep) -> Iterator[QdrantUpdate]:
    with connection.calling() as client:
        current_name = resolve_alias(client, location)
        meta = read_meta(client, current_name) if current_name else None
        remove_abandoned_collections(client, location, current_name)
        if meta is not None:
            remove_leftovers(client, current_name, meta)
    current = manifest_of(meta) if meta is not None and not rebuild else None
    shown = str(location)
    if current is not None:
        check_compatible(shown, current, embedder, chunker)
        check_not_replacing(shown, current, source, diff(current, documents, keep).removed, documents)
    report = diff(current, documents, keep)
    if current is not None and not report.touched:
        if current.source != source or current.embedder != embedder:
            with connection.calling() as client:
                meta["manifest"] = current.to_json() | {"source": source, "embedder": embedder}
                client.upsert(current_name, [_meta_point(meta)], wait=True)
        yield QdrantUpdate(report, [])
        return
    wanted = {d.id: d for d in documents}
    fresh = [wanted[i] for i in report.added + report.changed]
    if current is None:
        yield from _rebuild(connection, location, current_name, meta, embedder, chunker, source, report, fresh)
    else:
        yield from _incremental(connection, current_name, meta, current, embedder, source, report, fresh)
    logger.info("index %s: %s", location, report)


def _rebuild(connection, location, current_name, meta, embedder, chunker, source, report, fresh):
    from qdrant_client import models

    generation = max(int(meta["committed"]) if meta else 0, highest_collection(connection, location)) + 1
    name = physical_name(location, generation)
    manifest = Manifest(embedder=embedder, chunker=chunker, source=source, generation=generation)
    with connection.calling() as client:
        client.create_collection(
            name,
            vectors_config={DENSE: models.VectorParams(size=int(embedder["dim"]), distance=models.Distance.DOT)},
            sparse_vectors_config={TERMS: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        fields = (("generation", "integer"), ("text_generation", "integer"), ("key", "keyword"), ("kind", "keyword"))
        for field, schema in fields if location.url is not None else ():  # local mode has no payload indexes
            client.create_payload_index(name, field, field_schema=schema, wait=True)
    writer = _Writer(connection, name, manifest, {})
    try:
        yield QdrantUpdate(report, fresh, writer)
        writer.commit()
        with connection.calling() as client:
            switch = [
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name=name, alias_name=location.collection)
                )
            ]
            if current_name is not None:
                switch.insert(
                    0, models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=location.collection))
                )
            client.update_collection_aliases(switch)  # one request: readers see the old or the new
    except BaseException:
        with contextlib.suppress(Exception), connection.calling() as client:
            client.delete_collection(name)
        raise
    if current_name is not None:
        with connection.calling() as client:
            client.delete_collection(current_name)


def _incremental(connection, name, meta, current, embedder, source, report, fresh):
    manifest = Manifest(
        embedder=embedder, chunker=current.chunker, source=source, generation=current.generation + 1,
        documents=dict(current.documents),
    )  # fmt: skip
    gone = report.removed + report.changed
    stale = [point_key(int(current.documents[d].get("generation", current.generation)), d) for d in gone]
    for doc_id in gone:
        manifest.documents.pop(doc_id, None)
    with connection.calling() as client:
        vocabulary = read_vocabulary(client, name, meta)
        removed = terms_of(client, name, stale)
    writer = _Writer(connection, name, manifest, {**meta, "vocabulary": vocabulary, "stale": stale})
    writer.forget(removed)
    try:
        yield QdrantUpdate(report, fresh, writer)
        writer.commit()
    except BaseException:
        with contextlib.suppress(Exception), connection.calling() as client:
            for selector in above(current.generation):
                client.delete(name, selector, wait=True)
        raise
    # Committed: readers now hide the stale keys; delete their points, then stop listing them.
    with connection.calling() as client:
        remove_leftovers(
            client, name, {"committed": manifest.generation, "stale": stale, "vocabulary_parts": writer.parts}
        )
        writer.stale = []
        writer.write_meta(client)


def _meta_point(meta: dict):
    from qdrant_client import models

    return models.PointStruct(id=meta_id(), vector={}, payload=meta)
