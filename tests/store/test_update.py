"""Updating an index: only what changed is written, old generations go, one writer, and a
writer killed mid-way or refused a folder leaves the previous index as it was."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest

from rag import Chatbot, Document
from rag.errors import IndexLocationError, RagError
from rag.ingest.pipeline import update_index
from rag.store.index import Index
from rag.store.manifest import MANIFEST
from tests.conftest import ROOT
from tests.store.sample_index import DOCS, CountingEmbedder, settings


def test_reindexing_touches_only_added_changed_and_removed_files(tmp_path):
    update_index(tmp_path, DOCS, settings())
    embedder = CountingEmbedder()
    changed = Document(id="b.txt", text="Bananas are now blue, say the growers.")
    added = Document(id="d.txt", text="Dates are sweet fruits of the date palm.")
    report = update_index(tmp_path, [DOCS[0], changed, added], settings(embedder))

    assert (report.added, report.changed, report.removed, report.unchanged) == (["d.txt"], ["b.txt"], ["c.txt"], 1)
    assert sorted(embedder.embedded) == sorted([changed.text, added.text])
    index = Index.open(tmp_path)
    assert index.document_chunk_counts() == {"a.txt": 1, "b.txt": 1, "d.txt": 1}
    texts = {c.source: c.text for c in index.chunks(range(1, 100)).values()}
    assert texts == {"a.txt": DOCS[0].text, "b.txt": changed.text, "d.txt": added.text}
    assert index.lexical_search(["cherri"], 5) == []
    assert index.lexical_search(["blue"], 5)[0][0] in index.chunks(range(1, 100))


def test_an_update_reads_the_current_vectors_once(tmp_path, monkeypatch):
    from rag.store.vectors import FaissVectors

    update_index(tmp_path, DOCS, settings())
    read = []
    load = FaissVectors.load.__func__
    monkeypatch.setattr(
        FaissVectors, "load", classmethod(lambda cls, path, *a: read.append(path.name) or load(cls, path, *a))
    )
    changed = Document(id="b.txt", text="Bananas are now blue, say the growers.")
    update_index(tmp_path, [DOCS[0], changed, DOCS[2]], settings())
    assert read == ["vectors-1.faiss"], "checked and then updated from one reading (a large index's file is big)"
    assert Index.open(tmp_path).lexical_search(["blue"], 5)


def test_a_damaged_index_is_damaged_before_it_is_someone_else_s(tmp_path):
    from rag.errors import IndexCorruptError

    one, other = tmp_path / "one", tmp_path / "other"
    one.mkdir(), other.mkdir()
    update_index(tmp_path / "index", DOCS, settings(), source=one)
    vectors = next((tmp_path / "index").glob("vectors-*.faiss"))
    vectors.write_bytes(vectors.read_bytes() + b"x")  # not the size the manifest records
    # Found before asking whether the documents of another folder may replace these: a
    # damaged index is rebuilt (repair=True), whichever folder it was built from.
    with pytest.raises(IndexCorruptError):
        update_index(tmp_path / "index", DOCS[:1], settings(), source=other)


def test_an_unchanged_folder_writes_nothing(tmp_path):
    update_index(tmp_path, DOCS, settings())
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    embedder = CountingEmbedder()
    report = update_index(tmp_path, DOCS, settings(embedder))
    assert not report.touched and embedder.embedded == []
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir() if p.name != ".lock"}
    assert after == {k: v for k, v in before.items() if k != ".lock"}


def test_a_new_title_is_a_change(tmp_path):
    update_index(tmp_path, DOCS, settings())
    retitled = Document(id="a.txt", text=DOCS[0].text, title="Orchard notes")
    report = update_index(tmp_path, [retitled, *DOCS[1:]], settings())
    assert (report.added, report.changed, report.removed, report.unchanged) == ([], ["a.txt"], [], 2)
    assert Index.open(tmp_path).manifest.documents["a.txt"]["title"] == "Orchard notes"


def test_old_generation_files_are_removed_after_an_update(tmp_path):
    update_index(tmp_path, DOCS, settings())
    killed_writer = ("chunks-9.sqlite.tmp", "chunks-9.sqlite.tmp-journal", "vectors-9.faiss.tmp", "lexical-9.bm25.tmp")
    for left_by_a_killed_writer in killed_writer:
        (tmp_path / left_by_a_killed_writer).write_bytes(b"partial")
    update_index(tmp_path, DOCS[:2], settings())
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert names == ["chunks-2.sqlite", "lexical-2.bm25", MANIFEST, "vectors-2.faiss"]


def test_duplicate_document_ids_are_an_error(tmp_path):
    with pytest.raises(RagError, match="share the id"):
        update_index(tmp_path, [DOCS[0], DOCS[0]], settings())


@pytest.mark.slow
def test_kill_9_during_indexing_leaves_the_previous_index_usable(tmp_path):
    """A real `rag index` process killed while it writes the next generation."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(DOCS[0].text, encoding="utf-8")
    index_dir = tmp_path / "index"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    rag = [sys.executable, "-m", "rag.cli"]
    subprocess.run([*rag, "index", str(folder), "--index-dir", str(index_dir)], check=True, env=env, cwd=ROOT)

    rng = np.random.default_rng(0)
    vocabulary = [f"w{i}" for i in range(3000)]
    for n in range(3000):  # enough work that the process is caught mid-write
        words = rng.choice(vocabulary, size=120)
        (folder / f"bulk{n:04d}.txt").write_text(" ".join(words) + ".", encoding="utf-8")
    process = subprocess.Popen(
        [*rag, "index", str(folder), "--index-dir", str(index_dir)], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not list(index_dir.glob("*.tmp")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "indexing finished before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()

    assert json.loads((index_dir / MANIFEST).read_text())["generation"] == 1
    result = subprocess.run(
        [*rag, "ask", "What colour are apples?", "--index-dir", str(index_dir), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["hits"][0]["source"] == "a.txt"
    # The next run cleans up the interrupted generation and completes.
    subprocess.run(
        [*rag, "index", str(folder), "--index-dir", str(index_dir)], check=True, env=env, cwd=ROOT, capture_output=True
    )
    assert not list(index_dir.glob("*.tmp"))
    assert Index.open(index_dir).chunk_count > 3000


def test_an_index_dir_that_cannot_be_a_folder_is_a_plain_error(tmp_path):
    from rag.errors import IndexLocationError

    a_file = tmp_path / "notes.txt"
    a_file.write_text("not an index", encoding="utf-8")
    docs = [Document(id="a.txt", text="Kettles boil water.")]
    with pytest.raises(IndexLocationError, match=r"notes.txt is a file, not a folder"):
        Chatbot.from_documents(docs, index_dir=a_file)
    with pytest.raises(IndexLocationError, match=r"notes.txt is a file, not a folder"):
        Chatbot.from_index(a_file)
    with pytest.raises(IndexLocationError, match=r"Cannot write the index in .*notes.txt/sub \(Not a directory\)"):
        Chatbot.from_documents(docs, index_dir=a_file / "sub")
    assert a_file.read_text(encoding="utf-8") == "not an index"


def test_a_read_only_index_folder_is_a_plain_error_before_anything_is_written(tmp_path):
    Chatbot.from_documents(DOCS, tmp_path).close()
    before = sorted(p.name for p in tmp_path.iterdir())
    refused = pytest.raises(IndexLocationError, match=r"Cannot write the index in .*(not permitted|Permission)")
    with _read_only(tmp_path), refused:
        Chatbot.from_documents(DOCS[:2], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert len(Chatbot.from_index(tmp_path).index.document_chunk_counts()) == 3


@contextlib.contextmanager
def _read_only(folder):
    """chattr +i where the tests run as root (root writes through chmod), chmod otherwise."""
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
    try:
        yield
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)


def test_the_store_writes_the_chunks_and_vectors_it_is_handed(tmp_path):
    """No chunker, no embedder: what is stored is what the caller gives."""
    from rag.records import Chunk
    from rag.store.update import begin_update

    document = Document(id="k.txt", text="Kettles boil water.\nTeapots brew tea.")
    chunks = [
        Chunk(0, "k.txt", "Kettles boil water.", 0, 19, 1, 1),
        Chunk(1, "k.txt", "Teapots brew tea.", 20, 37, 2, 2),
    ]
    entries = {"embedder": {"id": "by-hand", "dim": 2}, "chunker": {"max_tokens": 8}}
    with begin_update(tmp_path, [document], **entries) as update:
        assert update.writes and update.documents == [document]
        ids = update.add_document(document, chunks, [c.text for c in chunks])
        update.add_vectors(ids, np.eye(2, dtype=np.float32))
    assert str(update.report) == "1 added, 0 changed, 0 removed, 0 unchanged"

    with contextlib.closing(Index.open(tmp_path)) as index:
        assert index.dense_search(np.asarray([0, 1], dtype=np.float32), 1) == [(ids[1], 1.0)]
        assert [index.chunks(ids)[i] for i in ids] == [replace(c, id=i) for c, i in zip(chunks, ids, strict=True)]
    with begin_update(tmp_path, [document], **entries) as update:
        assert not update.writes and update.documents == []
