"""How a message shows text a user gave (a path, a name): on one line, whatever it holds.

``shown_path`` is the one way a message names a path; ``escaped`` writes a newline, a tab, a
NUL byte, U+2028 or a surrogate left by undecodable bytes as Python writes it in a literal.
It imports nothing of the package, so that ``rag.errors`` can use it too (``rag.validation``
re-exports both, beside the checks). Trade-off: an escaped name is not what a shell would
take back; it is what a person can read and report.
"""

from __future__ import annotations

import os

__all__ = ["escaped", "shown_path"]


def shown_path(path: object) -> str:
    """``path`` as a message shows it: control characters (a newline, a tab, a NUL byte)
    escaped as Python writes them, so the message stays on one line."""
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    return escaped(text) if isinstance(text, str) else repr(text)


def escaped(text: str) -> str:
    """``text`` with each character that is not printable (a newline, a tab, U+2028) written
    as Python writes it in a literal (``\\n``), so that it prints on one line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
