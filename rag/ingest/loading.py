"""Reading a folder of articles into Documents.

Each file is read by the reader its suffix names in ``rag.ingest.readers.READERS`` (plain
text as it is, decoded by ``rag.ingest.decoding``; a web page's or Word file's extracted text,
with its title, author and date); files in other formats are left out with one warning for
all of them. A file a reader cannot read (binary, corrupt, a zip bomb), an empty one and one
over its format's size limit are skipped with one warning each. Hidden files and folders are
left out.

The walk never leaves the folder: a link is followed only when what it points to is inside
the folder (each real folder once, so a link to a parent cannot loop); a link out of it is
skipped with a warning, since indexing it would quote files the user never chose to share
(``up -> ..`` would index the parent's). The walk keeps its own stack rather than recursing,
so a folder nested thousands deep is read like any other. Only regular files are read, and
at most its format's limit of each: a FIFO or a device in the folder is passed over instead
of blocking or reading without end. A file name that is not valid UTF-8 (``caf\\xe9.txt``
written by an old system) gets the id its bytes read as, decoded as file contents are
(``café.txt``), so that the id can be stored, shown and cited; the file is still read by its
real name, and the same bytes always give the same id.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import DocumentsError
from rag.files import read_bounded
from rag.ingest.decoding import STRAY_BYTE_RE, decode_8bit
from rag.ingest.decoding import decode as decode  # where uploads and callers have always found it
from rag.ingest.extracted import ExtractionError
from rag.ingest.readers import PLAIN_TEXT, READERS, Reader, reader_for
from rag.records import Document

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset(suffix for suffix, reader in READERS.items() if reader is PLAIN_TEXT)
MAX_TEXT_BYTES = PLAIN_TEXT.max_bytes


@dataclass(frozen=True)
class FolderContents:
    """What ``read_folder`` found: the documents, and the ids of text files that are there but
    could not be read (permissions, a lock): an index keeps its earlier version of those rather
    than dropping them."""

    documents: list[Document]
    unreadable: list[str] = field(default_factory=list)


def load_folder(folder: str | Path) -> list[Document]:
    """Every readable text file below ``folder``, sorted by id (the path relative to it).

    A folder with none is a ``DocumentsError``: there would be nothing to answer from.
    """
    return read_folder(folder).documents


def read_folder(folder: str | Path) -> FolderContents:
    """``load_folder``'s documents, and the text files it could not read."""
    from rag.validation import checked_folder, shown_path

    root = checked_folder(folder)  # not a path, empty, a NUL byte, or too long for the system
    if not root.exists():
        raise DocumentsError(f"Folder not found: {shown_path(root)}. Pass the folder that holds your articles.")
    if not root.is_dir():
        raise DocumentsError(f"{shown_path(root)} is a file, not a folder. Pass the folder that holds it.")
    documents, unreadable = [], []
    other_formats: Counter[str] = Counter()
    taken: set[str] = set()
    for path in _files_below(root):
        doc_id = document_id(root, path)
        if doc_id in taken:  # two names that differ only in bytes that are not UTF-8
            logger.warning("skipping %s: another file's name reads the same; rename one of them", path)
            continue
        taken.add(doc_id)
        reader = reader_for(path.suffix)
        if reader is None:
            other_formats[path.suffix.lower() or "without extension"] += 1
            continue
        try:
            document = _read_file(path, doc_id, reader)
        except OSError as error:
            _warn_unreadable(doc_id, error)
            unreadable.append(doc_id)
            continue
        if document is not None:
            documents.append(document)
    if other_formats:
        _warn_other_formats(other_formats)
    if not documents:
        raise DocumentsError(
            f"No articles to index in {shown_path(root)} (looked for {', '.join(sorted(READERS))}). "
            "Add some articles, or point at the folder that holds them."
        )
    return FolderContents(documents, unreadable)


def _files_below(root: Path) -> list[Path]:
    """The regular files below ``root``, sorted, hidden ones and hidden folders left out.

    Links are followed only to what lies inside ``root`` (each real folder once); one warning
    names each link out of it. A folder that cannot be read is named in a warning, not skipped
    in silence. Iterative: no depth makes it fail.
    """
    inside = os.path.realpath(root)
    seen = {inside}
    pending, files = [(root, inside)], []
    while pending:
        folder, real_folder = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            logger.warning("skipping folder %s: cannot read it (%s)", folder, error.strerror or error)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            # only a link needs resolving: resolving every path would cost depth² look-ups
            real = os.path.realpath(path) if entry.is_symlink() else os.path.join(real_folder, entry.name)
            if not _within(real, inside):
                _warn_link_out(root, path, real)
            elif _is_folder(entry):
                if real not in seen:
                    seen.add(real)
                    pending.append((path, real))
            elif _is_regular_file(entry):
                files.append(path)
    return sorted(files)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_regular_file(entry: os.DirEntry) -> bool:
    """A plain file (through a link too): not a FIFO, socket or device, which would block a read
    or never end it."""
    try:
        return entry.is_file()
    except OSError:
        return False


def _warn_link_out(root: Path, link: Path, target: str) -> None:
    logger.warning(
        "skipping %s: it links to %s, outside %s (index that folder itself, or copy the files in)",
        document_id(root, link),
        target,
        root,
    )


def document_id(root: Path, path: Path) -> str:
    """The id of the file at ``path``: its path relative to ``root``, with ``/`` separators.

    Bytes of a name that are not UTF-8 read as file contents do (Windows-1252), so that the id
    can be stored and shown: ``caf\\xe9.txt`` is ``café.txt``.
    """
    relative = path.relative_to(root).as_posix()
    if not STRAY_BYTE_RE.search(relative):
        return relative
    return decode_8bit(os.fsencode(relative))


def _warn_other_formats(counts: Counter[str]) -> None:
    """One warning for all the files left out, so a folder of PDFs does not index silently."""
    listed = ", ".join(f"{count} {suffix}" for suffix, count in sorted(counts.items()))
    total = sum(counts.values())
    files, them = ("file", "it") if total == 1 else ("files", "them")
    logger.warning(
        "skipping %d %s not in a format rag reads (%s): save %s as .txt, .md, .html or .docx to index %s",
        total,
        files,
        listed,
        them,
        them,
    )


def load_file(path: Path, doc_id: str | None = None) -> Document | None:
    """One file as a Document, read by its suffix's reader (as plain text when its format is
    not one read), or None (with a warning) when it is empty, binary or unreadable."""
    doc_id = doc_id or path.name
    try:
        return _read_file(path, doc_id, reader_for(path.suffix) or PLAIN_TEXT)
    except OSError as error:
        _warn_unreadable(doc_id, error)
        return None


def _warn_unreadable(doc_id: str, error: OSError) -> None:
    logger.warning("skipping %s: cannot read it (%s)", doc_id, error.strerror or error)


def _read_file(path: Path, doc_id: str, reader: Reader) -> Document | None:
    """The file as a Document, read by ``reader``; None (with a warning) when the reader cannot
    read it, or it is empty or too big; OSError when it cannot be read at all."""
    raw = read_bounded(path, reader.max_bytes)
    if raw is None:
        logger.warning(
            "skipping %s: it is over %d MB, more than %s holds; split it into smaller files",
            doc_id,
            reader.max_bytes // 1_000_000,
            reader.kind,
        )
        return None
    try:
        extracted = reader.read(raw, doc_id)
    except ExtractionError as error:
        logger.warning("skipping %s: %s", doc_id, error)
        return None
    if not extracted.text.strip():
        logger.warning("skipping %s: it is empty", doc_id)
        return None
    return Document(id=doc_id, text=extracted.text, title=extracted.title, author=extracted.author, date=extracted.date)


# -- titles, for display ----------------------------------------------------------------------

TITLE_SEARCHED_LINES = 5  # the first non-blank lines looked at for a title
TITLE_MAX_WORDS = 25  # a longer line is a paragraph
TITLE_SHOWN_CHARS = 70

_MARKDOWN_HEADING_RE = re.compile(r"#{1,6}\s+(.*?)(?:\s+#+)?")
_NAVIGATION_RE = re.compile(
    r"(?:skip|jump) to\b.*|(?:main |site |open |close |toggle )?(?:menu|navigation)|sign in|log in|subscribe",
    re.IGNORECASE,
)
_LETTER_RE = re.compile(r"[^\W\d_]")
_CLOSING_MARKS = "”’\"')] "


def display_title(text: str, max_chars: int = TITLE_SHOWN_CHARS) -> str | None:
    """The title a person would read at the top of ``text``, to show beside its file name; None
    when the text opens without one. For display only: retrieval never sees it.

    Among the first ``TITLE_SEARCHED_LINES`` non-blank lines, web-page boilerplate is passed
    over: navigation ("Skip to main content", "Menu"), single-word section labels ("news")
    and lines of symbols or figures alone (rules, "12/03/2022"). The first other line decides: it is
    the title when it has at most ``TITLE_MAX_WORDS`` words and does not end like a sentence
    (a full stop, or a colon, semicolon or comma leading on; a headline may ask a question),
    else the text opens with a paragraph and has no title. A Markdown heading is a title,
    its ``#`` marks removed, even of one word. A site's name or section after " | " is dropped
    ("Title | World | News"). Whitespace runs become one space, and a title longer than
    ``max_chars`` is cut at a word, with "…".
    """
    # a wrap within a PDF's paragraph (U+2028, rag.ingest.pdf) does not end a title
    lines = [" ".join(line.split()) for line in text.replace("\u2028", " ").splitlines()]
    for line in [line for line in lines if line][:TITLE_SEARCHED_LINES]:
        heading = _MARKDOWN_HEADING_RE.fullmatch(line)
        if heading:
            title = heading.group(1).strip()
            if _LETTER_RE.search(title):
                return _shortened(title, max_chars)
            continue
        line = line.split(" | ")[0].strip()
        words = line.split()
        if len(words) < 2 or not _LETTER_RE.search(line) or _NAVIGATION_RE.fullmatch(line):
            continue
        if len(words) > TITLE_MAX_WORDS or line.rstrip(_CLOSING_MARKS).endswith((".", ":", ";", ",")):
            return None
        return _shortened(line, max_chars)
    return None


def shown_title(title: str, max_chars: int = TITLE_SHOWN_CHARS) -> str:
    """A title a file gave itself, as ``display_title`` shows one: whitespace runs made one
    space, cut at a word to fit ``max_chars``."""
    return _shortened(" ".join(title.split()), max_chars)


def _shortened(title: str, max_chars: int) -> str:
    """``title`` cut at a word so that it and "…" fit in ``max_chars``."""
    if len(title) <= max_chars:
        return title
    cut = title[: max_chars - 1]
    if " " in cut and not title[max_chars - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:–—-") + "…"
