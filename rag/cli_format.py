"""How an ``Answer`` reads in the terminal (``rag ask``, ``rag chat``): the text, then each
citation's file, title, page and lines with its quote, or, for a refusal, what came nearest.

Plain text for a person at a terminal; ``rag ask --json`` is the form for programs
(``answer_as_json``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from rag.answer.citations import passage_on_its_page
from rag.records import Citation, line_span, one_line, titled

CLOSEST = 3  # passages named under a refusal


Texts = Callable[[str], str | None]  # a document's indexed text by id (``Index.document_text``)


def format_answer(answer, title: Texts | None = None, document_text: Texts | None = None) -> str:
    """The answer, then each citation: its file (with the document's title, when ``title``
    gives one for it) and lines, and the quote indented below. A refusal shows the sentence
    that came nearest (if one came near) and names the closest passages searched, so a person
    can read them for themselves; with ``document_text``, a PDF's on its page."""
    return "\n".join([answer.text, *source_lines(answer, title, document_text)])


def answer_as_json(answer, document_text: Texts | None = None) -> dict:
    """``answer.to_dict()``, each retrieved passage of a PDF also located on its page: ``page``
    and the lines within it (``page_start_line``, ``page_end_line``), as its citations are;
    None for a passage of a format without pages, as a citation's ``page`` is. ``start_line``
    and ``end_line`` stay the lines of the whole extracted text."""
    data = answer.to_dict()
    for shown, located in zip(data["hits"], _on_their_pages(answer.hits, document_text), strict=True):
        paged = located.page is not None
        shown.update(
            page=located.page,
            page_start_line=located.start_line if paged else None,
            page_end_line=located.end_line if paged else None,
        )
    return data


def source_lines(answer, title: Texts | None = None, document_text: Texts | None = None) -> list[str]:
    mentioned: set[str] = set()

    def place(source: str, start_line: int, end_line: int, page: int | None = None) -> str:
        """``003_58ec.txt “Kadyrov shifts stance…”, line 21``: a hashed file name says nothing to
        a reader, so its title goes beside it, at the file's first mention only."""
        named = title(source) if title and source not in mentioned else None
        mentioned.add(source)
        on_page = f"page {page}, " if page is not None else ""
        return f"{titled(source, named)}, {on_page}{line_span(start_line, end_line)}"

    lines = []
    if answer.understood_as:
        lines.append(f"(read as: {answer.understood_as})")
    if answer.fallback_reason:
        lines.append(f"(note: {answer.fallback_reason})")
    for citation in answer.citations:
        attributed = " (attributed)" if citation.attributed else ""  # found for the model, not cited by it
        lines.append(
            f"[{citation.marker}] {place(citation.source, citation.start_line, citation.end_line, citation.page)}"
            + attributed
        )
        lines.append(f"    {one_line(citation.quote)}")
    if answer.closest:
        closest = answer.closest
        where = place(closest.source, closest.start_line, closest.end_line, closest.page)
        lines.append(f"Nearest sentence, judged not to answer it ({where}):")
        lines.append(f"    {one_line(answer.closest.quote)}")
    if answer.abstained and answer.hits:
        lines.append("Closest passages searched:")
        located = _on_their_pages(answer.hits[:CLOSEST], document_text)
        places = dict.fromkeys((p.source, p.start_line, p.end_line, p.page) for p in located)
        lines.extend(f"    {place(*where)}" for where in places)
    return lines


def _on_their_pages(hits, document_text: Texts | None) -> list[Citation]:
    """Each of ``hits`` located as a citation, a PDF's on its page (``passage_on_its_page``),
    each document's text read once, not once per passage."""
    read = functools.cache(document_text) if document_text else None
    return [passage_on_its_page(hit, read) for hit in hits]
