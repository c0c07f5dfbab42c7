"""Which reader turns a file into text, by the file's suffix: the one table of formats.

A reader takes the file's bytes (read whole, at most its ``max_bytes``) and gives back an
``Extracted``: the text that is indexed and cited, and the title, author and date where the
format says them. Citations quote that text, so for a converted format (HTML, Word) the lines
a citation gives are the lines of the extracted text, which ``rag.Chatbot`` keeps and shows.
A reader raises ``ExtractionError`` for a file it cannot read; the folder walk turns that into
one warning and indexes the rest.

Adding a format is one line in ``READERS`` and the module that reads it. Each limit is far
past an article in that format; a file over it is a dump or a mistake, and reading it would
only cost memory. The HTML limit is trafilatura's own (it declines larger pages).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rag.ingest.decoding import decode
from rag.ingest.docx import read_docx
from rag.ingest.extracted import Extracted, ExtractionError
from rag.ingest.html import read_html
from rag.ingest.pdf import extract_pdf


@dataclass(frozen=True)
class Reader:
    read: Callable[[bytes, str], Extracted]  # the bytes, and the name to give in warnings
    max_bytes: int
    kind: str  # a file of the format in words, for messages: "a web page"


def read_text(raw: bytes, name: str = "") -> Extracted:
    """A plain-text file as it is: its own lines are the ones cited."""
    text = decode(raw)
    if text is None:
        raise ExtractionError("it looks like a binary file, not text")
    return Extracted(text)


PLAIN_TEXT = Reader(read_text, 64 << 20, "a plain-text article")
_HTML = Reader(read_html, 20_000_000, "a web page")

READERS: dict[str, Reader] = {
    **dict.fromkeys((".txt", ".md", ".markdown", ".rst", ".text", ".org", ".csv", ".tsv"), PLAIN_TEXT),
    ".html": _HTML,
    ".htm": _HTML,
    ".docx": Reader(read_docx, 50 << 20, "a Word document"),
    ".pdf": Reader(extract_pdf, 200 << 20, "a PDF"),
}


def reader_for(suffix: str) -> Reader | None:
    """The reader for files ending in ``suffix`` (any case), or None for a format not read."""
    return READERS.get(suffix.lower())
