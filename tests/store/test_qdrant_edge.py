"""The real engine: Qdrant's own Rust segment (qdrant-edge-py, in-process) holding the points
the local-mode writer wrote, asked the queries the reader asks, scores as the folder store's
on every seeds question. Local mode is a Python re-implementation; this is what a server runs."""

import json

import numpy as np
import pytest

edge = pytest.importorskip("qdrant_edge")
pytest.importorskip("qdrant_client")

from rag import Chatbot  # noqa: E402
from rag.language.analysis import query_terms  # noqa: E402
from rag.store.location import checked_store  # noqa: E402
from rag.store.qdrant_connection import DENSE, TERMS, connect  # noqa: E402
from tests.conftest import ROOT, SEEDS  # noqa: E402

DEPTH = 100  # the retriever's candidates per list


def _copy_into_a_shard(location, dim, path):
    from qdrant_client import models

    shard = edge.EdgeShard.create(
        str(path),
        edge.EdgeConfig(
            vectors={DENSE: edge.EdgeVectorParams(size=dim, distance=edge.Distance.Dot)},
            sparse_vectors={TERMS: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
        ),
    )
    connection = connect(location)
    try:
        chunks = models.Filter(must=[models.FieldCondition(key="generation", range=models.Range(gte=0))])
        points, _ = connection.client.scroll("rag", scroll_filter=chunks, with_vectors=True, limit=10_000)
    finally:
        connection.close()
    shard.update(
        edge.UpdateOperation.upsert_points(
            [
                edge.Point(
                    int(p.id),
                    {
                        DENSE: list(p.vector[DENSE]),
                        TERMS: edge.SparseVector(list(p.vector[TERMS].indices), list(p.vector[TERMS].values)),
                    },
                )
                for p in points
            ]
        )
    )
    return shard


@pytest.mark.slow
def test_the_engine_scores_the_seeds_questions_as_the_folder_store(seeds_index, tmp_path):
    questions = [json.loads(line)["question"] for line in (ROOT / "tests/prompts/seeds.jsonl").open() if line.strip()]
    with Chatbot.from_index(seeds_index) as local, Chatbot.from_folder(SEEDS, f"qdrant:{tmp_path / 'q'}") as remote:
        shard = _copy_into_a_shard(checked_store(f"qdrant:{tmp_path / 'q'}"), remote.index.dim, tmp_path / "shard")
        compared = 0
        try:
            for question in questions:
                terms = query_terms(question)
                query = remote.index.term_query(terms)
                if query is None:  # no term the index holds
                    assert local.index.lexical_search(terms, DEPTH) == [], question
                    continue
                indices, values = query
                found = shard.query(
                    edge.QueryRequest(
                        limit=DEPTH, query=edge.Query.Nearest(edge.SparseVector(indices, values), using=TERMS)
                    )
                )
                expected = dict(local.index.lexical_search(terms, DEPTH))
                assert {int(p.id): p.score for p in found} == pytest.approx(expected, rel=1e-5), question
                vector = local.embedder.embed_query(question)
                dense = shard.query(
                    edge.QueryRequest(limit=10, query=edge.Query.Nearest(np.asarray(vector).tolist(), using=DENSE))
                )
                assert [int(p.id) for p in dense] == [i for i, _ in local.index.dense_search(vector, 10)], question
                compared += 1
        finally:
            shard.close()
    assert compared == len(questions) - 1 == 65  # one question has no term the seeds hold
