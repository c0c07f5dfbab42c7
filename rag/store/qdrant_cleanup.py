"""Clearing up after Qdrant writers: what a killed one left, and what an update no longer
needs once it has committed (see ``rag.store.qdrant_update``). Each function deletes by filter
or by id, so running one twice, or after another writer's clean-up, deletes nothing more."""

from __future__ import annotations

from rag.store.qdrant_connection import (
    TERMS,
    Connection,
    QdrantLocation,
    generation_of_collection,
    vocabulary_point_id,
)


def terms_of(client, name: str, keys: list[str]) -> list[tuple[list[int], int]]:
    """The term ids and lengths of the chunks under ``keys``."""
    from qdrant_client import models

    if not keys:
        return []
    found, offset = [], None
    selector = models.Filter(must=[models.FieldCondition(key="key", match=models.MatchAny(any=keys))])
    chunks_only = models.Filter(
        must=[selector, models.Filter(must=[models.FieldCondition(key="generation", range=models.Range(gte=0))])]
    )
    while True:
        points, offset = client.scroll(
            name, scroll_filter=chunks_only, with_payload=["length"], with_vectors=[TERMS], limit=1000, offset=offset
        )
        for point in points:
            vector = (point.vector or {}).get(TERMS)
            term_ids = list(vector.indices) if vector is not None else []
            found.append((term_ids, point.payload.get("length", 0) if point.payload else 0))
        if offset is None:
            return found


def above(generation: int) -> list:
    """Selectors of the chunks and texts written by generations after ``generation``."""
    from qdrant_client import models

    return [
        models.FilterSelector(
            filter=models.Filter(must=[models.FieldCondition(key=field, range=models.Range(gt=generation))])
        )
        for field in ("generation", "text_generation")
    ]


def remove_leftovers(client, name: str, meta: dict) -> None:
    """What a killed writer left: chunks and texts of generations not committed, points of
    stale keys, vocabulary parts of other generations."""
    from qdrant_client import models

    generation = int(meta["committed"])
    for selector in above(generation):
        client.delete(name, selector, wait=True)
    if meta.get("stale"):
        stale = models.Filter(must=[models.FieldCondition(key="key", match=models.MatchAny(any=meta["stale"]))])
        client.delete(name, models.FilterSelector(filter=stale), wait=True)
    keep = {vocabulary_point_id(generation, n) for n in range(int(meta.get("vocabulary_parts", 0)))}
    vocabulary = models.Filter(must=[models.FieldCondition(key="kind", match=models.MatchValue(value="vocabulary"))])
    points, _ = client.scroll(name, scroll_filter=vocabulary, with_payload=False, limit=10_000)
    old = [p.id for p in points if str(p.id) not in keep]
    if old:
        client.delete(name, models.PointIdsList(points=old), wait=True)


def remove_abandoned_collections(client, location: QdrantLocation, current: str | None) -> None:
    """Collections of this index that the alias does not name: a killed rebuild's."""
    for description in client.get_collections().collections:
        if description.name != current and generation_of_collection(location, description.name) is not None:
            client.delete_collection(description.name)


def highest_collection(connection: Connection, location: QdrantLocation) -> int:
    with connection.calling() as client:
        names = [c.name for c in client.get_collections().collections]
    return max((g for g in (generation_of_collection(location, n) for n in names) if g is not None), default=0)
