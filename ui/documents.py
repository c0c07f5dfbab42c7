"""The Documents tab's reader: one indexed document's text, with a cited passage highlighted.

What is shown is the text the index keeps, the one citations quote and count lines in: a
plain-text file as it is, a web page's or Word file's extracted text, a PDF's text layer page
by page. So the line numbers beside the text are the ones a citation names; a PDF's are
counted within each page among the lines with text, as ``rag.answer.citations`` counts them,
and a paragraph's gap is shown as a gap without a number.

A visitor opens a document from the list, or from an "open in document" link in the sources
panel. The link sends only a short name for the passage (``render.open_ref``: ``c2`` for the
citation marked [2]); the passage, its file and offsets are looked up in the visitor's own
conversation on the server, so a crafted request can open only what the visitor's answer cites
or a file the list offers. The passage is found by its offsets, checked against its quote, and
failing that by its text; when the file changed so much that neither holds, the document opens
with a note instead of a wrong highlight.

Server-rendered and escaped like every other panel (``render.text``): a document holding
``<script>`` shows those characters. A very long document is shown as a window of
``MAX_SHOWN_CHARS`` around the passage (or from its start), whole lines, so a browser is never
handed a book to lay out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import gradio as gr

from rag.ingest.pdf import PAGE_BREAK, PDF_SUFFIX, WRAP
from rag.records import one_line

from . import render
from .chat import ChatApp, Conversation

MAX_SHOWN_CHARS = 200_000
_LINE_RE = re.compile(f"[\n{WRAP}]")

# Runs in the page: a click on an "open in document" link in the sources panel becomes the
# panel's click event, carrying only the link's passage name.
SOURCES_JS = f"""
element.addEventListener('click', (event) => {{
  const link = event.target.closest('a.{render.OPEN_LINK_CLASS}');
  if (!link) return;
  event.preventDefault();
  trigger('click', {{ref: link.dataset.ref}});
}});
"""

# Scrolls the highlighted passage into view once it is on screen (the tab may still be
# switching when the view is drawn, so it tries again for a second or so).
VIEW_JS = """
const show = (tries) => {
  const mark = element.querySelector('mark.cited');
  if (!mark) return;
  if (mark.offsetParent === null) { if (tries > 0) setTimeout(() => show(tries - 1), 50); return; }
  mark.scrollIntoView({block: 'center'});
};
watch('value', () => show(40));
show(40);
"""


@dataclass(frozen=True)
class Span:
    """Where a passage is in its document's text: characters ``start`` to ``end``."""

    start: int
    end: int


def locate(document: str, start: int, end: int, quote: str) -> Span | None:
    """The passage quoting ``quote`` at ``start``-``end`` in ``document``; found by its text when
    the offsets no longer hold it; None when the document no longer has it."""
    if 0 <= start < end <= len(document) and one_line(document[start:end]) == one_line(quote):
        return Span(start, end)
    found = document.find(quote) if quote else -1
    return Span(found, found + len(quote)) if found >= 0 else None


def document_view(
    name: str,
    document: str | None,
    *,
    title: str | None = None,
    byline: str | None = None,
    span: Span | None = None,
    note: str = "",
) -> str:
    """The whole of ``document`` (the indexed text of the file ``name``) with numbered lines, a
    PDF's page by page, and ``span`` highlighted."""
    if document is None:
        return _empty(f"{name} is not in the index any more; choose another document.")
    pdf = name.lower().endswith(PDF_SUFFIX)
    window = _window(document, span)
    notes = [note] if note else []
    if window != (0, len(document)):
        notes.append(
            f"Showing characters {window[0] + 1:,}–{window[1]:,} of {len(document):,}"
            f"{' around the passage' if span else ''}; the rest is left out to keep the page light."
        )
    body = _pdf_pages(document, span, window) if pdf else _text_lines(document, span, window)
    heading = f'<div class="source-title">{render.text(title)}</div>' if title else ""
    below = f'<div class="source-byline">{render.text(byline)}</div>' if byline else ""
    remarks = "".join(f'<div class="doc-note">{render.text(n)}</div>' for n in notes)
    return (
        f'<div class="document-view">{heading}<div class="source-name">{render.text(name)}</div>{below}'
        f'{remarks}<div class="doc-text">{body}</div></div>'
    )


def _empty(message: str) -> str:
    return f'<div class="document-view"><div class="sources-empty">{render.text(message)}</div></div>'


def _window(document: str, span: Span | None) -> tuple[int, int]:
    """The characters shown: all, or ``MAX_SHOWN_CHARS`` around the passage widened to whole lines."""
    length = len(document)
    if length <= MAX_SHOWN_CHARS:
        return 0, length
    centre = (span.start + span.end) // 2 if span else MAX_SHOWN_CHARS // 2
    start = max(0, min(centre - MAX_SHOWN_CHARS // 2, length - MAX_SHOWN_CHARS))
    end = document.find("\n", start + MAX_SHOWN_CHARS)
    return document.rfind("\n", 0, start) + 1, length if end < 0 else end


def _lines(document: str, breaks: re.Pattern) -> list[tuple[int, int]]:
    """(start, end) of each line, its break left out."""
    lines, position = [], 0
    for match in breaks.finditer(document):
        lines.append((position, match.start()))
        position = match.end()
    if position < len(document):
        lines.append((position, len(document)))
    return lines


def _text_lines(document: str, span: Span | None, window: tuple[int, int]) -> str:
    """Every line numbered, blank ones too: a text file's lines are counted so."""
    rows = [
        _line(document, number, start, end, span)
        for number, (start, end) in enumerate(_lines(document, re.compile("\n")), 1)
        if end >= window[0] and start <= window[1]
    ]
    return "".join(rows)


def _pdf_pages(document: str, span: Span | None, window: tuple[int, int]) -> str:
    """Each page under its number, its lines with text numbered from 1."""
    pages, offset = [], 0
    for page_number, page in enumerate(document.split(PAGE_BREAK), 1):
        rows, number = [], 0
        for start, end in _lines(page, _LINE_RE):
            has_text = bool(page[start:end].strip())
            number += has_text
            if offset + end < window[0] or offset + start > window[1]:
                continue
            rows.append(_line(document, number if has_text else None, offset + start, offset + end, span))
        if rows:
            pages.append(
                f'<section class="doc-page"><div class="page-number">Page {page_number}</div>{"".join(rows)}</section>'
            )
        offset += len(page) + len(PAGE_BREAK)
    return "".join(pages)


def _line(document: str, number: int | None, start: int, end: int, span: Span | None) -> str:
    """One line, the part of it inside ``span`` marked."""
    content = document[start:end]
    if span is not None and span.start < end and start < span.end:
        cut_from, cut_to = max(span.start, start) - start, min(span.end, end) - start
        content_html = (
            f'{render.text(content[:cut_from])}<mark class="cited">{render.text(content[cut_from:cut_to])}</mark>'
            f"{render.text(content[cut_to:])}"
        )
    else:
        content_html = render.text(content)
    label = "" if number is None else str(number)
    return f'<div class="doc-line"><span class="ln">{label}</span><span class="lt">{content_html}</span></div>'


class DocumentReader:
    """The handlers of the Documents tab's reader, over a ``ChatApp``'s bot."""

    def __init__(self, app: ChatApp) -> None:
        self.app = app

    def choices(self) -> list[tuple[str, str]]:
        """The indexed documents as (label, file name): the title first where there is one."""
        named = []
        for name in self.app.bot.chunk_counts:
            title = self.app.title(name)
            named.append((f"{title} ({name})" if title else name, name))
        return named

    def open(self, name: str | None) -> str:
        """The document ``name`` chosen from the list, from its top."""
        if not name:
            return placeholder()
        with self.app.lock.reading():
            if name not in self.app.bot.chunk_counts:
                return _empty(f"{name} is not an indexed document; choose one from the list.")
            return self._view(name)

    def open_cited(self, conversation: Conversation | None, event: gr.EventData):
        """The document holding the passage an "open in document" link names, that passage
        highlighted; returns (view, the list's choice, the tab to show)."""
        answer = conversation.latest if conversation else None
        passage = _passage(answer, _ref_of(event))
        if passage is None:
            view = _empty("That passage belongs to an earlier answer; ask again to open its sources.")
            return view, gr.skip(), gr.Tabs(selected="documents")
        source, start, end, quote = passage
        with self.app.lock.reading():
            document = self.app.bot.index.document_text(source)
            span = locate(document, start, end, quote) if document else None
            note = (
                "" if span or document is None else "The document changed since the answer: the passage is not in it."
            )
            view = self._view(source, document, span, note)
        return view, gr.update(value=source), gr.Tabs(selected="documents")

    def _view(self, name: str, document: str | None = None, span: Span | None = None, note: str = "") -> str:
        if document is None:
            document = self.app.bot.index.document_text(name)
        return document_view(
            name, document, title=self.app.title(name), byline=self.app.byline(name), span=span, note=note
        )


def _ref_of(event: gr.EventData | None) -> str:
    """The passage name a link sent with its click; "" for a click that sent none."""
    try:
        return str(event.ref) if event is not None else ""
    except (AttributeError, TypeError):  # no data at all, or no ``ref`` in it
        return ""


def placeholder() -> str:
    return _empty("Choose a document to read it, or click “open in document” beside a source in the chat.")


def _passage(answer, ref: str) -> tuple[str, int, int, str] | None:
    """(file, start, end, quote) of the passage ``ref`` names in ``answer`` (``render.open_ref``)."""
    match = re.fullmatch(r"([cnh])(\d{1,4})", ref)
    if answer is None or match is None:
        return None
    kind, number = match.group(1), int(match.group(2))
    if kind == "c":
        found = next((c for c in answer.citations if c.marker == number), None)
    elif kind == "n":
        found = answer.closest
    else:
        hit = answer.hits[number] if number < len(answer.hits) else None
        return (hit.source, hit.chunk.start_char, hit.chunk.end_char, hit.text) if hit else None
    if found is None:
        return None
    return found.source, found.start_char, found.end_char, found.quote
