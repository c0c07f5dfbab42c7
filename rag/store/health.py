"""What opening an index does not read: checks of its contents, and stale temporary files.

Opening an index (``rag.store.index``) reads the manifest, checks the data files' sizes and
counts the chunks; it cannot afford to read every page. ``check_contents`` reads them all,
for ``rag doctor`` and for every update (``rag.store.update``), which repairs what it finds
(``damage_to_repair``) instead of carrying the damage into the next generation:

- SQLite's ``PRAGMA integrity_check`` (every page, every b-tree, every index entry);
- the lexical index (``rag.store.terms``, format 2): it opens, its arrays fit its vocabulary,
  and its id map holds exactly the chunk ids of the database. Damage there is repaired by
  rebuilding it from the terms the database keeps, without re-reading any document;
- of a format-1 index, FTS5's own ``integrity-check`` of the terms table, which finds a
  flipped bit inside the full-text data that SQLite's checks pass. The command is an INSERT,
  refused on a read-only connection, so it runs on a copy of the database in memory: doctor
  must not write to the index, nor need a writable folder;
- each stored document's text against the sha256 the manifest records, and each document's
  chunk count against the manifest's: damage there is confined to those documents, which an
  update re-reads, where damage to the file as a whole means a rebuild.

The trade: the copy costs the database's size in memory for a moment, and the checks about
a tenth of a second per 10 MB; ``benchmarks/doctor.py`` measures them beside opening the index.

``stale_files`` lists what killed writers left behind (``*.tmp``, SQLite journals); whether a
writer is alive is told by the writer lock (``writer_active``), never by the files' age.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import IndexCorruptError, RagError
from rag.store.files import LOCK, generation_of
from rag.store.manifest import Manifest, data_file
from rag.store.ownership import is_index_folder, is_temporary
from rag.store.terms import TermsIndex
from rag.store.vectors import FaissVectors

logger = logging.getLogger(__name__)

_FTS_TABLE = "chunks_fts"  # rag.store.lexical's terms table
_SHOWN = 3  # problems named in a one-line summary


@dataclass(frozen=True)
class Health:
    """What ``check_contents`` found: ``file_damage``, problems of the database as a whole
    (the index must be rebuilt); ``damaged_documents``, ids whose stored text or chunks do not
    match the manifest (re-reading them is enough); ``lexical_damage``, what is wrong with the
    lexical index ("" when nothing: rebuilding it from the stored terms is enough)."""

    file_damage: list[str] = field(default_factory=list)
    damaged_documents: list[str] = field(default_factory=list)
    lexical_damage: str = ""

    @property
    def ok(self) -> bool:
        return not (self.file_damage or self.damaged_documents or self.lexical_damage)

    def summary(self) -> str:
        if self.file_damage:
            return "; ".join(self.file_damage[:_SHOWN])
        if self.lexical_damage:
            return self.lexical_damage
        shown = ", ".join(self.damaged_documents[:_SHOWN]) + (", ..." if len(self.damaged_documents) > _SHOWN else "")
        return f"the stored text or chunks of {len(self.damaged_documents)} document(s) do not match the manifest ({shown})"


def check_contents(db_path: Path, manifest: Manifest) -> Health:
    """Read every page of the chunk database at ``db_path`` and check it against ``manifest``."""
    try:
        source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    except sqlite3.DatabaseError as error:
        return Health(file_damage=[f"{db_path.name}: {error}"])
    try:
        problems = _sqlite_problems(source)
        if problems:
            return Health(file_damage=[f"{db_path.name}: {p}" for p in problems])
        if manifest.format_version < 2:
            fts = _fts_problems(source)
            if fts:
                return Health(file_damage=[f"{db_path.name}: {fts}"])
            lexical = ""
        else:
            lexical = lexical_problems(db_path.parent, manifest, source)
        return Health(damaged_documents=_damaged_documents(source, manifest), lexical_damage=lexical)
    except sqlite3.DatabaseError as error:
        return Health(file_damage=[f"{db_path.name}: {error}"])
    finally:
        source.close()


def vector_problems(path: Path, manifest: Manifest, vectors: FaissVectors | None = None) -> list[str]:
    """What is wrong with the vectors at ``path``: another dimension than the embedder's, or
    another count than the manifest's chunks (IndexCorruptError when FAISS cannot read them).
    ``vectors``: the file as already loaded, not read again."""
    vectors = FaissVectors.load(path) if vectors is None else vectors
    problems = []
    if vectors.dimension != manifest.embedder.get("dim"):
        problems.append(
            f"{path.name} holds vectors of dimension {vectors.dimension}, the manifest says {manifest.embedder.get('dim')}"
        )
    if vectors.count != manifest.chunk_count:
        problems.append(f"{path.name} holds {vectors.count} vectors, the manifest counts {manifest.chunk_count} chunks")
    return problems


def lexical_problems(folder: Path, manifest: Manifest, db: sqlite3.Connection) -> str:
    """What is wrong with the lexical index of a format-2 index ("" when nothing): it is
    missing or unreadable, or its id map is not the chunk ids of the database ``db``."""
    try:
        terms = TermsIndex.open(data_file(folder, manifest, "lexical"))
    except (RagError, OSError) as error:
        return str(error)
    damage = terms.damage()
    if damage:
        return damage
    stored = [row[0] for row in db.execute("SELECT id FROM chunks ORDER BY id")]
    name = terms.path.name
    if terms.count != len(stored):
        return f"{name} maps {terms.count} chunks, the database holds {len(stored)}"
    if sorted(int(i) for i in terms.ids) != stored:
        return f"{name} maps other chunk ids than the database holds"
    return ""


def _sqlite_problems(db: sqlite3.Connection) -> list[str]:
    rows = [" ".join(str(row[0]).split()) for row in db.execute("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else rows


def _fts_problems(db: sqlite3.Connection) -> str | None:
    copy = sqlite3.connect(":memory:")
    try:
        db.backup(copy)
        copy.execute(f"INSERT INTO {_FTS_TABLE}({_FTS_TABLE}) VALUES('integrity-check')")
    except sqlite3.DatabaseError as error:
        return f"its full-text table fails FTS5's integrity-check ({error})"
    finally:
        copy.close()
    return None


def _damaged_documents(db: sqlite3.Connection, manifest: Manifest) -> list[str]:
    """Ids of documents whose stored text does not hash to the manifest's sha256, whose chunk
    count differs from the manifest's, or that the manifest records and the database lacks."""
    stored: dict[str, str] = {}
    for doc_id, text in db.execute("SELECT id, text FROM documents"):
        stored[doc_id] = hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).hexdigest()
    counts = dict(db.execute("SELECT doc_id, count(*) FROM chunks GROUP BY doc_id").fetchall())
    damaged = []
    for doc_id, entry in manifest.documents.items():
        if stored.get(doc_id) != entry["sha256"] or counts.get(doc_id, 0) != entry["chunks"]:
            damaged.append(doc_id)
    return sorted(damaged)


# ----------------------------------------------------------------------------------------
# What killed writers leave behind


def stale_files(folder: Path, manifest: Manifest | None = None) -> list[tuple[Path, int]]:
    """Files of interrupted updates in ``folder``, with their sizes in bytes: a data file's
    ``.tmp`` copy or SQLite journal, and, given the folder's ``manifest``, data files of any
    generation but the one it names (a writer killed between renaming its files into place and
    committing). None while a writer holds the lock, since they are then that writer's, nor in
    a folder that is not an index's (``rag.store.ownership``), since they are someone else's."""
    if writer_active(folder) or not is_index_folder(folder):
        return []
    current = {entry["name"] for entry in manifest.files.values()} if manifest else None
    found = []
    for path in sorted(folder.iterdir()):
        orphan = current is not None and generation_of(path.name) is not None and path.name not in current
        if is_temporary(path.name) or orphan:
            with contextlib.suppress(OSError):  # removed meanwhile
                found.append((path, path.lstat().st_size))
    return found


def writer_active(folder: Path) -> bool:
    """Whether a writer holds the index's lock now (``rag.store.update`` takes it)."""
    try:
        fd = os.open(folder / LOCK, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False  # no lock file: no writer has ever run here
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def damage_to_repair(
    folder: Path, db_path: Path, vectors_path: Path, current: Manifest, vectors: FaissVectors
) -> tuple[list[str], str]:
    """What an update (``rag.store.update``) must repair in the current index: the documents
    whose stored contents are damaged, and why the lexical index must be written again though
    no document changed ("" when it need not); IndexCorruptError when the chunk database or the
    vectors (``vectors``, read from ``vectors_path``) are damaged as a whole (the caller rebuilds)."""
    problems = vector_problems(vectors_path, current, vectors)
    if problems:
        raise IndexCorruptError(folder, "; ".join(problems))
    health = check_contents(db_path, current)
    if health.file_damage:
        raise IndexCorruptError(folder, health.summary())
    if health.damaged_documents:
        logger.warning(
            "The index in %s is damaged: %s; re-reading them.",
            folder,
            Health(damaged_documents=health.damaged_documents).summary(),
        )
    if current.format_version < 2:
        return health.damaged_documents, f"format {current.format_version} converted to format 2"
    if health.lexical_damage:
        logger.warning(
            "The lexical index in %s is damaged: %s; rebuilding it from the stored terms.",
            folder,
            health.lexical_damage,
        )
        return health.damaged_documents, f"damaged lexical index rebuilt ({health.lexical_damage})"
    return health.damaged_documents, ""
