"""Failures around the index's files: a full disk, a name too long, a FIFO or device in place of
an index file, documents from Python over another source's index. Each is a RagError that says
what to do, and loses nothing."""

import contextlib
import errno
import os
import sqlite3
import subprocess
import threading
import uuid

import pytest

from rag import Chatbot, Document
from rag.doctor import diagnose
from rag.errors import IndexCorruptError, IndexLocationError, IndexMismatchError, IndexWriteError
from rag.ingest.pipeline import update_index
from rag.store.index import Index
from rag.store.manifest import MANIFEST, has_manifest
from rag.store.vectors import FaissVectors
from tests.conftest import SEEDS
from tests.store.sample_index import DOCS, settings

MORE = [*DOCS, Document(id="d.txt", text="Dates grow on palms in the desert. " * 40)]


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != ".lock"}


def full_disk_on_faiss_write(self, path):
    path.write_bytes(b"x" * 1000)  # part of the file made it to disk
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def full_disk_on_sqlite_write(*args):
    raise sqlite3.OperationalError("database or disk is full")


@pytest.mark.parametrize(
    ("target", "failure"),
    [
        ("rag.store.vectors.FaissVectors.save", full_disk_on_faiss_write),
        ("rag.store.update.insert_chunk", full_disk_on_sqlite_write),
    ],
    ids=["faiss", "sqlite"],
)
def test_a_full_disk_is_a_plain_error_that_says_how_much_space_with_the_previous_index_intact(
    tmp_path, monkeypatch, target, failure
):
    update_index(tmp_path, DOCS, settings())
    before = snapshot(tmp_path)
    monkeypatch.setattr(target, failure)

    with pytest.raises(IndexWriteError) as raised:
        update_index(tmp_path, MORE, settings())
    message = str(raised.value)
    assert message.startswith(f"The disk holding {tmp_path} is full: the new index needs about ")
    assert "The previous index is unchanged and the partial files were removed." in message
    assert isinstance(raised.value, IndexLocationError)
    assert snapshot(tmp_path) == before  # no .tmp file left, the manifest and data files as they were
    with contextlib.closing(Index.open(tmp_path)) as index:
        assert sorted(index.document_chunk_counts()) == ["a.txt", "b.txt", "c.txt"]


def test_a_faiss_write_error_is_an_os_error(tmp_path, monkeypatch):
    vectors = FaissVectors.empty(4)
    with pytest.raises(OSError) as raised:
        vectors.save(tmp_path / "missing" / "v.faiss")  # FAISS raises RuntimeError here
    assert raised.value.errno == errno.EIO


def test_another_write_error_says_the_previous_index_is_unchanged(tmp_path, monkeypatch):
    update_index(tmp_path, DOCS, settings())
    before = snapshot(tmp_path)

    def io_error(*args):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("rag.store.update.insert_chunk", io_error)
    with pytest.raises(IndexWriteError) as raised:
        update_index(tmp_path, MORE, settings())
    assert str(raised.value) == (
        f"Cannot write the index in {tmp_path} (Input/output error). The previous index is unchanged. "
        "Give --index-dir a folder you can write to."
    )
    assert snapshot(tmp_path) == before


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 200 kB file system, where this runs as root and may mount one."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_really_full_disk_is_a_plain_error_with_the_previous_index_intact(small_tmpfs):
    update_index(small_tmpfs, DOCS, settings())
    before = snapshot(small_tmpfs)
    big = [*DOCS, *(Document(id=f"{n}.txt", text=f"Word{n} " * 3000 + str(uuid.uuid4())) for n in range(30))]

    with pytest.raises(IndexWriteError, match="is full: the new index needs about"):
        update_index(small_tmpfs, big, settings())
    assert snapshot(small_tmpfs) == before
    assert update_index(small_tmpfs, DOCS[:2], settings()).removed == ["c.txt"]  # still usable


@pytest.mark.parametrize("where", ["last", "middle"])
def test_a_path_component_over_255_bytes_names_it(tmp_path, where):
    long = "é" * 130  # 260 bytes in UTF-8
    folder = tmp_path / long if where == "last" else tmp_path / long / "index"
    message = (
        f"The index folder {'é' * 20 + '...' + 'é' * 12!r} has a name of 260 bytes; file systems allow 255. "
        "Give --index-dir (index_dir= in Python) a shorter name."
    )
    for attempt in (
        lambda: update_index(folder, DOCS, settings()),
        lambda: Index.open(folder),
        lambda: Chatbot.from_documents(DOCS, index_dir=folder),
        lambda: has_manifest(folder),  # what `rag ask` looks at first
    ):
        with pytest.raises(IndexLocationError) as raised:
            attempt()
        assert str(raised.value) == message
    check = next(c for c in diagnose(folder) if c.name == "index")
    assert (check.ok, check.broken, check.detail) == (False, True, message)


def _fifo(path):
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def _dev_zero(path):
    path.unlink(missing_ok=True)
    path.symlink_to("/dev/zero")


def run_briefly(attempt):
    """``attempt()``'s exception, from a thread given 10 s: a hang fails the test instead of
    stopping the run."""
    outcome = []

    def target():
        try:
            attempt()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "reading the index hung"
    return outcome[0] if outcome else None


@pytest.mark.parametrize("make", [_fifo, _dev_zero], ids=["fifo", "dev-zero"])
@pytest.mark.parametrize("name", [MANIFEST, "vectors-1.faiss", "chunks-1.sqlite"])
def test_an_index_file_that_is_not_a_regular_file_is_damage_named_not_a_hang(tmp_path, make, name):
    update_index(tmp_path, DOCS, settings())
    make(tmp_path / name)

    error = run_briefly(lambda: Index.open(tmp_path))
    assert isinstance(error, IndexCorruptError)
    assert error.detail == f"{name} is not a regular file"
    assert run_briefly(lambda: update_index(tmp_path, DOCS, settings(), repair=True)) is None
    with contextlib.closing(Index.open(tmp_path)) as index:
        assert sorted(index.document_chunk_counts()) == ["a.txt", "b.txt", "c.txt"]


def test_documents_from_python_over_a_folders_index_are_refused(tmp_path, seeds_copy):
    index_dir = tmp_path / "index"
    Chatbot.from_folder(seeds_copy, index_dir=index_dir).close()
    before = snapshot(index_dir)

    with pytest.raises(IndexMismatchError) as raised:
        Chatbot.from_documents([Document(id="z", text="x")], index_dir=index_dir)
    message = str(raised.value)
    assert message.startswith(f"The index in {index_dir} holds the documents of {seeds_copy}; indexing these documents")
    assert message.endswith("Give another index_dir, or replace them with rebuild=True.")
    assert snapshot(index_dir) == before

    with Chatbot.from_documents([Document(id="z", text="x")], index_dir=index_dir, rebuild=True) as bot:
        assert bot.documents == {"z": 1}


def test_documents_from_python_sharing_no_id_with_the_indexed_ones_are_refused(tmp_path):
    index_dir = tmp_path / "index"
    update_index(index_dir, DOCS, settings())
    other = [Document(id="z.txt", text="Zebras are striped.")]
    with pytest.raises(IndexMismatchError) as raised:
        update_index(index_dir, other, settings())
    assert str(raised.value) == (
        f"The index in {index_dir} holds 3 other documents; indexing these documents there would remove 3 of them "
        "(a.txt, b.txt, c.txt). Give another index_dir, or replace them with rebuild=True."
    )
    # The same collection, updated (one removed, one added), is an update, not another source.
    report = update_index(index_dir, [*DOCS[:2], *other], settings())
    assert (report.added, report.removed) == (["z.txt"], ["c.txt"])


def test_documents_from_python_over_an_index_of_a_folder_that_is_gone_go_ahead(tmp_path):
    index_dir = tmp_path / "index"
    update_index(index_dir, DOCS, settings(), source=SEEDS)  # any folder
    update_index(index_dir, DOCS, settings(), source=tmp_path / "gone")
    report = update_index(index_dir, DOCS[:1], settings())
    assert report.removed == ["b.txt", "c.txt"]
