"""Damaged indexes: the manifest truncated, garbled or with entries of the wrong type, the
SQLite or FAISS file deleted, truncated or garbled, vectors of the wrong dimension.

Opening one gives a clear ``RagError`` or answers exactly as the undamaged index did: a
damaged index never changes an answer silently. ``rag index`` either repairs it (and then it
answers as before) or says why not in one line, and following the advice in the error
message (``--rebuild``) always repairs it."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from rag import Chatbot
from tests.conftest import SEEDS
from tests.hardening.harness import (
    SEEDS_QUESTION,
    answers_or_refuses,
    assert_kept,
    check_cli_ok_or_user_error,
    check_process_ok_or_user_error,
    invoke,
    run_rag,
)

MANIFEST = "manifest.json"


def _files(index: Path) -> dict:
    return json.loads((index / MANIFEST).read_text(encoding="utf-8"))["files"]


def _data(index: Path, role: str) -> Path:
    return index / _files(index)[role]["name"]


def _bytes(data: bytes):
    def damage(index: Path) -> None:
        (index / MANIFEST).write_bytes(data)

    return damage


def _truncated(name_of, fraction: float):
    def damage(index: Path) -> None:
        path = name_of(index)
        path.write_bytes(path.read_bytes()[: int(path.stat().st_size * fraction)])

    return damage


def _garbled(name_of, offset_fraction: float, length: int = 4096):
    def damage(index: Path) -> None:
        path = name_of(index)
        data = bytearray(path.read_bytes())
        start = int(len(data) * offset_fraction)
        noise = random.Random(7).randbytes(min(length, len(data) - start))
        data[start : start + len(noise)] = noise
        path.write_bytes(bytes(data))

    return damage


def _deleted(name_of):
    return lambda index: name_of(index).unlink()


def _a_folder(name_of):
    def damage(index: Path) -> None:
        path = name_of(index)
        path.unlink()
        path.mkdir()

    return damage


def _edited(**changes):
    """Manifest entries set, by dotted path (None: removed)."""

    def damage(index: Path) -> None:
        data = json.loads((index / MANIFEST).read_text(encoding="utf-8"))
        for dotted, value in changes.items():
            *parents, last = dotted.split(".")
            node = data
            for key in parents:
                node = node[key]
            if value is None:
                node.pop(last, None)
            else:
                node[last] = value
        (index / MANIFEST).write_text(json.dumps(data), encoding="utf-8")

    return damage


def _first_document(index: Path) -> str:
    return sorted(json.loads((index / MANIFEST).read_text(encoding="utf-8"))["documents"])[0]


def _document_entry(**entry):
    def damage(index: Path) -> None:
        data = json.loads((index / MANIFEST).read_text(encoding="utf-8"))
        data["documents"][_first_document(index)].update(entry)
        (index / MANIFEST).write_text(json.dumps(data), encoding="utf-8")

    return damage


def _vectors_of_dimension(dimension: int, keep: float = 1.0):
    def damage(index: Path) -> None:
        from rag.store.vectors import FaissVectors

        path = _data(index, "vectors")
        old = FaissVectors.load(path)
        count = int(old.count * keep)
        vectors = np.random.default_rng(0).standard_normal((count, dimension)).astype("float32")
        new = FaissVectors.empty(dimension)
        new.add(list(range(1, count + 1)), vectors)
        path.unlink()
        new.save(path)

    return damage


def _link_loop(index: Path) -> None:
    (index / MANIFEST).unlink()
    (index / MANIFEST).symlink_to(index / MANIFEST)


def _swap_data_files(index: Path) -> None:
    chunks, vectors = _data(index, "chunks"), _data(index, "vectors")
    chunks.rename(index / "swap")
    vectors.rename(chunks)
    (index / "swap").rename(vectors)


def chunks(index: Path) -> Path:
    return _data(index, "chunks")


def vectors(index: Path) -> Path:
    return _data(index, "vectors")


def manifest(index: Path) -> Path:
    return index / MANIFEST


DAMAGE = {
    "manifest-truncated-half": _truncated(manifest, 0.5),
    "manifest-truncated-1-byte": _truncated(manifest, 0.001),
    "manifest-empty": _bytes(b""),
    "manifest-garbled": _garbled(manifest, 0.3, 200),
    "manifest-random-bytes": _bytes(random.Random(1).randbytes(2000)),
    "manifest-nul-bytes": _bytes(b"\x00" * 500),
    "manifest-invalid-utf8": _bytes(b'{"generation": "\xff\xfe"}'),
    "manifest-null": _bytes(b"null"),
    "manifest-list": _bytes(b"[]"),
    "manifest-empty-object": _bytes(b"{}"),
    "manifest-number": _bytes(b"5"),
    "manifest-string": _bytes(b'"index"'),
    "manifest-nested-100000": _bytes(b"[" * 100_000),
    "manifest-deleted": _deleted(manifest),
    "manifest-a-folder": _a_folder(manifest),
    "manifest-link-loop": _link_loop,
    "generation-string": _edited(generation="x"),
    "generation-negative": _edited(generation=-1),
    "generation-huge": _edited(generation=10**30),
    "format-version-99": _edited(format_version=99),
    "format-version-string": _edited(format_version="1"),
    "documents-number": _edited(documents=5),
    "documents-list": _edited(documents=[]),
    "documents-empty": _edited(documents={}),
    "document-chunks-string": _document_entry(chunks="x"),
    "document-chunks-negative": _document_entry(chunks=-1),
    "document-chunks-wrong": _document_entry(chunks=999),
    "document-sha-number": _document_entry(sha256=5),
    "embedder-number": _edited(embedder=5),
    "embedder-id-number": _edited(**{"embedder.id": 5}),
    "embedder-id-unknown": _edited(**{"embedder.id": "nonexistent/model"}),
    "embedder-dim-string": _edited(**{"embedder.dim": "big"}),
    "embedder-dim-8": _edited(**{"embedder.dim": 8}),
    "embedder-dim-missing": _edited(**{"embedder.dim": None}),
    "chunker-max-tokens-string": _edited(**{"chunker.max_tokens": "x"}),
    "chunker-missing": _edited(chunker=None),
    "files-number": _edited(files=5),
    "files-chunks-missing": _edited(**{"files.chunks": None}),
    "files-chunks-escapes": _edited(**{"files.chunks.name": "../../../etc/passwd"}),
    "files-chunks-absolute": _edited(**{"files.chunks.name": "/etc/passwd"}),
    "files-vectors-dev-zero": _edited(**{"files.vectors.name": "/dev/zero"}),
    "files-chunks-bytes-wrong": _edited(**{"files.chunks.bytes": 12}),
    "files-vectors-name-number": _edited(**{"files.vectors.name": 5}),
    "source-number": _edited(source=5),
    "unknown-extra-key": _edited(colour="blue"),
    "sqlite-deleted": _deleted(chunks),
    "sqlite-truncated-half": _truncated(chunks, 0.5),
    "sqlite-truncated-empty": _truncated(chunks, 0.0),
    "sqlite-header-garbled": _garbled(chunks, 0.0, 100),
    "sqlite-middle-garbled": _garbled(chunks, 0.5),
    "sqlite-a-folder": _a_folder(chunks),
    "faiss-deleted": _deleted(vectors),
    "faiss-truncated-half": _truncated(vectors, 0.5),
    "faiss-truncated-empty": _truncated(vectors, 0.0),
    "faiss-header-garbled": _garbled(vectors, 0.0, 64),
    "faiss-middle-garbled": _garbled(vectors, 0.5),
    "faiss-a-folder": _a_folder(vectors),
    "vectors-wrong-dimension": _vectors_of_dimension(64),
    "vectors-half-missing": _vectors_of_dimension(1024, keep=0.5),
    "data-files-swapped": _swap_data_files,
    "leftover-temporary-files": lambda index: (index / "chunks-2.sqlite.tmp").write_bytes(b"partial"),
}


@pytest.fixture(params=list(DAMAGE), ids=list(DAMAGE))
def damaged(request, index_copy):
    DAMAGE[request.param](index_copy)
    return index_copy


def assert_error_or_unchanged(answer, baseline) -> None:
    """A damaged index answers as the whole one did, or not at all."""
    if answer is not None:
        cited = tuple((c.source, c.start_line, c.end_line) for c in answer.citations)
        assert (answer.text, cited) == (baseline.answer, baseline.citations), "a damaged index changed the answer"


def test_from_index(damaged, baseline):
    answer = answers_or_refuses(lambda: Chatbot.from_index(damaged).ask(SEEDS_QUESTION))
    assert_error_or_unchanged(answer, baseline)


def test_cli_ask(damaged, baseline):
    result = invoke(["ask", SEEDS_QUESTION, "--index-dir", damaged, "--json"])
    check_cli_ok_or_user_error(result)
    if result.exit_code == 0:
        data = json.loads(result.stdout)
        assert data["text"] == baseline.answer, "a damaged index changed the answer"


def test_cli_index_repairs_or_says_why(damaged, baseline):
    result = invoke(["index", SEEDS, "--index-dir", damaged])
    check_cli_ok_or_user_error(result)
    if result.exit_code == 0:
        assert_kept(damaged, baseline)


def test_following_the_error_message_repairs_it(damaged, baseline):
    """Whatever the damage, when the error says to rebuild, rebuilding works."""
    result = invoke(["ask", SEEDS_QUESTION, "--index-dir", damaged])
    check_cli_ok_or_user_error(result)
    if result.exit_code == 0:
        return
    if "--rebuild" not in result.stderr:
        return  # other advice (another folder, say): nothing to follow here
    repaired = invoke(["index", SEEDS, "--index-dir", damaged, "--rebuild"])
    assert repaired.exit_code == 0, f"--rebuild did not repair it: {repaired.stderr[-400:]!r}"
    assert_kept(damaged, baseline)


@pytest.mark.slow
def test_a_manifest_that_is_a_fifo(index_copy):
    """Read in this process, a FIFO would block a thread for good: real processes only."""
    (index_copy / MANIFEST).unlink()
    os.mkfifo(index_copy / MANIFEST)
    for args in (["ask", SEEDS_QUESTION], ["index", SEEDS], ["doctor"]):
        process = run_rag([*args, "--index-dir", index_copy])
        if args == ["doctor"]:
            assert process.returncode in (0, 1) and "Traceback" not in process.stderr, process.stderr[-400:]
        else:
            check_process_ok_or_user_error(process)


@pytest.mark.slow
def test_a_writer_lock_held_elsewhere_does_not_hang_indexing(index_copy, baseline):
    """Another `rag index` holding the writer's lock: this one waits a bounded time or says so."""
    import fcntl

    with open(index_copy / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        process = run_rag(["index", SEEDS, "--index-dir", index_copy, "--rebuild"])
    check_process_ok_or_user_error(process)
    assert_kept(index_copy, baseline)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["manifest-nested-100000", "files-vectors-dev-zero", "vectors-wrong-dimension"])
def test_process(index_copy, baseline, name):
    DAMAGE[name](index_copy)
    process = run_rag(["ask", SEEDS_QUESTION, "--index-dir", index_copy])
    check_process_ok_or_user_error(process)
    if process.returncode == 0:
        assert baseline.answer in process.stdout, "a damaged index changed the answer"
