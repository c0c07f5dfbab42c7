"""What a reader of one file format gives back: the text to index and what is known about it.

Kept apart from the table of readers (``rag.ingest.readers``) so that each reader's module
can name these without importing the table that imports it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Extracted:
    """A file's text as it will be indexed and cited (line numbers are this text's lines), and
    its title, author and date (ISO ``YYYY-MM-DD``) where the file says them."""

    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None


class ExtractionError(ValueError):
    """A file that cannot be read as its format says (corrupt, encrypted, a zip bomb). The
    message completes "skipping NAME: ..." and says what to do."""


def metadata_text(value: object) -> str | None:
    """A title, author or date as a file's metadata gives it, on one line; None for nothing."""
    text = " ".join(str(value).split()) if value else ""
    return text or None
