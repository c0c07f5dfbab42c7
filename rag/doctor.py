"""What is active and why: the facts behind ``rag doctor`` and the UI's status line."""

from __future__ import annotations

import importlib.metadata
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .errors import RagError
from .store import read_manifest
from .tokens import APPROXIMATION, load_token_counter


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def diagnose(index_dir: str | Path = "index", embedding_model: str | None = None) -> list[Check]:
    """One line per component: libraries, token counter, embedder, index."""
    checks = [_library(name) for name in ("faiss-cpu", "numpy", "tiktoken", "bm25s", "PyStemmer")]
    checks.append(_fts5())
    checks.append(_token_counter())
    checks.append(_embedder(embedding_model))
    checks.append(_index(Path(index_dir)))
    return checks


def _library(name: str) -> Check:
    try:
        return Check(name, True, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
        return Check(name, False, f"not installed: pip install {name}")


def _fts5() -> Check:
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        return Check("sqlite fts5", True, f"SQLite {sqlite3.sqlite_version}")
    except sqlite3.OperationalError as error:
        return Check("sqlite fts5", False, f"SQLite {sqlite3.sqlite_version} lacks FTS5 ({error})")


def _token_counter() -> Check:
    counter = load_token_counter()
    if counter.name == APPROXIMATION:
        return Check(
            "token counter", True, f"{APPROXIMATION} (tiktoken's cl100k_base is not cached; set TIKTOKEN_CACHE_DIR)"
        )
    return Check("token counter", True, f"tiktoken {counter.name}")


def _embedder(name: str | None) -> Check:
    from .embedding import load_embedder

    try:
        embedder = load_embedder(name)
    except RagError as error:
        return Check("embedder", False, str(error))
    kind = "offline hashing embedder (no weights)" if name in (None, "hashing") else "sentence-transformers"
    device = getattr(embedder, "device", "cpu")
    return Check("embedder", True, f"{embedder.id}, dim {embedder.dim}, {kind}, device {device}")


def _index(index_dir: Path) -> Check:
    try:
        manifest = read_manifest(index_dir)
    except RagError as error:
        return Check("index", False, str(error))
    if manifest is None:
        return Check("index", False, f"none in {index_dir}: run `rag index FOLDER --index-dir {index_dir}`")
    return Check(
        "index",
        True,
        f"{index_dir}: {len(manifest.documents)} documents, {manifest.chunk_count} chunks, "
        f"embedder {manifest.embedder.get('id')}, tokens {manifest.chunker.get('tokenizer')}",
    )
