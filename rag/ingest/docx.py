"""Reading a Word (.docx) file: its paragraphs, headings and tables, in document order.

python-docx (MIT) reads the file. Each paragraph and heading is a line of its own, with a
blank line between them as in a plain-text article; a table is a line per row, its cells
separated by " | " (a merged cell once). Title, author and creation date come from the
document's properties where it has them.

A .docx is a zip file, and python-docx inflates the parts it reads into memory, so the zip is
checked first: its total uncompressed size must stay under ``MAX_UNCOMPRESSED_BYTES`` and no
large member may be compressed more than ``MAX_RATIO`` times (text compresses about ten times;
a zip bomb thousands of times). A file that is encrypted (Word saves those as an OLE container,
not a zip), an old .doc renamed, or corrupt is an ``ExtractionError``, named for what it is.
"""

from __future__ import annotations

import io
import zipfile

from rag.ingest.extracted import Extracted, ExtractionError, metadata_text

MAX_UNCOMPRESSED_BYTES = 256 << 20
MAX_RATIO = 100
_RATIO_CHECKED_BYTES = 1 << 20  # a small member may compress any amount without mattering
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_docx(raw: bytes, name: str = "") -> Extracted:
    """The text of the Word document ``raw``, with its title, author and date where set."""
    import docx

    if raw.startswith(_OLE_MAGIC):
        raise ExtractionError(
            "it is password-protected, or an old Word .doc renamed; save it from Word as .docx without a password"
        )
    _check_zip(raw)
    try:
        document = docx.Document(io.BytesIO(raw))
        text = "\n\n".join(block for block in _blocks(document) if block)
        properties = document.core_properties
        title, author, created = properties.title, properties.author, properties.created
    except Exception as error:  # python-docx raises many kinds for a damaged file; all mean the same here
        raise ExtractionError(
            f"it is not a readable Word document ({error}); open and save it again in Word"
        ) from error
    if not text.strip():
        raise ExtractionError("it has no text in it")
    return Extracted(text, metadata_text(title), metadata_text(author), created.date().isoformat() if created else None)


def _check_zip(raw: bytes) -> None:
    try:
        members = zipfile.ZipFile(io.BytesIO(raw)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ExtractionError(
            f"it is not a readable Word document ({error}); open and save it again in Word"
        ) from error
    total = sum(member.file_size for member in members)
    inflated = any(
        member.file_size > _RATIO_CHECKED_BYTES and member.file_size > MAX_RATIO * max(member.compress_size, 1)
        for member in members
    )
    if total > MAX_UNCOMPRESSED_BYTES or inflated:
        raise ExtractionError(
            f"it unpacks to {total >> 20} MB, far more than a document holds (a zip bomb, or damaged); "
            "open and save it again in Word"
        )


def _blocks(document) -> list[str]:
    """Each paragraph's text, and each table as one block of rows, in document order."""
    from docx.table import Table

    blocks = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.append("\n".join(row for row in (_row_text(row) for row in item.rows) if row))
        else:
            blocks.append(_line(item.text))
    return blocks


def _row_text(row) -> str:
    """A table row's cells joined by " | ", a cell merged across columns given once."""
    cells, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) in seen:
            continue
        seen.add(id(cell._tc))
        cells.append(_line(cell.text))
    return " | ".join(cells) if any(cells) else ""


def _line(text: str) -> str:
    """A paragraph as one line: a line break inside it (Shift+Enter) becomes a space."""
    return " ".join(text.split())
