"""The chunk database read on its own (chunk and document lookups, its checks), and BM25 search
and term statistics over the analysed terms it keeps, through the open index."""

import contextlib

import pytest

from rag import Document
from rag.errors import IndexCorruptError, RagError
from rag.ingest.pipeline import update_index
from rag.language.analysis import query_terms
from rag.store.index import Index
from rag.store.lexical import ChunkTable
from rag.store.manifest import data_file, read_manifest
from tests.store.sample_index import DOCS, settings


def chunk_table(folder):
    return ChunkTable.open(data_file(folder, read_manifest(folder), "chunks"))


def test_search_ranks_chunks_by_bm25_over_analysed_terms(tmp_path):
    update_index(tmp_path, DOCS, settings())
    with contextlib.closing(Index.open(tmp_path)) as index:
        found = index.lexical_search(query_terms("Which fruits are yellow when ripe?"), 3)
        chunks = index.chunks([chunk_id for chunk_id, _ in found])
        assert chunks[found[0][0]].source == "b.txt"
        assert all(score > 0 for _, score in found)
        assert index.lexical_search([], 3) == [] and index.lexical_search(query_terms("yellow"), 0) == []


def test_term_statistics_and_lookups_read_what_was_indexed(tmp_path):
    titled = Document(id="d.txt", text="Dates are sweet.", title="Palm fruits")
    update_index(tmp_path, [*DOCS, titled], settings())
    with contextlib.closing(Index.open(tmp_path)) as index:
        frequencies = index.document_frequencies(query_terms("grow palm zebra"))
        assert list(frequencies.values()) == [2, 1, 0]  # the title is searched with its chunks
    with contextlib.closing(chunk_table(tmp_path)) as table:
        assert table.count() == 4
        assert table.document_text("a.txt") == DOCS[0].text and table.document_text("zzz.txt") is None
        assert table.quick_check() == ["ok"]


def test_a_closed_table_says_so(tmp_path):
    update_index(tmp_path, DOCS, settings())
    table = chunk_table(tmp_path)
    table.close()
    with pytest.raises(RagError, match="was closed. Open it again"):
        table.document_text("a.txt")


def test_a_file_sqlite_cannot_read_is_damage_named_by_file(tmp_path):
    (tmp_path / "chunks-1.sqlite").write_bytes(b"\x00garbage" * 512)
    with pytest.raises(IndexCorruptError, match=r"chunks-1.sqlite: file is not a database"):
        ChunkTable.open(tmp_path / "chunks-1.sqlite")
