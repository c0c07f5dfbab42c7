"""The index on disk: FAISS vectors, an SQLite chunk table with FTS5 lexical search, and the
``manifest.json`` that describes them.

Layout of an index folder::

    manifest.json          format version, embedder, chunker, token counter, documents
                           (sha256, chunk count), and the data files of the current generation
    chunks-<gen>.sqlite    documents, chunks (text, character and line spans), FTS5 table
    vectors-<gen>.faiss    IndexIDMap2(IndexFlatIP) keyed by chunk id

Writes are atomic by generation: an update writes the next generation's files beside the
current ones (temporary name, fsync, rename), then replaces ``manifest.json`` the same way;
that rename is the commit. A process killed at any point leaves a manifest that names complete
files, so the previous index stays usable. Files of older generations are removed after the
commit, and leftovers of an interrupted update are removed by the next one. One writer at a
time holds ``.lock``.

Lexical search is SQLite FTS5's built-in BM25 (k1=1.2, b=0.75) over pre-analysed terms (see
``rag.language.analysis``), so indexing and querying share one analyser and updates are transactional.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from rag.errors import IndexCorruptError, IndexLocationError, IndexMismatchError, RagError
from rag.ingest.chunking import ChunkerSettings, chunk_document
from rag.ingest.tokens import TokenCounter
from rag.language.analysis import ANALYZER_ID, index_terms
from rag.models.embedding import Embedder
from rag.records import Chunk, Document

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_OPEN_ATTEMPTS = 3  # reading an index while a writer replaces it
_EMBED_BATCH = 256
_LONG_JOB_CHARACTERS = 2_000_000  # about a second of indexing offline, far longer with a model

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
    text TEXT NOT NULL
);
CREATE INDEX chunks_by_doc ON chunks(doc_id, ordinal);
CREATE VIRTUAL TABLE chunks_fts USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row');
"""


@dataclass
class Manifest:
    embedder: dict
    chunker: dict
    format_version: int = FORMAT_VERSION
    generation: int = 0
    documents: dict[str, dict] = field(default_factory=dict)
    files: dict[str, dict] = field(default_factory=dict)
    # The folder the documents were read from (absolute), so `rag index` can refresh it and a
    # different folder is noticed; None when they were handed over as Documents.
    source: str | None = None
    # Top-level keys this version does not know (a newer version's), written back unchanged
    # when this version rewrites the manifest.
    unknown: dict = field(default_factory=dict)

    @property
    def chunk_count(self) -> int:
        return sum(d["chunks"] for d in self.documents.values())

    def to_json(self) -> dict:
        """What ``manifest.json`` holds: the entries above, then the unknown keys."""
        data = asdict(self)
        unknown = data.pop("unknown")
        return data | {key: value for key, value in unknown.items() if key not in data}


@dataclass(frozen=True)
class UpdateReport:
    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: int
    # Unreadable this time, so left as indexed (counted in ``unchanged``).
    kept: list[str] = field(default_factory=list)

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def __str__(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged"
        )


# ----------------------------------------------------------------------------------------
# Reading


class Index:
    """An open, read-only index. Safe to query from several threads."""

    def __init__(self, folder: Path, manifest: Manifest, db: sqlite3.Connection, vectors) -> None:
        self.folder = folder
        self.manifest = manifest
        self._db = db
        self._vectors = vectors
        self._lock = threading.Lock()

    @classmethod
    def open(cls, folder: str | Path) -> Index:
        folder = _not_a_file(Path(folder))
        for attempt in range(_OPEN_ATTEMPTS):
            manifest = read_manifest(folder)
            if manifest is None:
                raise RagError(f"No index in {folder}. Build one with `rag index FOLDER --index-dir {folder}`.")
            try:
                db_path, vectors_path = (_data_file(folder, manifest, role) for role in ("chunks", "vectors"))
                _check_readable(db_path)
                _check_readable(vectors_path)
                vectors = _read_vectors(vectors_path)
                db = _connect(db_path, read_only=True)
                break
            except IndexCorruptError:
                # A writer may have committed a new generation and removed this one's files
                # between reading the manifest and opening them: then read the new manifest.
                latest = read_manifest(folder)
                if attempt == _OPEN_ATTEMPTS - 1 or latest is None or latest.generation == manifest.generation:
                    raise
        index = cls(folder, manifest, db, vectors)
        try:
            index._check_consistent()
        except RagError:
            index.close()
            raise
        return index

    def close(self) -> None:
        self._db.close()

    @property
    def chunk_count(self) -> int:
        return int(self._vectors.ntotal)

    def dense_search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = min(k, self.chunk_count)
        if k <= 0:
            return []
        scores, ids = self._vectors.search(query.reshape(1, -1).astype(np.float32), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=False) if i >= 0]

    def lexical_search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Chunk ids by BM25 for any of ``terms``; scores are positive, higher is better."""
        unique = list(dict.fromkeys(t for t in terms if t))
        if not unique or k <= 0:
            return []
        query = " OR ".join(f'"{t}"' for t in unique)
        rows = self._query(
            "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?",
            (query, k),
        )
        return [(int(rowid), -float(score)) for rowid, score in rows]

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks contain each term (0 for terms the index has never seen)."""
        unique = list(dict.fromkeys(terms))
        found: dict[str, int] = {}
        for start in range(0, len(unique), 500):
            batch = unique[start : start + 500]
            marks = ",".join("?" * len(batch))
            found.update(self._query(f"SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})", batch))
        return {t: int(found.get(t, 0)) for t in unique}

    def chunks(self, ids: Sequence[int]) -> dict[int, Chunk]:
        found: dict[int, Chunk] = {}
        ids = list(dict.fromkeys(int(i) for i in ids))
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
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

    def document_chunk_counts(self) -> dict[str, int]:
        return {doc_id: entry["chunks"] for doc_id, entry in sorted(self.manifest.documents.items())}

    def _query(self, sql: str, params: Sequence) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, tuple(params)).fetchall()
            except sqlite3.DatabaseError as error:
                if isinstance(error, sqlite3.OperationalError) and "fts5: syntax error" in str(error):
                    raise
                if isinstance(error, sqlite3.ProgrammingError) and "closed" in str(error):
                    raise RagError(f"The index in {self.folder} was closed. Open it again to ask more.") from error
                raise IndexCorruptError(self.folder, error) from error

    @property
    def dim(self) -> int:
        """The dimension of the stored vectors."""
        return int(self._vectors.d)

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
        rows = self._query("SELECT count(*) FROM chunks", ())
        if rows[0][0] != self.chunk_count or self.chunk_count != self.manifest.chunk_count:
            raise IndexCorruptError(
                self.folder,
                f"{rows[0][0]} chunks in the table, {self.chunk_count} vectors, "
                f"{self.manifest.chunk_count} in the manifest",
            )


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest, None when there is none, IndexCorruptError when it is unreadable."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except PermissionError as error:
        raise IndexLocationError(
            f"Cannot read the index in {folder} ({error.strerror}). Give --index-dir a folder you can read."
        ) from error
    except (OSError, ValueError, RecursionError) as error:  # RecursionError: "[[[[..." nested too deep
        if not _holds_index_files(folder):
            raise _foreign_manifest(folder) from error
        raise IndexCorruptError(folder, f"{MANIFEST}: {error}") from error
    if not (isinstance(data, dict) and _MANIFEST_KEYS & data.keys()):
        raise _foreign_manifest(folder)
    version = _entry(folder, data, "format_version", _WHOLE, optional=True)
    if version is not None and version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"The index in {folder} has format {version}; this version reads "
            f"format {FORMAT_VERSION}. Rebuild it with `rag index FOLDER --index-dir {folder} --rebuild`."
        )
    missing = [key for key in ("embedder", "chunker") if key not in data]
    if missing:
        raise IndexCorruptError(folder, f"{MANIFEST} has no {' or '.join(missing)} entry")
    _check_shape(folder, data)
    # Keys this version does not know are left unread, not refused: a newer version adds a key
    # without changing format_version only when older readers can do without it (a change
    # they cannot read raises the format, refused above), so the index is sound here. They
    # are kept, and written back when this version updates the index.
    known = {key: value for key, value in data.items() if key in _MANIFEST_FIELDS}
    return Manifest(**known, unknown={key: value for key, value in data.items() if key not in known})


_TEXT, _TEXT_OR_NULL, _WHOLE, _OBJECT = "text", "text or null", "a whole number", "an object"
_IS = {
    _TEXT: lambda value: isinstance(value, str),
    _TEXT_OR_NULL: lambda value: value is None or isinstance(value, str),
    _WHOLE: lambda value: isinstance(value, int) and not isinstance(value, bool),
    _OBJECT: lambda value: isinstance(value, dict),
}
_CHUNKER_ENTRIES = {"max_tokens": _WHOLE, "overlap_tokens": _WHOLE, "tokenizer": _TEXT, "analyzer": _TEXT}


def _check_shape(folder: Path, data: dict) -> None:
    """Every entry this version reads has the type this version writes. A hand-edited or
    corrupted manifest (``"documents": []``) is damage named here, in one place, rather than a
    TypeError wherever the entry happens to be used first."""
    _entry(folder, data, "generation", _WHOLE, optional=True)
    _entry(folder, data, "source", _TEXT_OR_NULL, optional=True)
    embedder = _entry(folder, data, "embedder", _OBJECT)
    _entry(folder, embedder, "id", _TEXT, "embedder.id")
    _entry(folder, embedder, "dim", _WHOLE, "embedder.dim")
    _entry(folder, embedder, "fingerprint", _TEXT, "embedder.fingerprint", optional=True)
    chunker = _entry(folder, data, "chunker", _OBJECT)
    for key, kind in _CHUNKER_ENTRIES.items():
        _entry(folder, chunker, key, kind, f"chunker.{key}", optional=True)
    documents = _entry(folder, data, "documents", _OBJECT, optional=True) or {}
    for doc_id in documents:
        name = f"documents[{json.dumps(doc_id, ensure_ascii=False)}]"  # ids hold dots: "a.txt"
        document = _entry(folder, documents, doc_id, _OBJECT, name)
        _entry(folder, document, "sha256", _TEXT, f"{name}.sha256")
        _entry(folder, document, "chunks", _WHOLE, f"{name}.chunks")
        _entry(folder, document, "title", _TEXT_OR_NULL, f"{name}.title", optional=True)
    files = _entry(folder, data, "files", _OBJECT, optional=True) or {}
    for role in files:
        entry = _entry(folder, files, role, _OBJECT, f"files.{role}")
        _entry(folder, entry, "name", _TEXT, f"files.{role}.name")
        _entry(folder, entry, "bytes", _WHOLE, f"files.{role}.bytes")


def _entry(folder: Path, parent: dict, key: str, kind: str, name: str | None = None, *, optional: bool = False):
    """``parent[key]`` when it is of ``kind``; None when it is absent and ``optional``;
    otherwise IndexCorruptError naming the entry (``name``, by default ``key``)."""
    name = name or key
    if key not in parent:
        if optional:
            return None
        raise IndexCorruptError(folder, f"{MANIFEST} has no {name} entry")
    value = parent[key]
    if not _IS[kind](value):
        raise IndexCorruptError(folder, f"{MANIFEST}: {name} should be {kind}, not {_json_kind(value)}")
    return value


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "an object"


def existing_manifest(folder: str | Path) -> Manifest | None:
    """The folder's manifest when it holds a sound one; None when there is none or it is
    damaged (a damaged index is rebuilt, so what it was built with no longer matters)."""
    try:
        return read_manifest(Path(folder))
    except IndexCorruptError:
        return None


_MANIFEST_KEYS = frozenset(["format_version", "embedder", "chunker", "files", "documents"])
_MANIFEST_FIELDS = frozenset(f.name for f in fields(Manifest)) - {"unknown"}


def _holds_index_files(folder: Path) -> bool:
    return any(_generation_of(p.name) is not None for p in folder.iterdir())


def _foreign_manifest(folder: Path) -> IndexLocationError:
    """A manifest.json without an index's keys, or unreadable beside no index files, belongs to
    someone else: an error, never 'damaged, rebuilding' over their file."""
    return IndexLocationError(
        f"{folder / MANIFEST} is not an index's manifest, and indexing there would replace it. "
        "Give --index-dir an empty folder or one that holds an index."
    )


def _data_file(folder: Path, manifest: Manifest, role: str) -> Path:
    entry = manifest.files.get(role)
    if not isinstance(entry, dict) or "name" not in entry:
        raise IndexCorruptError(folder, f"the manifest names no {role} file")
    path = folder / entry["name"]
    if not path.exists():
        raise IndexCorruptError(folder, f"{entry['name']} is missing")
    size = path.stat().st_size
    if size != entry.get("bytes"):
        raise IndexCorruptError(folder, f"{entry['name']} has {size} bytes, the manifest says {entry.get('bytes')}")
    return path


def _check_readable(path: Path) -> None:
    """A data file this process may not read is a permissions problem, not damage: say so,
    rather than call it damaged (and have it rebuilt over)."""
    try:
        with path.open("rb"):
            pass
    except PermissionError as error:
        raise IndexLocationError(
            f"Cannot read {path.name} in the index in {path.parent} ({error.strerror}). "
            "Give --index-dir a folder you can read, or run as the user who built it."
        ) from error


def _read_vectors(path: Path):
    import faiss

    # A single query gains nothing from OpenMP threads, and loses badly when the cores are
    # busy: on a loaded 2-core machine a 10k-chunk search took 102 ms with 2 threads, 14 ms
    # with one. Batch embedding is elsewhere, so one thread costs nothing here.
    faiss.omp_set_num_threads(1)
    try:
        return faiss.read_index(str(path))
    except RuntimeError as error:
        # FAISS's message names its own C++ source ("Error in std::unique_ptr<faiss::Index>
        # faiss::read_index_up(...) at index_read.cpp:3251: ..."), which tells a user nothing:
        # it is kept for -v and for the exception chain, and the user is told which file.
        logger.info("FAISS could not read %s: %s", path, error)
        raise IndexCorruptError(path.parent, f"{path.name} cannot be read as FAISS vectors") from error


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    try:
        if read_only:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            db = sqlite3.connect(path)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.DatabaseError as error:
        raise IndexCorruptError(path.parent, f"{path.name}: {error}") from error


# ----------------------------------------------------------------------------------------
# Writing


@dataclass(frozen=True)
class IndexSettings:
    """What an index is built with; all of it is recorded in the manifest."""

    embedder: Embedder
    counter: TokenCounter
    chunker: ChunkerSettings

    def manifest_entries(self) -> tuple[dict, dict]:
        chunker = asdict(self.chunker) | {"tokenizer": self.counter.name, "analyzer": ANALYZER_ID}
        return embedder_entry(self.embedder), chunker


def update_index(
    folder: str | Path,
    documents: Sequence[Document],
    settings: IndexSettings,
    *,
    rebuild: bool = False,
    progress: bool | None = None,
    source: str | Path | None = None,
    keep: Collection[str] = (),
) -> UpdateReport:
    """Make the index in ``folder`` hold exactly ``documents``, re-embedding only what changed.

    ``rebuild`` starts from nothing; without it, an index built with another embedder or
    chunker is an ``IndexMismatchError``, as is one of another folder, still there, whose
    documents this would remove; a damaged index is an ``IndexCorruptError``.
    ``source`` is the folder the documents were read from, recorded in the manifest.
    ``keep``: ids of documents that are still there but could not be read this time; the
    index keeps the version it holds of them instead of removing them.
    """
    source = str(Path(source).resolve()) if source is not None else None
    folder = _writable_folder(Path(folder))
    _check_unique_ids(documents)
    with _writer_lock(folder):
        if rebuild:
            _check_not_foreign(folder)
        current = None if rebuild else read_manifest(folder)
        embedder_entry, chunker_entry = settings.manifest_entries()
        if current is not None:
            _check_compatible(folder, current, embedder_entry, chunker_entry)
            _data_file(folder, current, "chunks")
            _data_file(folder, current, "vectors")
        report = _diff(current, documents, keep)
        if current is not None:
            _check_not_replacing(folder, current, source, report)
        for doc_id in report.kept:
            logger.warning("%s stays in the index as it was last read; index again once it can be read", doc_id)
        if current is not None and not report.touched:
            # Nothing to re-embed, but the folder may be new, or the model may have moved (the
            # same fingerprint at another path): record where they are now.
            if current.source != source or current.embedder != embedder_entry:
                _write_json_atomic(
                    folder / MANIFEST, current.to_json() | {"source": source, "embedder": embedder_entry}
                )
            _remove_stale_files(folder, current)
            return report
        manifest = Manifest(embedder=embedder_entry, chunker=chunker_entry, source=source)
        manifest.generation = (current.generation if current else _highest_generation(folder)) + 1
        if current is not None:  # a rebuild starts from nothing, the old manifest's unknown keys too
            manifest.documents = dict(current.documents)
            manifest.unknown = dict(current.unknown)
        try:
            _write_generation(folder, current, manifest, documents, report, settings, progress)
            _write_json_atomic(folder / MANIFEST, manifest.to_json())
        except OSError as error:  # a full disk, a folder made read-only mid-way
            raise IndexLocationError(_cannot_write(folder, error)) from error
        _remove_stale_files(folder, manifest)
        logger.info("index %s: %s", folder, report)
        return report


def _check_not_replacing(folder: Path, current: Manifest, source: str | None, report: UpdateReport) -> None:
    """Documents of one folder indexed over another's would remove the other's: a forgotten or
    mistyped --index-dir. Refused while that folder is still there (rebuilding says it is
    meant); when it is gone, the folder most likely moved, and it goes ahead, saying so."""
    if not (current.source and source and current.source != source and report.removed):
        return
    if Path(current.source).is_dir():
        removed = ", ".join(report.removed[:3]) + (", ..." if len(report.removed) > 3 else "")
        raise IndexMismatchError(
            f"The index in {folder} holds the documents of {current.source}; indexing {source} there would "
            f"remove {len(report.removed)} of them ({removed}). Give another --index-dir, or replace them: "
            f"`rag index {source} --index-dir {folder} --rebuild` (rebuild=True in Python)."
        )
    logger.warning(
        "The index in %s was built from %s, which is no longer there; it now holds the documents of %s (%d removed).",
        folder,
        current.source,
        source,
        len(report.removed),
    )


def _check_not_foreign(folder: Path) -> None:
    """A rebuild does not read the old index, but still never writes over a manifest that is
    not an index's."""
    with contextlib.suppress(IndexCorruptError, IndexMismatchError):
        read_manifest(folder)


def _check_unique_ids(documents: Sequence[Document]) -> None:
    seen: set[str] = set()
    for document in documents:
        if document.id in seen:
            raise RagError(f"Two documents share the id {document.id!r}; give each a unique id.")
        seen.add(document.id)


def embedder_entry(embedder: Embedder) -> dict:
    """How the manifest records an embedder: its id and dimension, and for a model in a local
    folder the fingerprint of the model's files (``rag.models.neural.model_fingerprint``)."""
    entry = {"id": embedder.id, "dim": embedder.dim}
    fingerprint = getattr(embedder, "fingerprint", None)
    if fingerprint:
        entry["fingerprint"] = fingerprint
    return entry


def check_embedder(folder: Path, manifest: Manifest, embedder: dict) -> None:
    """IndexMismatchError unless the index was built with ``embedder`` (its manifest entry).

    The id and dimension must be the same; where both entries hold a fingerprint, the
    fingerprints must be the same instead of the ids: a model folder moved or installed
    elsewhere is the same model, and a folder whose model was replaced is not. Manifests
    written before fingerprints were recorded are compared by id and dimension, as then."""
    recorded = manifest.embedder
    if _same_embedder(recorded, embedder):
        return
    if recorded.get("id") == embedder["id"] and recorded.get("dim") == embedder["dim"]:
        raise IndexMismatchError(
            f"The index in {folder} was built with the embedder {embedder['id']}, but the model there has "
            f"changed since (its files' fingerprint was {recorded.get('fingerprint')}, now "
            f"{embedder.get('fingerprint')}), so its vectors would not match the index's. Put back the model "
            f"the index was built with, or rebuild with `rag index FOLDER --index-dir {folder} --rebuild` "
            "(rebuild=True in Python)."
        )
    raise IndexMismatchError(
        f"The index in {folder} was built with the embedder {recorded.get('id')} "
        f"(dim {recorded.get('dim')}), not {embedder['id']} (dim {embedder['dim']}). "
        f"Use the same embedding model, or rebuild with `rag index FOLDER --index-dir {folder} --rebuild` "
        "(rebuild=True in Python)."
    )


def _same_embedder(recorded: dict, current: dict) -> bool:
    if recorded.get("dim") != current["dim"]:
        return False
    fingerprints = recorded.get("fingerprint"), current.get("fingerprint")
    schemes = {fingerprint.partition(":")[0] for fingerprint in fingerprints if fingerprint}
    if not all(fingerprints) or len(schemes) != 1:  # an older manifest, a Hugging Face id, another scheme
        return recorded.get("id") == current["id"]
    return fingerprints[0] == fingerprints[1]


def _check_compatible(folder: Path, manifest: Manifest, embedder: dict, chunker: dict) -> None:
    check_embedder(folder, manifest, embedder)
    if manifest.chunker != chunker:
        raise IndexMismatchError(
            f"The index in {folder} was chunked with {manifest.chunker}, not {chunker}. "
            f"Rebuild it with `rag index FOLDER --index-dir {folder} --rebuild` (rebuild=True in Python)."
        )


def _diff(current: Manifest | None, documents: Sequence[Document], keep: Collection[str] = ()) -> UpdateReport:
    known = current.documents if current else {}
    wanted = {d.id: d for d in documents}
    kept = [i for i in keep if i in known and i not in wanted]
    added = [i for i in wanted if i not in known]
    # The title is searched with the text, so a new title is a change too.
    changed = [
        i
        for i in wanted
        if i in known and (known[i]["sha256"], known[i].get("title")) != (wanted[i].sha256, wanted[i].title)
    ]
    removed = [i for i in known if i not in wanted and i not in kept]
    return UpdateReport(added, changed, removed, len(wanted) - len(added) - len(changed) + len(kept), kept)


def _write_generation(
    folder: Path,
    current: Manifest | None,
    manifest: Manifest,
    documents: Sequence[Document],
    report: UpdateReport,
    settings: IndexSettings,
    progress: bool | None,
) -> None:
    import faiss

    gen = manifest.generation
    db_name, vectors_name = f"chunks-{gen}.sqlite", f"vectors-{gen}.faiss"
    db_tmp, vectors_tmp = folder / f"{db_name}.tmp", folder / f"{vectors_name}.tmp"
    # A killed writer's journal would be rolled back into the fresh database.
    for stale in (db_tmp, vectors_tmp, folder / f"{db_name}.tmp-journal"):
        stale.unlink(missing_ok=True)

    if current is None:
        db = sqlite3.connect(db_tmp)
        db.executescript(_SCHEMA)
        vectors = faiss.IndexIDMap2(faiss.IndexFlatIP(settings.embedder.dim))
    else:
        shutil.copyfile(folder / current.files["chunks"]["name"], db_tmp)
        db = sqlite3.connect(db_tmp)
        vectors = _read_vectors(folder / current.files["vectors"]["name"])

    try:
        with db:
            gone = _delete_documents(db, report.removed + report.changed)
            if gone:
                vectors.remove_ids(np.asarray(gone, dtype=np.int64))
            for doc_id in report.removed + report.changed:
                manifest.documents.pop(doc_id, None)
            wanted = {d.id: d for d in documents}
            fresh = [wanted[i] for i in report.added + report.changed]
            _add_documents(db, vectors, fresh, manifest, settings, progress)
    finally:
        db.close()
    _fsync(db_tmp)
    faiss.write_index(vectors, str(vectors_tmp))
    _fsync(vectors_tmp)
    os.replace(db_tmp, folder / db_name)
    os.replace(vectors_tmp, folder / vectors_name)
    manifest.files = {
        "chunks": {"name": db_name, "bytes": (folder / db_name).stat().st_size},
        "vectors": {"name": vectors_name, "bytes": (folder / vectors_name).stat().st_size},
    }


def _delete_documents(db: sqlite3.Connection, doc_ids: list[str]) -> list[int]:
    gone: list[int] = []
    for doc_id in doc_ids:
        ids = [row[0] for row in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        db.executemany("DELETE FROM chunks_fts WHERE rowid = ?", [(i,) for i in ids])
        db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        gone.extend(ids)
    return gone


def _add_documents(db, vectors, documents, manifest, settings: IndexSettings, progress) -> None:
    """Chunk, store and embed ``documents``. Embedding goes in batches that may split a
    document, and progress is counted in characters embedded, so one very large file shows
    progress (and holds one batch in memory, not all its chunks)."""
    from tqdm.auto import tqdm

    total = sum(len(d.text) for d in documents)
    pending: list[tuple[int, str, int]] = []  # (chunk id, text to embed, characters it completes)
    bar = tqdm(
        total=total, desc="Indexing", unit="char", unit_scale=True, disable=_quiet(progress, len(documents), total)
    )
    for number, document in enumerate(documents, 1):
        db.execute(
            "INSERT INTO documents (id, title, sha256, text) VALUES (?, ?, ?, ?)",
            (document.id, document.title, document.sha256, document.text),
        )
        chunks = chunk_document(document, settings.counter, settings.chunker)
        done = 0  # characters of the document up to the end of the last chunk
        for position, chunk in enumerate(chunks, 1):
            cursor = db.execute(
                "INSERT INTO chunks (doc_id, ordinal, start_char, end_char, start_line, end_line, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (document.id, chunk.id, chunk.start_char, chunk.end_char, chunk.start_line, chunk.end_line, chunk.text),
            )
            searchable = f"{document.title}\n{chunk.text}" if document.title else chunk.text
            db.execute(
                "INSERT INTO chunks_fts (rowid, terms) VALUES (?, ?)",
                (cursor.lastrowid, " ".join(index_terms(searchable))),
            )
            end = len(document.text) if position == len(chunks) else max(done, chunk.end_char)
            pending.append((cursor.lastrowid, searchable, end - done))
            done = end
            if len(pending) >= _EMBED_BATCH:
                bar.update(_embed_into(vectors, pending, settings.embedder))
                pending = []
        manifest.documents[document.id] = {"sha256": document.sha256, "chunks": len(chunks), "title": document.title}
        bar.set_postfix_str(f"{number}/{len(documents)} documents", refresh=False)
        bar.update(len(document.text) - done)  # a document without chunks (all blank)
    bar.update(_embed_into(vectors, pending, settings.embedder))
    bar.close()


def _embed_into(vectors, pending: list[tuple[int, str, int]], embedder: Embedder) -> int:
    """Embed and add a batch; the characters of text it completes."""
    if not pending:
        return 0
    ids = np.asarray([i for i, _, _ in pending], dtype=np.int64)
    matrix = np.ascontiguousarray(embedder.embed_documents([t for _, t, _ in pending]), dtype=np.float32)
    vectors.add_with_ids(matrix, ids)
    return sum(n for _, _, n in pending)


def _quiet(progress: bool | None, count: int, characters: int) -> bool | None:
    if progress is None:  # by default, a bar for a long job only, and only on a terminal (tqdm's None)
        return None if count >= 50 or characters >= _LONG_JOB_CHARACTERS else True
    return not progress


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _highest_generation(folder: Path) -> int:
    generations = [_generation_of(p.name) for p in folder.iterdir()]
    return max([g for g in generations if g is not None], default=0)


def _generation_of(name: str) -> int | None:
    for prefix, suffix in (("chunks-", ".sqlite"), ("vectors-", ".faiss")):
        if name.startswith(prefix):
            # SQLite leaves "-journal" beside a database a killed writer had open.
            number = name[len(prefix) :].removesuffix("-journal").removesuffix(".tmp").removesuffix(suffix)
            if number.isdigit():
                return int(number)
    return None


def _remove_stale_files(folder: Path, manifest: Manifest) -> None:
    keep = {entry["name"] for entry in manifest.files.values()}
    for path in folder.iterdir():
        if path.name not in keep and _generation_of(path.name) is not None:
            path.unlink(missing_ok=True)
    (folder / f"{MANIFEST}.tmp").unlink(missing_ok=True)


def _writable_folder(folder: Path) -> Path:
    """The index folder, created if missing; or a plain error saying why it cannot be."""
    _not_a_file(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):  # a read-only folder fails here, not mid-write
            pass
    except OSError as error:
        raise IndexLocationError(_cannot_write(folder, error)) from error
    return folder


def _not_a_file(folder: Path) -> Path:
    if folder.exists() and not folder.is_dir():
        raise IndexLocationError(
            f"{folder} is a file, not a folder. Give --index-dir a folder (it is created if missing)."
        )
    return folder


def _cannot_write(folder: Path, error: OSError) -> str:
    return (
        f"Cannot write the index in {folder} ({error.strerror or error}). Give --index-dir a folder you can write to."
    )


@contextlib.contextmanager
def _writer_lock(folder: Path) -> Iterator[None]:
    try:
        handle = open(folder / ".lock", "w")  # noqa: SIM115 - closed below, after the lock is released
    except OSError as error:
        raise IndexLocationError(_cannot_write(folder, error)) from error
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
