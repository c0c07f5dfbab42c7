"""The SQLite half of an index: documents, chunks and each chunk's analysed terms.

One database file per generation holds the documents' text (quotes and titles are read from
it), each chunk's text with its character and line spans, and the chunk's pre-analysed terms
(``rag.language.analysis``, joined by spaces), so indexing and querying share one analyser,
and adding or removing a document is one transaction with its chunk rows. A chunk's rowid is
its id everywhere: the vectors and the lexical index (``rag.store.terms``, bm25s, built from
the ``terms`` column at each commit) are keyed by it.

Format 1 kept the terms in an FTS5 table and searched it with FTS5's BM25, which scores every
matching chunk of a query; ``convert_from_fts`` turns such a database into this one, keeping
its terms, so that nothing is re-read or re-embedded.

Reading goes through ``ChunkTable``, one read-only connection shared by threads behind a lock
(an SQLite connection may not be used by two threads at once; the lock is simpler than a
connection per thread, and queries are short). Writing is the functions below, on a connection that the
updater opens on the next generation's file and commits as one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from rag.errors import IndexCorruptError, RagError
from rag.language.analysis import index_terms
from rag.records import Chunk, Document

_SCHEMA = """
CREATE TABLE documents (
    id TEXT PRIMARY KEY, title TEXT, sha256 TEXT NOT NULL, text TEXT NOT NULL
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(id),
    ordinal INTEGER NOT NULL,
    start_char INTEGER NOT NULL, end_char INTEGER NOT NULL,
    start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,
    text TEXT NOT NULL,
    terms TEXT NOT NULL DEFAULT ''
);
CREATE INDEX chunks_by_doc ON chunks(doc_id, ordinal);
"""
_BATCH = 500  # ids or terms per query, well under SQLite's limit on bound parameters


# ----------------------------------------------------------------------------------------
# Reading


class ChunkTable:
    """The chunk database of an open index, read-only. Safe to query from several threads."""

    def __init__(self, folder: Path, db: sqlite3.Connection) -> None:
        self.folder = folder
        self._db = db
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> ChunkTable:
        """The database at ``path``, read-only; IndexCorruptError when SQLite cannot read it."""
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as error:
            raise IndexCorruptError(path.parent, f"{path.name}: {error}") from error
        return cls(path.parent, db)

    def close(self) -> None:
        self._db.close()

    def count(self) -> int:
        return self._query("SELECT count(*) FROM chunks", ())[0][0]

    def chunks(self, ids: Sequence[int]) -> dict[int, Chunk]:
        found: dict[int, Chunk] = {}
        ids = list(dict.fromkeys(int(i) for i in ids))
        for start in range(0, len(ids), _BATCH):
            batch = ids[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            rows = self._query(
                "SELECT id, doc_id, text, start_char, end_char, start_line, end_line "
                f"FROM chunks WHERE id IN ({marks})",
                batch,
            )
            found.update({row[0]: Chunk(*row) for row in rows})
        return found

    def document_text(self, doc_id: str) -> str | None:
        rows = self._query("SELECT text FROM documents WHERE id = ?", (doc_id,))
        return rows[0][0] if rows else None

    def quick_check(self) -> list[str]:
        """SQLite's ``PRAGMA quick_check``: ["ok"], or what is wrong. It reads every page once,
        so it finds damage that opening the database does not (a fifth of a second for 300 MB)."""
        return [row[0] for row in self._query("PRAGMA quick_check", ())]

    def _query(self, sql: str, params: Sequence) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, tuple(params)).fetchall()
            except sqlite3.DatabaseError as error:
                if isinstance(error, sqlite3.ProgrammingError) and "closed" in str(error):
                    raise RagError(f"The index in {self.folder} was closed. Open it again to ask more.") from error
                raise IndexCorruptError(self.folder, error) from error


# ----------------------------------------------------------------------------------------
# Writing (one transaction, on the next generation's file)


def create_database(path: Path) -> sqlite3.Connection:
    """A new, empty chunk database at ``path``."""
    db = sqlite3.connect(path)
    db.executescript(_SCHEMA)
    return db


def open_for_update(path: Path) -> sqlite3.Connection:
    """The chunk database at ``path`` (a copy of the current generation's), to be changed."""
    return sqlite3.connect(path)


def delete_documents(db: sqlite3.Connection, doc_ids: Sequence[str]) -> list[int]:
    """Remove the documents and their chunks; the ids of the chunks removed."""
    gone: list[int] = []
    for doc_id in doc_ids:
        ids = [row[0] for row in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        gone.extend(ids)
    return gone


def insert_document(db: sqlite3.Connection, document: Document) -> None:
    db.execute(
        "INSERT INTO documents (id, title, sha256, text) VALUES (?, ?, ?, ?)",
        (document.id, document.title, document.sha256, document.text),
    )


def insert_chunk(db: sqlite3.Connection, doc_id: str, chunk: Chunk, searchable: str) -> int:
    """Store ``chunk`` (its ``id`` is its ordinal in the document) with the terms of
    ``searchable``, the text it is found by; the chunk's id in the index."""
    terms = " ".join(index_terms(searchable))
    cursor = db.execute(
        "INSERT INTO chunks (doc_id, ordinal, start_char, end_char, start_line, end_line, text, terms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (doc_id, chunk.id, chunk.start_char, chunk.end_char, chunk.start_line, chunk.end_line, chunk.text, terms),
    )
    return cursor.lastrowid


def chunk_terms(db: sqlite3.Connection) -> Iterator[tuple[int, str]]:
    """Every chunk's id and terms, in id order, streamed (not read into memory at once)."""
    yield from db.execute("SELECT id, terms FROM chunks ORDER BY id")


def has_fts_table(db: sqlite3.Connection) -> bool:
    """Whether the database is of format 1: its terms in the FTS5 table ``chunks_fts``."""
    return db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()[0] > 0


def convert_from_fts(db: sqlite3.Connection) -> None:
    """Turn a format-1 database (terms in FTS5's ``chunks_fts``) into this format, in the
    caller's transaction: each chunk's terms move into its row, the FTS5 tables are dropped."""
    db.execute("ALTER TABLE chunks ADD COLUMN terms TEXT NOT NULL DEFAULT ''")
    db.execute(
        "UPDATE chunks SET terms = coalesce((SELECT terms FROM chunks_fts WHERE chunks_fts.rowid = chunks.id), '')"
    )
    db.execute("DROP TABLE IF EXISTS chunks_vocab")
    db.execute("DROP TABLE chunks_fts")
