"""The writer lock: a second writer waits for the first, but a bounded time (``RAG_LOCK_TIMEOUT``),
saying so while it waits and after; a bad ``RAG_LOCK_TIMEOUT`` is a plain error."""

import contextlib
import fcntl
import logging
import threading

import pytest

from rag.errors import IndexLocationError, RagError
from rag.ingest.pipeline import update_index
from rag.store.index import Index
from tests.store.sample_index import DOCS, settings


@contextlib.contextmanager
def held_elsewhere(folder):
    """The writer lock held as another process's writer would hold it (flock locks belong to
    the open file, so a second open of it contends with the writer's as another process's does)."""
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def within(seconds, call):
    """The error ``call()`` raises (None for none), failing the test when it has not ended
    after ``seconds``: a writer that waits for good would otherwise hang the suite."""
    raised = []

    def run():
        try:
            call()
        except Exception as error:  # noqa: BLE001 - handed to the test
            raised.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return raised[0] if raised else None


def chunk_counts(folder):
    with contextlib.closing(Index.open(folder)) as index:
        return index.document_chunk_counts()


def test_a_writer_waits_a_bounded_time_for_another_then_says_what_to_do(tmp_path, monkeypatch, caplog):
    update_index(tmp_path, DOCS, settings())
    monkeypatch.setenv("RAG_LOCK_TIMEOUT", "0.2")

    with held_elsewhere(tmp_path), caplog.at_level(logging.WARNING, logger="rag.store.lock"):
        error = within(30, lambda: update_index(tmp_path, DOCS[:1], settings(), rebuild=True))

    assert isinstance(error, IndexLocationError)
    assert str(error) == (
        f"Another process is writing the index in {tmp_path}: it holds the writer lock (.lock), and has for over "
        "0.2 s. Wait for it to finish (or stop it) and run this again, or give --index-dir another folder; to "
        "wait longer, set RAG_LOCK_TIMEOUT to the seconds to wait."
    )
    assert [r.getMessage() for r in caplog.records] == [
        f"Waiting for another process writing the index in {tmp_path} to finish (up to 0.2 s; RAG_LOCK_TIMEOUT "
        "sets how long) ..."
    ]
    assert chunk_counts(tmp_path) == {"a.txt": 1, "b.txt": 1, "c.txt": 1}  # nothing written


def test_with_no_wait_allowed_a_held_lock_is_an_error_at_once(tmp_path, monkeypatch, caplog):
    update_index(tmp_path, DOCS, settings())
    monkeypatch.setenv("RAG_LOCK_TIMEOUT", "0")
    with held_elsewhere(tmp_path), caplog.at_level(logging.WARNING, logger="rag.store.lock"):
        error = within(30, lambda: update_index(tmp_path, DOCS[:1], settings()))
    assert str(error).startswith(
        f"Another process is writing the index in {tmp_path}: it holds the writer lock (.lock). "
    )
    assert caplog.records == []  # no "waiting" for a wait that does not happen


def test_a_second_writer_goes_on_once_the_first_is_done(tmp_path, monkeypatch):
    update_index(tmp_path, DOCS, settings())
    monkeypatch.setenv("RAG_LOCK_TIMEOUT", "60")
    writing = threading.Event()

    def second_writer():
        writing.set()
        update_index(tmp_path, DOCS[:2], settings())

    with held_elsewhere(tmp_path):
        thread = threading.Thread(target=second_writer, daemon=True)
        thread.start()
        writing.wait()
        thread.join(0.3)
        assert thread.is_alive(), "the second writer did not wait for the first"
        assert chunk_counts(tmp_path) == {"a.txt": 1, "b.txt": 1, "c.txt": 1}
    thread.join(60)
    assert not thread.is_alive()
    assert chunk_counts(tmp_path) == {"a.txt": 1, "b.txt": 1}


def test_no_wait_when_the_lock_is_free(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("RAG_LOCK_TIMEOUT", "0")
    with caplog.at_level(logging.WARNING, logger="rag.store.lock"):
        update_index(tmp_path, DOCS, settings())
    assert caplog.records == []
    assert chunk_counts(tmp_path) == {"a.txt": 1, "b.txt": 1, "c.txt": 1}


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_a_bad_lock_timeout_is_a_plain_error(tmp_path, monkeypatch, value):
    monkeypatch.setenv("RAG_LOCK_TIMEOUT", value)
    with pytest.raises(RagError) as caught:
        update_index(tmp_path, DOCS, settings())
    assert str(caught.value) == (
        f"RAG_LOCK_TIMEOUT is {value!r}; it should be the seconds to wait for another process writing the index, "
        "0 or more (the default is 30). Set it to a number, or unset it."
    )
    assert not (tmp_path / "manifest.json").exists()
