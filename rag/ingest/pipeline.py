"""Indexing: documents in, an up-to-date index out. Chunks each new or changed document,
embeds its chunks and hands chunks and vectors to the store's writer (``rag.store.update``),
which decides what is new and commits it.

The store neither chunks nor embeds, and this module does not know how the index is laid out
on disk: each can change without the other. What ties them is the manifest, which records
what an index was built with; ``index_documents`` reads it back, so an index is updated with
the embedder, token counter and chunk sizes it was built with unless told otherwise.

Embedding goes in batches of ``EMBED_BATCH`` chunks that may split a document, inside the
writer's transaction: a very large file is never held embedded in memory whole, and progress
is counted in characters embedded, so that one large file shows progress too. The bar is shown
by default only for a long job on a terminal: short ones would only flash it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from rag.errors import DocumentsError, IndexCorruptError, ModelLoadError
from rag.ingest.chunking import ChunkerSettings, chunk_document
from rag.ingest.tokens import APPROXIMATION, DEFAULT_ENCODING, TokenCounter, load_token_counter
from rag.language.analysis import ANALYZER_ID
from rag.models.embedding import Embedder, load_embedder
from rag.records import Chunk, Document
from rag.store.location import Store, begin_store_update, open_store, store_manifest
from rag.store.manifest import Manifest, embedder_entry
from rag.store.update import Update, UpdateReport
from rag.validation import shown_path

logger = logging.getLogger(__name__)

EMBED_BATCH = 256  # chunks embedded at a time
_LONG_JOB_CHARACTERS = 2_000_000  # about a second of indexing offline, far longer with a model


@dataclass(frozen=True)
class IndexSettings:
    """What an index is built with; all of it is recorded in the manifest."""

    embedder: Embedder
    counter: TokenCounter
    chunker: ChunkerSettings

    def manifest_entries(self) -> tuple[dict, dict]:
        chunker = asdict(self.chunker) | {"tokenizer": self.counter.name, "analyzer": ANALYZER_ID}
        return embedder_entry(self.embedder), chunker


def index_documents(
    documents: Sequence[Document],
    index_dir: str | Path,
    *,
    embedding_model: str | None = None,
    device: str | None = None,
    rebuild: bool = False,
    progress: bool | None = None,
    chunker: ChunkerSettings | None = None,
    source: str | Path | None = None,
    keep: Collection[str] = (),
) -> tuple[Store, Embedder, UpdateReport]:
    """Bring the index in ``index_dir`` up to date with ``documents`` and open it.

    ``source``: the folder the documents were read from, recorded in the manifest; ``keep``:
    the ids of its files that could not be read this time, left in the index as they were. A
    damaged index is rebuilt from the documents (with a warning): they are all at hand.
    """
    if not documents:
        raise DocumentsError("There are no documents to index.")
    strays = [d for d in documents if not isinstance(d, Document)]
    if strays:
        raise DocumentsError(
            f"Documents to index must be rag.Document records, not {type(strays[0]).__name__}: "
            "Document(id='notes.txt', text='...')."
        )
    built = None if rebuild else store_manifest(index_dir)
    embedder = embedder_for(built, embedding_model, index_dir, device=device)
    settings = IndexSettings(
        embedder,
        token_counter_of(built),
        chunker or (chunker_of(built) if built else ChunkerSettings()),
    )
    report = update_index(
        index_dir, documents, settings, rebuild=rebuild, progress=progress, source=source, keep=keep, repair=True
    )
    return open_store(index_dir), embedder, report


def update_index(
    folder: str | Path,
    documents: Sequence[Document],
    settings: IndexSettings,
    *,
    rebuild: bool = False,
    progress: bool | None = None,
    source: str | Path | None = None,
    keep: Collection[str] = (),
    repair: bool = False,
) -> UpdateReport:
    """Make the index in ``folder`` hold exactly ``documents``, re-embedding only what changed.

    ``rebuild``, ``source`` and ``keep`` are ``rag.store.update.begin_update``'s, as are the
    errors. ``progress``: True or False for a progress bar or none; None for one only on a
    long job. Documents found damaged in the index are re-read (``report.repaired``); an index
    damaged as a whole is an ``IndexCorruptError``, or with ``repair`` rebuilt from the
    documents (all at hand), with a warning and ``report.rebuilt`` saying why.
    """
    try:
        return _update(folder, documents, settings, rebuild=rebuild, progress=progress, source=source, keep=keep)
    except IndexCorruptError as error:
        if not repair:
            raise
        # What happened only: the error's own advice, to rebuild, is what happens next.
        logger.warning("The index in %s is damaged (%s): rebuilding it from the documents.", error.folder, error.detail)
        report = _update(folder, documents, settings, rebuild=True, progress=progress, source=source)
        return replace(report, rebuilt=str(error.detail))


def _update(
    folder: str | Path,
    documents: Sequence[Document],
    settings: IndexSettings,
    *,
    rebuild: bool,
    progress: bool | None,
    source: str | Path | None,
    keep: Collection[str] = (),
) -> UpdateReport:
    embedder, chunker = settings.manifest_entries()
    with begin_store_update(
        folder,
        documents,
        embedder=embedder,
        chunker=chunker,
        rebuild=rebuild,
        source=source,
        keep=keep,
        progress=progress,
    ) as update:
        if update.writes:
            _add_documents(update, settings, progress)
    return update.report


def _add_documents(update: Update, settings: IndexSettings, progress: bool | None) -> None:
    """Chunk, store and embed the update's documents, a batch of chunks at a time."""
    from tqdm.auto import tqdm

    documents = update.documents
    total = sum(len(d.text) for d in documents)
    pending: list[tuple[int, str, int]] = []  # (chunk id, text to embed, characters it completes)
    bar = tqdm(
        total=total, desc="Indexing", unit="char", unit_scale=True, disable=_quiet(progress, len(documents), total)
    )
    for number, document in enumerate(documents, 1):
        chunks = chunk_document(document, settings.counter, settings.chunker)
        searchable = [_searchable(document, chunk) for chunk in chunks]
        ids = update.add_document(document, chunks, searchable)
        done = 0  # characters of the document up to the end of the last chunk
        for position, (chunk_id, chunk, text) in enumerate(zip(ids, chunks, searchable, strict=True), 1):
            end = len(document.text) if position == len(chunks) else max(done, chunk.end_char)
            pending.append((chunk_id, text, end - done))
            done = end
            if len(pending) >= EMBED_BATCH:
                bar.update(_embed_into(update, pending, settings.embedder))
                pending = []
        bar.set_postfix_str(f"{number}/{len(documents)} documents", refresh=False)
        bar.update(len(document.text) - done)  # a document without chunks (all blank)
    bar.update(_embed_into(update, pending, settings.embedder))
    bar.close()


def _searchable(document: Document, chunk: Chunk) -> str:
    """The text a chunk is found by, both ways: a titled document's title is part of each of its
    chunks, so a question naming the title finds them."""
    return f"{document.title}\n{chunk.text}" if document.title else chunk.text


def _embed_into(update: Update, pending: list[tuple[int, str, int]], embedder: Embedder) -> int:
    """Embed and add a batch; the characters of text it completes."""
    if not pending:
        return 0
    update.add_vectors([i for i, _, _ in pending], embedder.embed_documents([t for _, t, _ in pending]))
    return sum(n for _, _, n in pending)


def _quiet(progress: bool | None, count: int, characters: int) -> bool | None:
    if progress is None:  # by default, a bar for a long job only, and only on a terminal (tqdm's None)
        return None if count >= 50 or characters >= _LONG_JOB_CHARACTERS else True
    return not progress


# ----------------------------------------------------------------------------------------
# What an index was built with, read back from its manifest


def embedder_for(
    built: Manifest | None, requested: str | None, index_dir: str | Path, *, device: str | None = None
) -> Embedder:
    """The requested embedder, or, when none is requested, the one the index in ``index_dir``
    was built with (``built``, its manifest; None for no index: the offline default), on
    ``device`` (None: chosen as the registry chooses)."""
    if requested is not None or built is None:
        return load_embedder(requested, device=device)
    recorded = built.embedder.get("id")
    try:
        return load_embedder(recorded, device=device)
    except ModelLoadError as error:
        raise _recorded_embedder_error(index_dir, recorded, error) from error


def _recorded_embedder_error(index_dir: str | Path, recorded: str, error: ModelLoadError) -> ModelLoadError:
    """A model nobody named this time failed to load: say it is the index's, and what to do
    (a model folder that moved is named again; the index can be rebuilt with another)."""
    return ModelLoadError(
        f"The index in {shown_path(index_dir)} was built with the embedder {recorded}, which `rag ask` needs to embed "
        f"questions. {error} If the model is elsewhere now, name it with --embedding-model (embedding_model= "
        f"in Python); or rebuild the index with another: `rag index FOLDER --index-dir {shown_path(index_dir)} --rebuild`."
    )


def token_counter_of(manifest: Manifest | None) -> TokenCounter:
    """The token counter an index was chunked with, so that one built with the approximation
    keeps it when tiktoken's encoding turns up later (chunks counted two ways would not be
    one index); ``--rebuild`` moves it to tiktoken."""
    name = manifest.chunker.get("tokenizer") if manifest else None
    if name == APPROXIMATION:
        return TokenCounter(APPROXIMATION)
    return load_token_counter(name or DEFAULT_ENCODING)


def chunker_of(manifest: Manifest) -> ChunkerSettings:
    """The chunk sizes an index was built with (the defaults for entries it does not record)."""
    entry, default = manifest.chunker, ChunkerSettings()
    return ChunkerSettings(
        max_tokens=entry.get("max_tokens", default.max_tokens),
        overlap_tokens=entry.get("overlap_tokens", default.overlap_tokens),
    )
