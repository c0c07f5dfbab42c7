"""The writer lock: one process writes an index at a time, and no writer waits without end.

An update holds an exclusive ``flock`` on the index folder's ``.lock`` for its whole length
(``rag.store.update``). A second writer waits for it, which serialises two `rag index` runs,
but only for a bounded time: ``RAG_LOCK_TIMEOUT`` seconds (30 by default). A writer that
holds the lock for longer is most likely a long build, or a process stopped and left
holding it (^Z); either way the user is better served by a message saying so than by a
command that sits silent. While it waits, a warning says what it is waiting for.

flock has no timeout of its own, so the lock is tried without blocking and retried a few
times a second: an update takes seconds at least, so the poll costs nothing that shows. The
lock is released by the kernel when its holder dies (``kill -9`` included), so a killed
writer never leaves a lock behind that this would wait on.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from rag.errors import IndexLocationError, RagError
from rag.store.files import LOCK, cannot_write

logger = logging.getLogger(__name__)

TIMEOUT_VARIABLE = "RAG_LOCK_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0
_POLL_S = 0.1  # how often a waiting writer tries the lock again


@contextlib.contextmanager
def writer_lock(folder: Path) -> Iterator[None]:
    """Hold the writer lock of the index in ``folder`` for the block; IndexLocationError when
    another process holds it for longer than ``lock_timeout()``."""
    timeout = lock_timeout()
    try:
        # O_NONBLOCK: a FIFO in place of the lock fails at once instead of waiting for a reader.
        fd = os.open(folder / LOCK, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, 0o644)
        handle = os.fdopen(fd, "w")
    except OSError as error:
        raise cannot_write(folder, error) from error
    with handle:
        _acquire(handle, folder, timeout)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_timeout() -> float:
    """Seconds a writer waits for another one: ``RAG_LOCK_TIMEOUT``, or 30."""
    raw = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not 0 <= seconds < float("inf"):  # also refuses NaN
        raise RagError(
            f"{TIMEOUT_VARIABLE} is {raw[:40]!r}; it should be the seconds to wait for another process "
            f"writing the index, 0 or more (the default is {DEFAULT_TIMEOUT_S:g}). Set it to a number, or unset it."
        )
    return seconds


def _acquire(handle, folder: Path, timeout: float) -> None:
    if _try_lock(handle, folder):
        return
    if timeout > 0:  # RAG_LOCK_TIMEOUT=0: no wait, so nothing to say before the error
        logger.warning(
            "Waiting for another process writing the index in %s to finish (up to %s s; %s sets how long) ...",
            folder,
            f"{timeout:g}",
            TIMEOUT_VARIABLE,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(min(_POLL_S, max(deadline - time.monotonic(), 0)))
        if _try_lock(handle, folder):
            return
    waited = f", and has for over {timeout:g} s" if timeout > 0 else ""
    raise IndexLocationError(
        f"Another process is writing the index in {folder}: it holds the writer lock ({LOCK}){waited}. Wait for "
        f"it to finish (or stop it) and run this again, or give --index-dir another folder; to wait longer, set "
        f"{TIMEOUT_VARIABLE} to the seconds to wait."
    )


def _try_lock(handle, folder: Path) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as error:  # EWOULDBLOCK is BlockingIOError; anything else is not "held elsewhere"
        raise IndexLocationError(
            f"Cannot lock the index in {folder} for writing ({error.strerror or error}). "
            "Give --index-dir a folder on a local disk you can write to."
        ) from error
    return True
