"""Reading a file a user can point at: regular files only, and never more than a limit.

Every file the product reads because a user named it or put it in a folder (articles,
``manifest.json``, prompts files) is read through ``read_bounded``: a FIFO in its place would
block a plain ``open`` until a writer came, and ``/dev/zero`` would be read until memory ran
out. It lives apart from the stages so that each can use it without importing another.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def read_bounded(path: Path, limit: int) -> bytes | None:
    """The bytes of the regular file at ``path``, or None when it holds more than ``limit``.

    Reads at most ``limit + 1`` bytes, and nothing of a file already bigger, so a file that
    grows while it is read (or a device put in its place) cannot exhaust memory. OSError when
    it cannot be read.
    """
    # O_NONBLOCK: a FIFO put in place of a file opens at once instead of waiting for a writer
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if status.st_size > limit:  # known too big: nothing need be read
            return None
        return _read_up_to(handle, limit, status.st_size)


def _read_up_to(handle, limit: int, expected: int) -> bytes | None:
    """At most ``limit`` bytes from ``handle``, None past that. Asked for ``limit`` bytes at
    once, a buffered read sets that much memory aside whatever the file holds; so the size
    the file had is read, then any more (a file still being written) a megabyte at a time."""
    parts = [handle.read(expected + 1)]
    size = len(parts[0])
    while size <= limit and parts[-1]:
        parts.append(handle.read(min(1 << 20, limit + 1 - size)))
        size += len(parts[-1])
    return None if size > limit else b"".join(parts)
