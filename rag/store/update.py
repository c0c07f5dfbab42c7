"""Updating an index: one writer at a time, one new generation per update, committed atomically.

``begin_update`` takes the writer lock (``rag.store.lock``: flock, waited for a bounded time),
reads the current manifest, makes sure the folder is an index's before it removes or writes
anything there (``rag.store.ownership``), checks that the index was built with the same
embedder and chunker, and compares the documents with the ones it holds by sha256 and title:
only added and changed documents are written again, removed and changed ones are deleted. The caller (``rag.ingest.pipeline``) then hands over the
new documents' chunks and their vectors through the ``Update`` it is given; the store neither
chunks nor embeds, so it does not depend on how either is done.

Writes are atomic by generation: the next generation's files are written beside the current
ones (temporary name, fsync, rename), then ``manifest.json`` is replaced the same way; that
rename is the commit. A process killed at any point leaves a manifest that names complete
files, so the previous index stays usable. Files of older generations are removed after the
commit, and leftovers of an interrupted update are removed by the next one; the next
generation is numbered above every one named in the folder, so no file is written over.

The update is a context manager rather than a function taking the chunks so that the caller
can chunk and embed one batch at a time inside the writer's transaction: a very large file is
never held in memory whole, and its progress can be shown as it goes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.records import Chunk, Document
from rag.store.files import (
    cannot_write,
    data_file_name,
    fsync_file,
    generation_of,
    highest_generation,
    not_a_file,
    remove_generation,
    write_failure,
)
from rag.store.health import damage_to_repair
from rag.store.lexical import (
    chunk_terms,
    convert_from_fts,
    create_database,
    delete_documents,
    has_fts_table,
    insert_chunk,
    insert_document,
    open_for_update,
)
from rag.store.lock import writer_lock
from rag.store.manifest import (
    MANIFEST,
    Manifest,
    check_compatible,
    check_not_foreign,
    data_file,
    read_manifest,
    write_manifest,
)
from rag.store.ownership import claim_folder, make_way_for, remove_stale_files, remove_temporary_files
from rag.store.sources import check_not_replacing
from rag.store.terms import write_terms_index
from rag.store.vectors import FaissVectors

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdateReport:
    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: int
    # Unreadable this time, so left as indexed (counted in ``unchanged``).
    kept: list[str] = field(default_factory=list)
    # Unchanged, but damaged in the index (stored text or chunks not as the manifest records):
    # re-read and written again (counted in ``unchanged``).
    repaired: list[str] = field(default_factory=list)
    # Why the index was rebuilt from the documents instead of updated ("" when it was not).
    rebuilt: str = ""
    # Why a new generation is written although no document changed ("" when none is): a
    # format-1 index converted, a damaged lexical index rebuilt from the stored terms.
    lexical: str = ""

    @property
    def touched(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.repaired or self.rebuilt or self.lexical)

    def __str__(self) -> str:
        counts = (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged"
        )
        # A rebuild is said by its warning, when it happens: its counts already say that
        # everything was added again.
        if self.lexical:
            counts = f"{counts}; lexical index: {self.lexical}"
        if self.repaired:
            shown = ", ".join(self.repaired[:3]) + (", ..." if len(self.repaired) > 3 else "")
            return f"{counts}; repaired: {len(self.repaired)} damaged document(s) re-read ({shown})"
        return counts


class Update:
    """One update in progress, as its caller sees it: what changed (``report``), the documents
    to add (``documents``, added then changed ones), and where their chunks and vectors go.

    ``writes`` is False when nothing changed: then no generation is written, and there is
    nothing to add."""

    def __init__(
        self,
        report: UpdateReport,
        documents: list[Document],
        db: sqlite3.Connection | None = None,
        vectors: FaissVectors | None = None,
        manifest: Manifest | None = None,
    ) -> None:
        self.report = report
        self.documents = documents
        self._db = db
        self._vectors = vectors
        self._manifest = manifest

    @property
    def writes(self) -> bool:
        return self._db is not None

    def add_document(self, document: Document, chunks: Sequence[Chunk], searchable: Sequence[str]) -> list[int]:
        """Store ``document`` and its ``chunks``, each found by the text beside it in
        ``searchable`` (its terms are indexed); the chunks' ids, under which to add their vectors."""
        if len(searchable) != len(chunks):
            raise ValueError("need one searchable text per chunk")
        insert_document(self._db, document)
        ids = [insert_chunk(self._db, document.id, c, text) for c, text in zip(chunks, searchable, strict=True)]
        self._manifest.documents[document.id] = {
            "sha256": document.sha256,
            "chunks": len(chunks),
            "title": document.title,
            # only when the file says them, so a plain-text index's manifest is as before
            **{key: value for key in DISPLAY_ENTRIES if (value := getattr(document, key)) is not None},
        }
        return ids

    def add_vectors(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """The vectors of the chunks ``ids`` (from ``add_document``), one row each."""
        self._vectors.add(ids, vectors)


@contextlib.contextmanager
def begin_update(
    folder: str | Path,
    documents: Sequence[Document],
    *,
    embedder: dict,
    chunker: dict,
    rebuild: bool = False,
    source: str | Path | None = None,
    keep: Collection[str] = (),
    progress: bool | None = False,
) -> Iterator[Update]:
    """Make the index in ``folder`` hold exactly ``documents``: yields the ``Update`` to add the
    new ones' chunks and vectors to, and commits when the block ends without an error.

    ``embedder`` and ``chunker`` are their manifest entries. ``rebuild`` starts from nothing;
    without it, an index built with another embedder or chunker is an ``IndexMismatchError``,
    as is one of another folder, still there, whose documents this would remove; a damaged
    index is an ``IndexCorruptError``. ``source`` is the folder the documents were read from,
    recorded in the manifest (None: documents handed over in Python). ``keep``: ids of
    documents that are still there but could not be read this time; the index keeps the
    version it holds of them instead of removing them. ``progress``: bars while the lexical index
    is built at the commit (None: for a long job on a terminal only).

    The current index's contents are checked first (``rag.store.health``): documents whose
    stored text or chunks are damaged are re-read (``report.repaired``); damage to the file as
    a whole is an ``IndexCorruptError``, for the caller to rebuild. A failed write (a full
    disk) is an ``IndexWriteError``, with the previous index intact and the partial files removed.
    """
    source = str(Path(source).resolve()) if source is not None else None
    folder = _writable_folder(Path(folder))
    _check_unique_ids(documents)
    with writer_lock(folder):
        if rebuild:
            check_not_foreign(folder)
        current = None if rebuild else read_manifest(folder)
        # Only now is anything removed or written: the folder is an index's, or a new one.
        claim_folder(folder)
        remove_temporary_files(folder)  # of killed writers: this one holds the lock
        if rebuild:
            make_way_for(folder / MANIFEST)
        damaged: list[str] = []
        lexical = ""
        loaded = None
        if current is not None:
            check_compatible(folder, current, embedder, chunker)
            db_path = data_file(folder, current, "chunks")
            vectors_path = data_file(folder, current, "vectors")
            check_not_replacing(folder, current, source, diff(current, documents, keep).removed, documents)
            loaded = FaissVectors.load(vectors_path)  # read once: checked here, then updated
            damaged, lexical = damage_to_repair(folder, db_path, vectors_path, current, loaded)
        report = diff(current, documents, keep, damaged, lexical)
        for doc_id in report.kept:
            logger.warning("%s stays in the index as it was last read; index again once it can be read", doc_id)
        if current is not None and not report.touched:
            # Nothing to re-embed, but the folder may be new, or the model may have moved (the
            # same fingerprint at another path): record where they are now.
            if current.source != source or current.embedder != embedder:
                try:
                    write_manifest(folder, current.to_json() | {"source": source, "embedder": embedder})
                except OSError as error:
                    remove_generation(folder, -1)  # the manifest's temporary copy
                    raise cannot_write(folder, error, 0, _size_of(current)) from error
            _remove_stale_files(folder, current)
            yield Update(report, [])
            return
        manifest = Manifest(embedder=embedder, chunker=chunker, source=source)
        # Above every generation named in the folder, so that nothing there is written over (a
        # killed writer's renamed files, or a folder where a data file should be).
        manifest.generation = max(current.generation if current else 0, highest_generation(folder)) + 1
        if current is not None:  # a rebuild starts from nothing, the old manifest's unknown keys too
            manifest.documents = dict(current.documents)
            manifest.unknown = dict(current.unknown)
        wanted = {d.id: d for d in documents}
        fresh = [wanted[i] for i in report.added + report.changed + report.repaired]
        try:
            with _next_generation(folder, current, loaded, manifest, report, fresh, progress) as update:
                yield update
            write_manifest(folder, manifest.to_json())
        except BaseException as error:
            # Nothing of the new generation is kept: the manifest still names the previous one.
            written = _generation_bytes(folder, manifest.generation)
            remove_generation(folder, manifest.generation)
            failure = write_failure(error)
            if failure is None:
                raise
            raise cannot_write(folder, failure, written, _size_of(current)) from error
        _remove_stale_files(folder, manifest)
        logger.info("index %s: %s", folder, report)


@contextlib.contextmanager
def _next_generation(
    folder: Path,
    current: Manifest | None,
    current_vectors: FaissVectors | None,  # as the update's checks read them: changed here, not read again
    manifest: Manifest,
    report: UpdateReport,
    fresh: list[Document],
    progress: bool | None = False,
) -> Iterator[Update]:
    """The files of ``manifest``'s generation: the current ones copied, less the removed and
    changed documents; ``fresh`` documents are added through the ``Update`` yielded. Written
    under temporary names, fsynced and renamed when the block ends, then named in ``manifest``."""
    names = {role: data_file_name(role, manifest.generation) for role in ("chunks", "vectors", "lexical")}
    db_tmp, vectors_tmp, lexical_tmp = (folder / f"{names[role]}.tmp" for role in ("chunks", "vectors", "lexical"))
    # A killed writer's journal would be rolled back into the fresh database.
    for stale in (db_tmp, vectors_tmp, lexical_tmp, folder / f"{names['chunks']}.tmp-journal"):
        stale.unlink(missing_ok=True)

    if current is None:
        db = create_database(db_tmp)
        vectors = FaissVectors.empty(manifest.embedder["dim"])
    else:
        shutil.copyfile(folder / current.files["chunks"]["name"], db_tmp)
        db = open_for_update(db_tmp)
        vectors = current_vectors

    try:
        with db:
            if has_fts_table(db):
                convert_from_fts(db)
                logger.info(
                    "converting the index in %s to format 2: its terms are kept, nothing is re-embedded", folder
                )
            gone = delete_documents(db, report.removed + report.changed + report.repaired)
            if gone:
                vectors.remove(gone)
            for doc_id in report.removed + report.changed + report.repaired:
                manifest.documents.pop(doc_id, None)
            yield Update(report, fresh, db, vectors, manifest)
        # bm25s scores against the whole corpus, so its index is written whole from every
        # chunk's terms, streamed from the committed database.
        write_terms_index(lexical_tmp, chunk_terms(db), manifest.chunk_count, progress)
    finally:
        db.close()
    fsync_file(db_tmp)
    vectors.save(vectors_tmp)
    fsync_file(vectors_tmp)
    for role, tmp in (("chunks", db_tmp), ("vectors", vectors_tmp), ("lexical", lexical_tmp)):
        os.replace(tmp, folder / names[role])
    manifest.files = {role: {"name": name, "bytes": (folder / name).stat().st_size} for role, name in names.items()}


DISPLAY_ENTRIES = ("author", "date")  # a document's entries kept for display, absent when None


def _recorded(entry: dict) -> tuple:
    return (entry["sha256"], entry.get("title"), *(entry.get(key) for key in DISPLAY_ENTRIES))


def _recorded_of(document: Document) -> tuple:
    return (document.sha256, document.title, *(getattr(document, key) for key in DISPLAY_ENTRIES))


def diff(
    current: Manifest | None,
    documents: Sequence[Document],
    keep: Collection[str] = (),
    damaged: Collection[str] = (),
    lexical: str = "",
) -> UpdateReport:
    """What an update from ``current`` to ``documents`` adds, changes and removes; and of the
    ``damaged`` documents, which it repairs (re-reads). ``lexical``: why the lexical index
    must be rebuilt even if no document changed ("" when it need not)."""
    known = current.documents if current else {}
    wanted = {d.id: d for d in documents}
    kept = [i for i in keep if i in known and i not in wanted]
    added = [i for i in wanted if i not in known]
    # The title is searched with the text, so a new title is a change too; so is a new author
    # or date, which the index keeps for display.
    changed = [i for i in wanted if i in known and _recorded(known[i]) != _recorded_of(wanted[i])]
    removed = [i for i in known if i not in wanted and i not in kept]
    repaired = [i for i in damaged if i in wanted and i not in changed]
    unchanged = len(wanted) - len(added) - len(changed) + len(kept)
    return UpdateReport(added, changed, removed, unchanged, kept, repaired, lexical=lexical)


def _size_of(manifest: Manifest | None) -> int:
    return sum(entry.get("bytes", 0) for entry in manifest.files.values()) if manifest else 0


def _generation_bytes(folder: Path, generation: int) -> int:
    total = 0
    for path in folder.iterdir():
        if generation_of(path.name) == generation:
            with contextlib.suppress(OSError):
                total += path.lstat().st_size
    return total


def _check_unique_ids(documents: Sequence[Document]) -> None:
    seen: set[str] = set()
    for document in documents:
        if document.id in seen:
            raise RagError(f"Two documents share the id {document.id!r}; give each a unique id.")
        seen.add(document.id)


def _remove_stale_files(folder: Path, manifest: Manifest) -> None:
    remove_stale_files(folder, {entry["name"] for entry in manifest.files.values()}, (f"{MANIFEST}.tmp",))


def _writable_folder(folder: Path) -> Path:
    """The index folder, created if missing; or a plain error saying why it cannot be."""
    not_a_file(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):  # a read-only folder fails here, not mid-write
            pass
    except OSError as error:
        raise cannot_write(folder, error) from error
    return folder
