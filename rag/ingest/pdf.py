"""Reading a PDF's text layer (through pypdf) into text whose pages and lines can be cited.

``read_pdf`` gives the text of every page, in order, each page after the first on a new line
opening with a form feed (``\\f``): the page of any span is the count of form feeds before it
plus one, and its line is counted from that page's form feed. So the index stores plain text
like any other document's, chunks end at a page break (``rag.ingest.chunking``), and a
citation names "page 2, lines 5-6" (``rag.answer.citations.with_pages``). A sentence that
runs over onto the next page is kept whole, in the chunk of the page it starts on, and cited
there, its lines counted on past the page's end: cutting it at the break would leave two
halves that answer nothing.

What is changed from pypdf's extraction, and why a reader can still find each quote:

- Line breaks are read from the drop to the next line (pypdf reports each piece's height): a
  wrap within a paragraph becomes ``WRAP`` (U+2028 LINE SEPARATOR), a gap wider than the
  page's usual line spacing a blank line, as a text file separates paragraphs. The sentence
  splitter reads ``WRAP`` as a space, so a short line in a narrow column is not taken for a
  heading and a sentence stays whole; a citation counts it as a line, so the lines it names
  are the lines printed on the page.

- Ligature characters (``ﬁ``, ``ﬂ``, ``ﬀ``, ``ﬃ``, ``ﬄ``, ``ﬅ``, ``ﬆ``) become the letters
  they draw, so "ﬁnance" is found by "finance". A PDF viewer's search matches the letters too,
  and the page shows the same word.
- A word broken across lines with a hyphen ("exam-" / "ple", also a soft hyphen) is joined
  when the next line goes on in lower case ("Anglo-" / "Saxon" is left alone, as is a number),
  and the whole word is put on the first of the two lines, so no line is added or removed: the
  quote's page and line numbers still point at the lines the PDF shows, where the word is
  printed in two halves.
- Running headers and footers (a line among the first or last three of a page whose text,
  with any figures counted as the same, recurs at a page's edge on more than half of the
  pages, and on at least two) are left out, so "Page 3 of 9" does not end up in a chunk or an
  answer, and a sentence running over a page break reads on as one. A citation's lines are
  counted among the lines with text, running lines left out (``rag.answer.citations``).

Lines are counted in the order pypdf reads them, which is the order the text was drawn: down
the first column, then the next, for a two-column page. The layout-preserving extraction mode
would interleave the columns line by line, so it is not used.

A PDF with no text on any page (a scan) gets one warning: OCR it first. A file pypdf cannot
parse, and a password-protected one (a PDF that opens with an empty password, as many
"owner-protected" ones do, is read), get one warning each and are left out. pypdf's own log
lines about a damaged file are held back, so one bad file makes one warning. Memory is bounded
by the bytes the loader reads (``MAX_TEXT_BYTES``) and by ``MAX_PDF_TEXT_CHARS`` of text: the
pages past it are left out, with a warning.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rag.ingest.extracted import Extracted, ExtractionError, metadata_text

logger = logging.getLogger(__name__)

PDF_SUFFIX = ".pdf"
PAGE_BREAK = "\f"
MAX_PDF_TEXT_CHARS = 32 << 20  # far past any article: a book's worth of text
EDGE_LINES = 3  # lines at each edge of a page looked at for running headers and footers
MIN_PAGES_FOR_RUNNING_LINES = 2
# U+2028 LINE SEPARATOR: a line break inside a paragraph. The sentence splitter reads it as a
# space (a short wrapped line is not taken for a heading), a citation counts it as a line.
WRAP = "\u2028"
PARAGRAPH_GAP = 1.3  # a gap this many times the usual line spacing starts a paragraph

_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "ft", "ﬆ": "st"})
# a letter, a hyphen (or soft hyphen) ending the line, and the letters that start the next line
_BROKEN_WORD_RE = re.compile(r"([^\W\d_])[-\u00ad][ \t]*([\n\u2028])[ \t]*([^\W\d_]+)[ \t]*")
_FIGURES_RE = re.compile(r"\d+")


@dataclass(frozen=True)
class ExtractedPdf:
    """A PDF's text (pages separated by ``PAGE_BREAK``) and what its metadata says about it."""

    text: str
    title: str | None
    author: str | None
    date: str | None  # ISO 8601, from the creation date
    pages: int


def read_pdf(raw: bytes, name: str) -> ExtractedPdf | None:
    """The text layer of the PDF in ``raw``; None (with one warning naming ``name``) when it is
    damaged, password-protected or has no text on any page."""
    try:
        return _text_layer(raw, name)
    except ExtractionError as error:
        logger.warning("skipping %s: %s", name, error)
        return None


def extract_pdf(raw: bytes, name: str = "") -> Extracted:
    """``read_pdf`` as the table of readers takes it (``rag.ingest.readers``): the text and
    metadata, or ``ExtractionError`` saying why the file cannot be read."""
    pdf = _text_layer(raw, name)
    return Extracted(pdf.text, _real_title(pdf.title, name), pdf.author, pdf.date)


_FILE_NAME_TITLE_RE = re.compile(r"[\w.-]+\.\w{2,4}|[\w-]*_[\w-]*|microsoft (?:word|powerpoint) - .*|untitled.*", re.I)


def _real_title(title: str | None, name: str) -> str | None:
    """The metadata title, unless it is only what the tool that made the PDF put there: the file
    name ("001_7766d24d19bfa5ea", "report.docx", "Microsoft Word - draft3"), which says less
    than the first line of the text (read for a title when this is None)."""
    if not title:
        return None
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if title.lower() in {stem.lower(), name.lower()} or _FILE_NAME_TITLE_RE.fullmatch(title):
        return None
    return title


def _text_layer(raw: bytes, name: str) -> ExtractedPdf:
    with _pypdf_quiet():
        reader = _opened(raw)
        pages = _page_texts(reader, name)
        metadata = _metadata(reader)
    if not any(page.strip() for page in pages):
        raise ExtractionError("it has no text layer (a scanned image?); run OCR on it (e.g. ocrmypdf) to index it")
    cleaned = without_running_lines([_joined_words(page.translate(_LIGATURES)).strip("\n") for page in pages])
    text = "\n".join(PAGE_BREAK + page if number else page for number, page in enumerate(cleaned)) + "\n"
    return ExtractedPdf(text, *metadata, pages=len(pages))


@contextmanager
def _pypdf_quiet() -> Iterator[None]:
    """pypdf logs each repair it makes to a damaged file; the one warning ``read_pdf`` gives is
    enough."""
    pypdf_logger = logging.getLogger("pypdf")
    level = pypdf_logger.level
    pypdf_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        pypdf_logger.setLevel(level)


def _opened(raw: bytes):
    """A pypdf reader ready to read pages, or ``ExtractionError``."""
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(raw), strict=False)
    except Exception as error:  # pypdf raises many kinds on a damaged file; each means the same
        raise ExtractionError(f"it is not a readable PDF ({error}); open and re-save it to repair it") from error
    if not reader.is_encrypted:
        return reader
    try:
        opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception:  # an encryption pypdf cannot undo without the optional cryptography package
        opened = False
    if not opened:
        raise ExtractionError("it is password-protected; save a copy without the password to index it")
    return reader


def _page_texts(reader, name: str) -> list[str]:
    """Each page's text, "" for a page pypdf cannot read; ``ExtractionError`` when the page
    tree itself is damaged or no page can be read."""
    texts: list[str] = []
    total = failed = 0
    try:
        pages = list(reader.pages)
    except Exception as error:
        raise ExtractionError(f"it is not a readable PDF ({error}); open and re-save it to repair it") from error
    for number, page in enumerate(pages, 1):
        try:
            text = _page_text(page)
        except Exception:  # one damaged page: the others are still worth indexing
            text, failed = "", failed + 1
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace(PAGE_BREAK, "\n")
        total += len(text)
        if total > MAX_PDF_TEXT_CHARS:
            logger.warning(
                "%s: pages %d-%d left out: its text runs past %d MB; split it to index all of it",
                name,
                number,
                len(pages),
                MAX_PDF_TEXT_CHARS >> 20,
            )
            break
        texts.append(text)
    if pages and failed == len(pages):
        raise ExtractionError("none of its pages could be read; open and re-save it to repair it")
    return texts


def _page_text(page) -> str:
    """The page's text as pypdf extracts it, with a blank line where the gap between two lines
    is well over the page's usual line spacing (a new paragraph, as a text file would have it)."""
    pieces: list[tuple[str, float]] = []

    def visit(text, cm, tm, font, size) -> None:
        if text:
            pieces.append((text, tm[4] * cm[1] + tm[5] * cm[3] + cm[5]))  # the height on the page

    plain = page.extract_text(visitor_text=visit) or ""
    if "".join(text for text, _ in pieces) != plain:  # an extraction the visitor does not mirror
        return plain
    return _with_paragraph_breaks(pieces)


def _with_paragraph_breaks(pieces: list[tuple[str, float]]) -> str:
    """The pieces' text with each line break read from the drop to the next line: a wrap within
    a paragraph (the usual spacing) becomes ``WRAP``, a wider gap a blank line; a move up the
    page (the next column, a header drawn after the body) stays a line break."""
    new_lines = [(i, pieces[i - 1][1] - pieces[i][1]) for i in range(1, len(pieces)) if pieces[i - 1][0].endswith("\n")]
    drops = sorted(drop for _, drop in new_lines if drop > 0)
    if not drops:
        return "".join(text for text, _ in pieces)
    usual = drops[(len(drops) - 1) // 2]  # the lower median: a page of few lines has few gaps
    texts = [text for text, _ in pieces]
    for i, drop in new_lines:
        if drop > PARAGRAPH_GAP * usual:
            texts[i - 1] += "\n"
        elif drop > 0:
            texts[i - 1] = texts[i - 1][:-1] + WRAP
    return "".join(texts)


def _metadata(reader) -> tuple[str | None, str | None, str | None]:
    """(title, author, creation date) from the document information, where it has them."""
    try:
        info = reader.metadata
        if info is None:
            return None, None, None
        title, author = (metadata_text(value) for value in (info.title, info.author))
        created = info.creation_date
    except Exception:  # a malformed date or info dictionary: the text is still worth having
        return None, None, None
    return title, author, created.date().isoformat() if created else None


def _joined_words(page: str) -> str:
    """Words hyphenated across a line break joined, the whole word on the first line, so the
    number of lines is unchanged."""
    return _BROKEN_WORD_RE.sub(_join_if_lower, page)


def _join_if_lower(broken: re.Match) -> str:
    head, line_break, tail = broken.groups()
    return f"{head}{tail}{line_break}" if tail[0].islower() else broken.group()


def without_running_lines(pages: list[str]) -> list[str]:
    """``pages`` without their running headers and footers."""
    if len(pages) < MIN_PAGES_FOR_RUNNING_LINES:
        return pages
    split = [page.split("\n") for page in pages]
    seen_on: Counter[str] = Counter()
    for lines in split:
        seen_on.update({_running_key(lines[i]) for i in _edge_lines(lines)})
    running = {key for key, count in seen_on.items() if count * 2 > len(pages) and count >= MIN_PAGES_FOR_RUNNING_LINES}
    if not running:
        return pages
    kept = []
    for lines in split:
        edges = {i for i in _edge_lines(lines) if _running_key(lines[i]) in running}
        kept.append("\n".join(line for i, line in enumerate(lines) if i not in edges).strip("\n"))
    return kept


def _edge_lines(lines: list[str]) -> list[int]:
    """Indexes of the first and last ``EDGE_LINES`` lines with text."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:]))


def _running_key(line: str) -> str:
    """A line as running headers compare: spacing and case ignored, any page number alike."""
    return _FIGURES_RE.sub("#", " ".join(line.split()).casefold())
