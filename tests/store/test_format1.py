"""An index of format 1 (terms in an SQLite FTS5 table, as built before the bm25s file): opening it
says to run `rag index`, which converts it without re-reading or re-embedding anything."""

import contextlib
import json
import logging
import sqlite3

import pytest

from rag.errors import IndexMismatchError
from rag.ingest.pipeline import update_index
from rag.store.index import Index
from rag.store.manifest import MANIFEST
from tests.store.sample_index import DOCS, settings


def make_format_1(folder):
    """Turn the format-2 index in ``folder`` into what format 1 wrote: the terms in an FTS5
    table (and its vocabulary table) instead of a column, no lexical file, format_version 1."""
    manifest = json.loads((folder / MANIFEST).read_text())
    chunks = folder / manifest["files"]["chunks"]["name"]
    with contextlib.closing(sqlite3.connect(chunks)) as db, db:
        db.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0')")
        db.execute("CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row')")
        db.execute("INSERT INTO chunks_fts (rowid, terms) SELECT id, terms FROM chunks")
        db.execute("ALTER TABLE chunks DROP COLUMN terms")
    (folder / manifest["files"].pop("lexical")["name"]).unlink()
    manifest["files"]["chunks"]["bytes"] = chunks.stat().st_size
    manifest["format_version"] = 1
    (folder / MANIFEST).write_text(json.dumps(manifest))


def searches(folder):
    with contextlib.closing(Index.open(folder)) as index:
        return [index.lexical_search([term], 5) for term in ("appl", "banana", "grow", "ripe")]


def test_a_format_1_index_is_not_searched_but_names_the_command_that_converts_it(tmp_path):
    update_index(tmp_path, DOCS, settings())
    make_format_1(tmp_path)
    with pytest.raises(IndexMismatchError) as raised:
        Index.open(tmp_path)
    assert str(raised.value) == (
        f"The index in {tmp_path} has format 1 (SQLite full-text search); this version searches format 2. "
        f"Run `rag index FOLDER --index-dir {tmp_path}` once to convert it: its chunks and vectors are kept, "
        "nothing is re-embedded."
    )


def test_indexing_a_format_1_index_converts_it_without_re_embedding(tmp_path, caplog):
    embedder = settings().embedder
    update_index(tmp_path, DOCS, settings(embedder))
    expected = searches(tmp_path)
    make_format_1(tmp_path)

    embedder.embedded.clear()
    with caplog.at_level(logging.INFO, logger="rag.store.update"):
        report = update_index(tmp_path, DOCS, settings(embedder))
    assert report.lexical == "format 1 converted to format 2"
    assert str(report) == "0 added, 0 changed, 0 removed, 3 unchanged; lexical index: format 1 converted to format 2"
    assert (report.added, report.changed, report.removed, embedder.embedded) == ([], [], [], [])
    assert f"converting the index in {tmp_path} to format 2" in caplog.text

    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert (manifest["format_version"], sorted(manifest["files"])) == (2, ["chunks", "lexical", "vectors"])
    with contextlib.closing(sqlite3.connect(tmp_path / manifest["files"]["chunks"]["name"])) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not any(name.startswith("chunks_fts") or name == "chunks_vocab" for name in tables)
    assert searches(tmp_path) == expected
    assert not update_index(tmp_path, DOCS, settings(embedder)).touched  # converted once


def test_a_format_1_index_is_converted_by_an_update_that_also_changes_documents(tmp_path):
    embedder = settings().embedder
    update_index(tmp_path, DOCS[:2], settings(embedder))
    make_format_1(tmp_path)
    embedder.embedded.clear()
    report = update_index(tmp_path, DOCS[1:], settings(embedder))
    assert (report.added, report.removed, embedder.embedded) == (["c.txt"], ["a.txt"], [DOCS[2].text])
    with contextlib.closing(Index.open(tmp_path)) as index:
        assert index.chunk_count == 2
        assert index.document_frequencies(["grow", "appl", "cherri"]) == {"grow": 1, "appl": 0, "cherri": 1}
        assert [i for i, _ in index.lexical_search(["banana"], 5)] == [2]
