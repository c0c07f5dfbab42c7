"""The Qdrant store, through qdrant-client's local mode: the scenarios the folder store's tests
run (incremental updates, removed documents, a rebuild, a killed writer), and the same scores
as the folder store on the same documents."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("qdrant_client")

from rag import Document  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.ingest.pipeline import update_index  # noqa: E402
from rag.store.location import begin_store_update, checked_store, open_store  # noqa: E402
from rag.store.qdrant_connection import (  # noqa: E402
    QdrantLocation,
    connect,
    meta_id,
    parse_qdrant,
    point_key,
    query_weight,
)
from tests.conftest import ROOT  # noqa: E402
from tests.store.sample_index import DOCS, CountingEmbedder, settings  # noqa: E402

CHANGED = Document(id="b.txt", text="Bananas are now blue, say the growers.")
ADDED = Document(id="d.txt", text="Dates are sweet fruits of the date palm.")


def store(tmp_path):
    return f"qdrant:{tmp_path / 'q'}"


def test_locations_are_parsed_or_refused_with_what_to_write(tmp_path):
    assert parse_qdrant("qdrant://localhost:6333") == QdrantLocation(url="http://localhost:6333")
    assert parse_qdrant("qdrant://db.example/docs") == QdrantLocation(collection="docs", url="http://db.example:6333")
    assert checked_store(f"qdrant:{tmp_path}") == QdrantLocation(path=tmp_path)
    assert checked_store(str(tmp_path)) == tmp_path
    for bad in ("qdrant://", "qdrant://host:0", "qdrant://host:99999", "qdrant://a b", "qdrant:"):
        with pytest.raises(RagError, match="qdrant"):
            checked_store(bad)


def test_query_weights_turn_lucene_idf_into_fts5_idf():
    # N=10, n=2: FTS5 ln(8.5/2.5), Qdrant ln(1 + 8.5/2.5)
    assert query_weight(10, 2) * np.log(1 + 8.5 / 2.5) == pytest.approx(np.log(8.5 / 2.5))
    assert query_weight(10, 9) * np.log(1 + 1.5 / 9.5) == pytest.approx(1e-6)  # FTS5's floor


def test_reindexing_touches_only_added_changed_and_removed_files(tmp_path):
    update_index(store(tmp_path), DOCS, settings())
    embedder = CountingEmbedder()
    report = update_index(store(tmp_path), [DOCS[0], CHANGED, ADDED], settings(embedder))

    assert (report.added, report.changed, report.removed, report.unchanged) == (["d.txt"], ["b.txt"], ["c.txt"], 1)
    assert sorted(embedder.embedded) == sorted([CHANGED.text, ADDED.text])
    index = open_store(store(tmp_path))
    try:
        assert index.generation == 2 and index.collection == "rag-g1"
        assert index.document_chunk_counts() == {"a.txt": 1, "b.txt": 1, "d.txt": 1}
        texts = {c.source: c.text for c in index.chunks(range(1, 100)).values()}
        assert texts == {"a.txt": DOCS[0].text, "b.txt": CHANGED.text, "d.txt": ADDED.text}
        assert index.lexical_search(["cherri"], 5) == []
        assert index.lexical_search(["yellow"], 5) == []  # b.txt's old chunk is deleted
        assert index.document_frequencies(["blue", "cherri", "grow"]) == {"blue": 1, "cherri": 0, "grow": 1}
        assert index.document_text("b.txt") == CHANGED.text and index.document_text("c.txt") is None
        assert index.quick_check() == ["ok"]
    finally:
        index.close()


def test_an_unchanged_folder_writes_nothing(tmp_path):
    update_index(store(tmp_path), DOCS, settings())
    embedder = CountingEmbedder()
    report = update_index(store(tmp_path), DOCS, settings(embedder))
    assert not report.touched and embedder.embedded == []
    with _opened(tmp_path) as index:
        assert index.generation == 1


def test_scores_are_the_folder_stores(tmp_path):
    """Dense by inner product, lexical by FTS5's BM25, document frequencies exact."""
    update_index(tmp_path / "folder", DOCS + [ADDED], settings())
    update_index(store(tmp_path), DOCS + [ADDED], settings())
    local, remote = open_store(tmp_path / "folder"), open_store(store(tmp_path))
    try:
        query = CountingEmbedder().embed_query("which fruits grow on trees?")
        for terms in (["grow"], ["fruit", "tree", "bird"], ["date", "palm", "sweet", "grow"]):
            dense, lexical = remote.hybrid_search(query, terms, 10)
            assert [i for i, _ in dense] == [i for i, _ in local.dense_search(query, 10)]
            assert dict(dense) == pytest.approx(dict(local.dense_search(query, 10)), abs=1e-5)
            assert dict(lexical) == pytest.approx(dict(local.lexical_search(terms, 10)), rel=1e-6)
            assert remote.document_frequencies(terms) == local.document_frequencies(terms)
        assert remote.chunks([1, 2]) == local.chunks([1, 2])
    finally:
        local.close()
        remote.close()


def test_a_rebuild_fills_a_new_collection_and_switches_the_alias(tmp_path):
    update_index(store(tmp_path), DOCS, settings())
    update_index(store(tmp_path), DOCS[:2], settings(), rebuild=True)
    assert _collections(tmp_path) == (["rag-g2"], {"rag": "rag-g2"})
    with _opened(tmp_path) as index:
        assert index.document_chunk_counts() == {"a.txt": 1, "b.txt": 1}


def test_an_error_inside_the_update_leaves_the_previous_index(tmp_path):
    update_index(store(tmp_path), DOCS, settings())
    embedder = CountingEmbedder()
    with (
        pytest.raises(KeyboardInterrupt),
        begin_store_update(store(tmp_path), [*DOCS, ADDED], **_entries(embedder)) as update,
    ):
        ids = update.add_document(ADDED, [], [])
        raise KeyboardInterrupt
    assert ids == []
    with _opened(tmp_path) as index:
        assert index.generation == 1 and sorted(index.document_chunk_counts()) == ["a.txt", "b.txt", "c.txt"]
        assert index.quick_check() == ["ok"]


@pytest.mark.slow
def test_a_killed_writer_leaves_the_previous_index_and_the_next_writer_cleans_up(tmp_path):
    """A process killed (SIGKILL) after writing a new generation's chunks, before the commit."""
    update_index(store(tmp_path), DOCS, settings())
    _kill_a_writer(tmp_path, rebuild=False)

    with _opened(tmp_path) as index:  # the killed writer's chunks are there, unseen
        assert index.generation == 1 and index.chunk_count == 3
        assert [index.chunks([i])[i].source for i, _ in index.lexical_search(["date", "blue", "banana"], 10)] == [
            "b.txt"
        ]
        assert index.quick_check() == ["ok"]
    report = update_index(store(tmp_path), [DOCS[0], CHANGED, ADDED], settings())
    assert (report.added, report.changed, report.removed) == (["d.txt"], ["b.txt"], ["c.txt"])
    with _opened(tmp_path) as index:
        assert index.generation == 2 and index.chunk_count == 3 and index.quick_check() == ["ok"]
        assert _all_chunk_points(tmp_path) == 3  # nothing of the killed writer's is left


@pytest.mark.slow
def test_a_rebuild_killed_before_its_alias_switch_leaves_the_previous_collection(tmp_path):
    update_index(store(tmp_path), DOCS, settings())
    _kill_a_writer(tmp_path, rebuild=True)
    assert _collections(tmp_path) == (["rag-g1", "rag-g2"], {"rag": "rag-g1"})
    with _opened(tmp_path) as index:
        assert index.collection == "rag-g1" and index.document_chunk_counts() == {"a.txt": 1, "b.txt": 1, "c.txt": 1}
        assert index.quick_check() == ["ok"]
    update_index(store(tmp_path), DOCS, settings())  # nothing changed; the abandoned collection goes
    assert _collections(tmp_path) == (["rag-g1"], {"rag": "rag-g1"})


def test_an_updated_documents_old_chunks_are_hidden_until_deleted(tmp_path):
    """A writer killed after its commit, before deleting the changed document's old chunks: the
    meta point lists their key as stale, and queries drop them."""
    update_index(store(tmp_path), DOCS, settings())
    update_index(store(tmp_path), [DOCS[0], CHANGED, DOCS[2]], settings())
    _put_back_an_old_copy_of_b(tmp_path)
    assert _all_chunk_points(tmp_path) == 4
    with _opened(tmp_path) as index:
        assert index.lexical_search(["yellow"], 5) == []
        hits = index.lexical_search(["banana"], 5)
        assert [index.chunks([i])[i].text for i, _ in hits] == [CHANGED.text]
        assert index.quick_check() == ["ok"]
    update_index(store(tmp_path), [DOCS[0], CHANGED, DOCS[2], ADDED], settings())
    assert _all_chunk_points(tmp_path) == 4  # the stale copy is gone, d.txt came


@pytest.mark.slow
def test_an_unreachable_server_is_one_line_and_exit_2(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    rag = [sys.executable, "-m", "rag.cli"]
    for store_url, said in (("qdrant://127.0.0.1:1", "Cannot reach the Qdrant server"), ("qdrant://a:b:c", "not a")):
        result = subprocess.run([*rag, "ask", "why?", "--store", store_url], cwd=ROOT, env=env, capture_output=True)
        assert result.returncode == 2
        lines = result.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and said in lines[0]


# ----------------------------------------------------------------------------------------


class _opened:
    def __init__(self, tmp_path):
        self.index = open_store(store(tmp_path))

    def __enter__(self):
        return self.index

    def __exit__(self, *exc):
        self.index.close()


def _kill_a_writer(tmp_path, rebuild: bool) -> None:
    """A process that writes b.txt changed and d.txt added, killed (SIGKILL) before its commit."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from rag.ingest.chunking import chunk_document
        from rag.store.location import begin_store_update
        from tests.store.sample_index import DOCS, settings
        from tests.store.test_qdrant import ADDED, CHANGED, _entries
        s = settings()
        with begin_store_update({store(tmp_path)!r}, [DOCS[0], CHANGED, ADDED], **_entries(s.embedder), rebuild={rebuild}) as update:
            for document in update.documents:
                chunks = chunk_document(document, s.counter, s.chunker)
                ids = update.add_document(document, chunks, [c.text for c in chunks])
                update.add_vectors(ids, s.embedder.embed_documents([c.text for c in chunks]))
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr


def _collections(tmp_path) -> tuple[list[str], dict[str, str]]:
    connection = connect(checked_store(store(tmp_path)))
    try:
        names = sorted(c.name for c in connection.client.get_collections().collections)
        return names, {a.alias_name: a.collection_name for a in connection.client.get_aliases().aliases}
    finally:
        connection.close()


def _entries(embedder):
    return dict(zip(("embedder", "chunker"), settings(embedder).manifest_entries(), strict=True))


def _all_chunk_points(tmp_path) -> int:
    from qdrant_client import models

    connection = connect(checked_store(store(tmp_path)))
    try:
        chunks = models.Filter(must=[models.FieldCondition(key="generation", range=models.Range(gte=0))])
        return connection.client.count("rag", count_filter=chunks, exact=True).count
    finally:
        connection.close()


def _put_back_an_old_copy_of_b(tmp_path) -> None:
    """The state a writer killed between its commit and its deletes leaves: b.txt's generation-1
    chunk beside its generation-2 one, its key listed as stale in the meta point."""
    from qdrant_client import models

    connection = connect(checked_store(store(tmp_path)))
    client = connection.client
    try:
        meta = client.retrieve("rag", [meta_id()], with_payload=True)[0].payload
        [current] = client.scroll(
            "rag",
            scroll_filter=models.Filter(
                must=[
                    models.FieldCondition(key="doc_id", match=models.MatchValue(value="b.txt")),
                    models.FieldCondition(key="generation", range=models.Range(gte=0)),
                ]
            ),
            with_vectors=True,
            with_payload=True,
        )[0][:1]
        old_key = point_key(1, "b.txt")
        payload = current.payload | {"generation": 1, "key": old_key, "text": DOCS[1].text}
        client.upsert("rag", [models.PointStruct(id=99, vector=current.vector, payload=payload)])
        client.upsert("rag", [models.PointStruct(id=meta_id(), vector={}, payload=meta | {"stale": [old_key]})])
    finally:
        connection.close()
