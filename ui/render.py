"""HTML for the chat page, built from ``Answer`` records and document text.

Everything that comes from a document, an answer or a person is escaped here with
``text()``, before any markup is added around it: an article holding ``<script>`` or
``<img onerror>`` must show as text, never run. ``text()`` also encodes ``$``, ``{``, ``}`` and
backticks, so text can never be read as a template expression by the page, and the callers
keep each message on one line, so the chat's markdown renderer passes the markup through as
one HTML block instead of re-interpreting the text inside it.

Pure functions of their inputs, so they are tested without starting a server.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence

from rag.answer.citations import passage_on_its_page
from rag.ingest.pdf import WRAP
from rag.records import Answer, Citation, Hit, in_quotes, line_span, one_line, titled

CONTEXT_CHARS = 220
_BLANK_LINES_RE = re.compile(r"[ \t\xa0]*\n\s*")
_MARKER_RE = re.compile(r"\[(\d+)\]")
_DATE_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d")
_TEMPLATE_CHARS = str.maketrans({"$": "&#36;", "{": "&#123;", "}": "&#125;", "`": "&#96;"})


def text(value: str) -> str:
    """``value`` as inert HTML text."""
    return html.escape(value, quote=True).translate(_TEMPLATE_CHARS)


def lines_label(start_line: int, end_line: int) -> str:
    return line_span(start_line, end_line, dash="–")


def ranges_label(spans: Sequence[tuple[int, int]]) -> str:
    """``[(21, 23), (11, 11)]`` as ``lines 11, 21–23``: in the file's order, as a reader looks
    them up, whatever order the answer cites them in."""
    unique = sorted(set(spans))
    if len(unique) == 1:
        return lines_label(*unique[0])
    return "lines " + ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in unique)


def _inline(value: str) -> str:
    """Escaped text with its line breaks kept as ``<br>``, on one source line. A PDF's wraps
    within a paragraph (``WRAP``) read as spaces: a browser draws that character as nothing."""
    return "<br>".join(text(line.replace(WRAP, " ")) for line in value.split("\n"))


# -- chat messages --------------------------------------------------------------------------


SHOWN_QUESTION_CHARS = 600


def user_message(question: str) -> str:
    """The question as asked; a very long one is shown cut, with its length."""
    if len(question) > SHOWN_QUESTION_CHARS:
        cut = question[:SHOWN_QUESTION_CHARS].rsplit(" ", 1)[0]
        return (
            f'<div class="msg user-msg">{_inline(cut)}… <span class="note">({len(question):,} characters)</span></div>'
        )
    return f'<div class="msg user-msg">{_inline(question)}</div>'


def pending_message(partial: str = "") -> str:
    """An answer while it is being written."""
    body = _inline(partial) if partial else '<span class="searching">Searching the documents…</span>'
    return f'<div class="msg answer streaming">{body}<span class="cursor">▍</span></div>'


def answer_message(answer: Answer, *, linked: bool = True, title: Callable[[str], str | None] | None = None) -> str:
    """The final answer: markers become labelled links to their source, abstentions say so.
    A marker's label names its file, with the file's title when ``title`` gives one.

    Only the latest answer's sources are on the page, so an earlier answer is drawn with
    ``linked=False``: its markers keep their label (file, lines, quote) but link nowhere,
    rather than to the newer answer's passage of the same number."""
    read_as = _read_as(answer)
    if answer.abstained:
        note = ""
        if answer.closest is not None and linked:  # only the latest answer's sources are shown
            note = '<div class="note">The sentence that came nearest is in the sources panel, not cited.</div>'
        return (
            '<div class="msg answer abstained"><span class="tag">No answer in the documents</span>'
            f"{_inline(answer.text)}{read_as}{note}</div>"
        )
    by_marker = {c.marker: c for c in answer.citations}
    pieces = []
    position = 0
    for match in _MARKER_RE.finditer(answer.text):
        pieces.append(_inline(answer.text[position : match.start()]))
        citation = by_marker.get(int(match.group(1)))
        named = title(citation.source) if citation and title else None
        pieces.append(_marker(citation, linked, named) if citation else text(match.group(0)))
        position = match.end()
    pieces.append(_inline(answer.text[position:]))
    note = ""
    if answer.fallback_reason:
        note = f'<div class="note">{text(answer.fallback_reason)}</div>'
    return f'<div class="msg answer">{"".join(pieces)}{read_as}{note}</div>'


def _read_as(answer: Answer) -> str:
    """How a follow-up was read ("he" taken as a name), so a wrong reading is seen, not hidden."""
    if not answer.understood_as:
        return ""
    return f'<div class="note">Read as: “{text(answer.understood_as)}”</div>'


def _marker(citation: Citation, linked: bool = True, named: str | None = None) -> str:
    """``[1] 003_58ec.txt “Kadyrov shifts stance…”, line 21: “quote”``, as ``rag ask`` names it."""
    where = f"{titled(citation.source, named)}, {_place(citation)}"
    title = f"[{citation.marker}] {where}: {in_quotes(citation.quote)}"
    if not linked:
        return f'<span class="cite" title="{text(title)}">[{citation.marker}]</span>'
    return f'<a class="cite" href="#source-{citation.marker}" title="{text(title)}">[{citation.marker}]</a>'


def error_message(message: str) -> str:
    return f'<div class="msg error"><span class="tag">Could not answer</span>{_inline(message)}</div>'


# -- sources panel ----------------------------------------------------------------------------


def sources_placeholder(message: str = "Ask a question; the passages its answer cites appear here.") -> str:
    return f'<div class="sources"><div class="sources-empty">{text(message)}</div></div>'


def sources_panel(
    answer: Answer,
    document_text: Callable[[str], str | None],
    title: Callable[[str], str | None] | None = None,
    byline: Callable[[str], str | None] | None = None,
) -> str:
    """Each cited file with its title (when ``title`` gives one: hashed file names say nothing
    to a reader), its author and date (when ``byline`` gives them) and line ranges, and each
    quote highlighted in its surroundings, with a link that opens it in the Documents tab
    (``OPEN_LINK_CLASS``, its ``data-ref`` naming the citation as ``open_ref`` does)."""
    if answer.abstained or not answer.citations:
        return _closest_passages(answer.hits[:3], answer.closest, document_text, title, byline)
    by_source: dict[str, list[Citation]] = {}
    for citation in answer.citations:
        by_source.setdefault(citation.source, []).append(citation)
    blocks = []
    for source, citations in by_source.items():
        document = document_text(source)
        ranges = _ranges(citations)
        passages = "".join(_cited_passage(c, document) for c in citations)
        heading = _titled_name(source, title(source) if title else None, byline(source) if byline else None)
        blocks.append(
            f'<section class="source-file">{heading}<div class="source-lines">{text(ranges)}</div>{passages}</section>'
        )
    backend = f'<div class="backend">Answer written by: {text(answer.backend)}</div>'
    return f'<div class="sources"><div class="sources-title">Sources</div>{"".join(blocks)}{backend}</div>'


def _place(citation: Citation) -> str:
    """``lines 4–6``, or ``page 2, lines 4–6`` for a PDF (lines counted within the page)."""
    lines = lines_label(citation.start_line, citation.end_line)
    return lines if citation.page is None else f"page {citation.page}, {lines}"


def _ranges(citations: list[Citation]) -> str:
    """The line ranges of one file's citations; for a PDF, "page 2, lines 4–6; page 3, line 1"."""
    if all(c.page is None for c in citations):
        return ranges_label([(c.start_line, c.end_line) for c in citations])
    return "; ".join(dict.fromkeys(_place(c) for c in citations))


def _titled_name(name: str, title: str | None, byline: str | None = None) -> str:
    """A file's name, with its title (if any) above it and its author and date (if any) below."""
    heading = f'<div class="source-title">{text(title)}</div>' if title else ""
    below = f'<div class="source-byline">{text(byline)}</div>' if byline else ""
    return f'{heading}<div class="source-name">{text(name)}</div>{below}'


def byline(author: str | None, date: str | None) -> str | None:
    """``by Ann Lee · 2024-03-05``: what a file says of its author and date, None if nothing.
    A date with a time of day (a PDF's creation time) is shown as its day."""
    day = date[:10] if date and _DATE_TIME_RE.match(date) else date
    parts = [f"by {author}" if author else "", day or ""]
    return " · ".join(p for p in parts if p) or None


OPEN_LINK_CLASS = "open-doc"


def open_ref(kind: str, number: int = 0) -> str:
    """How an "open in document" link names its passage to the page: ``c2`` for the citation
    marked [2], ``n0`` for the sentence that came nearest, ``h1`` for the second closest passage.
    Only these names travel from the browser; the passage itself is looked up on the server."""
    return f"{kind}{number}"


def _open_link(ref: str) -> str:
    return f'<a class="{OPEN_LINK_CLASS}" href="#documents" data-ref="{text(ref)}">open in document</a>'


def _cited_passage(citation: Citation, document: str | None) -> str:
    return (
        f'<div class="passage" id="source-{citation.marker}"><span class="badge">[{citation.marker}]</span>'
        f'<span class="passage-lines">{text(_place(citation))}</span> {_open_link(open_ref("c", citation.marker))}'
        f"{_marked_text(citation, document)}</div>"
    )


def _marked_text(citation: Citation, document: str | None) -> str:
    before, quote, after = passage_in_context(citation, document)
    return (
        f'<div class="passage-text">{_inline(_tidy(before))}<mark>{_inline(quote)}</mark>{_inline(_tidy(after))}</div>'
    )


def passage_in_context(citation: Citation, document: str | None, context: int = CONTEXT_CHARS) -> tuple[str, str, str]:
    """(text before, the quote as the document has it, text after), trimmed at word boundaries.

    Falls back to finding the quote in the document, and then to the quote alone, when the
    character offsets do not match the document (it changed since the answer was written).
    """
    if not document:
        return "", citation.quote, ""
    start, end = citation.start_char, citation.end_char
    if not (0 <= start < end <= len(document)) or one_line(document[start:end]) != one_line(citation.quote):
        start = document.find(citation.quote)
        if start < 0:
            return "", citation.quote, ""
        end = start + len(citation.quote)
    before = document[max(0, start - context) : start]
    after = document[end : end + context]
    if start - context > 0:
        before = "…" + before[_first_break(before) :]
    if end + context < len(document):
        after = after[: _last_break(after)] + "…"
    return before, document[start:end], after


def _tidy(context: str) -> str:
    """Surrounding text with blank lines folded into one break, to keep the panel compact."""
    return _BLANK_LINES_RE.sub("\n", context)


def _first_break(value: str) -> int:
    found = re.search(r"\s", value)
    return found.end() if found else 0


def _last_break(value: str) -> int:
    spaces = [m.start() for m in re.finditer(r"\s", value)]
    return spaces[-1] if spaces else len(value)


def _closest_passages(
    hits: Sequence[Hit],
    closest: Citation | None,
    document_text: Callable[[str], str | None],
    title: Callable[[str], str | None] | None,
    byline: Callable[[str], str | None] | None = None,
) -> str:
    intro = "No passage supports an answer, so nothing is cited."
    if not hits:
        return sources_placeholder(intro)
    nearest = ""
    if closest is not None:
        body = _marked_text(closest, document_text(closest.source))
        nearest_title = title(closest.source) if title else None
        nearest = (
            '<div class="sources-empty">The sentence that came nearest, judged not to answer the question:</div>'
            f"{_closest_passage(closest, body, nearest_title, 'nearest', open_ref('n'))}"
        )
    titled: set[str] = set()

    def named(source: str) -> str | None:
        """The file's title above its first passage in the list, not again above each one."""
        found = title(source) if title and source not in titled else None
        titled.add(source)
        return found

    items = "".join(
        _closest_passage(
            passage_on_its_page(hit, document_text),
            f'<div class="passage-text">{_inline(_tidy(_excerpt(hit.text)))}</div>',
            named(hit.source),
            ref=open_ref("h", number),
        )
        for number, hit in enumerate(hits)
    )
    return (
        f'<div class="sources"><div class="sources-title">Sources</div><div class="sources-empty">{text(intro)}</div>'
        f'{nearest}<div class="sources-empty">The closest passages searched were:</div>{items}</div>'
    )


def _closest_passage(
    span: Citation, body: str, title: str | None = None, kind: str = "", ref: str | None = None
) -> str:
    """A passage shown under a refusal: its file's title (if given), file and place (a PDF
    sentence's page too), a link opening it when ``ref`` names it, then ``body`` (its text)."""
    classes = f"passage closest {kind}".rstrip()
    heading = f'<div class="source-title">{text(title)}</div>' if title else ""
    place = _place(span)
    link = f" {_open_link(ref)}" if ref else ""
    return (
        f'<div class="{classes}">{heading}<span class="source-name">{text(span.source)}</span> '
        f'<span class="passage-lines">{text(place)}</span>{link}{body}</div>'
    )


def _excerpt(value: str, limit: int = 300) -> str:
    value = value.strip()
    return value if len(value) <= limit else value[: _last_break(value[:limit])] + "…"


# -- documents and status -------------------------------------------------------------------


def documents_table(
    counts: Mapping[str, int],
    title: Callable[[str], str | None] | None = None,
    byline: Callable[[str], str | None] | None = None,
) -> str:
    """The indexed files with their chunk counts, each file's title (when ``title`` gives one)
    above its name and its author and date (when ``byline`` gives them) below, as in the
    sources panel."""
    if not counts:
        return '<div class="documents"><div class="sources-empty">No documents are indexed.</div></div>'
    rows = "".join(
        f'<tr><td class="doc-name">{_titled_name(name, title(name) if title else None, byline(name) if byline else None)}</td>'
        f'<td class="num">{count}</td></tr>'
        for name, count in counts.items()
    )
    total = sum(counts.values())
    return (
        '<div class="documents"><table><thead><tr><th>Document</th><th class="num">Chunks</th></tr></thead>'
        f"<tbody>{rows}</tbody><tfoot><tr><td>{len(counts)} documents</td>"
        f'<td class="num">{total}</td></tr></tfoot></table></div>'
    )


def checks_table(checks: Sequence) -> str:
    """``rag.doctor`` checks (name, ok, detail) as a table."""
    rows = "".join(
        f'<tr class="{"ok" if c.ok else "bad"}"><td>{"✓" if c.ok else "✗"}</td>'
        f"<td>{text(c.name)}</td><td>{text(c.detail)}</td></tr>"
        for c in checks
    )
    return f'<div class="checks"><table><tbody>{rows}</tbody></table></div>'


def status_line(parts: Sequence[str]) -> str:
    return f'<div class="status-line">{" · ".join(text(p) for p in parts)}</div>'


def notice(message: str, *, ok: bool = True) -> str:
    return f'<div class="notice {"ok" if ok else "bad"}">{_inline(message)}</div>'


_PATH_RE = re.compile(r"(?:[A-Za-z]:)?(?:~|\.{1,2})?[\\/]?(?:[^\s\\/,;()]+[\\/])+(?=[^\s\\/,;()])")


def without_paths(value: str) -> str:
    """``value`` with each file path cut to its last part (``/srv/models/mini`` -> ``mini``),
    for visitors who should see what runs but not where the server keeps it."""
    return _PATH_RE.sub("", value)


def upload_formats(limits: Mapping[str, int]) -> str:
    """``{".md": 2 MB, ".txt": 2 MB, ".pdf": 20 MB}`` as ".md or .txt up to 2 MB, .pdf up to
    20 MB": the formats a visitor may upload, with each one's size limit, smallest first."""
    by_limit: dict[int, list[str]] = {}
    for suffix, limit in limits.items():
        by_limit.setdefault(limit, []).append(suffix)
    return "; ".join(f"{suffix_list(by_limit[limit])} up to {size_label(limit)}" for limit in sorted(by_limit))


def size_label(count: int) -> str:
    """A size as a visitor reads it: ``2 MB``, ``1.5 MB``, ``300 KB``."""
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f}".removesuffix(".0") + " MB"
    return f"{max(1, round(count / 1024))} KB"


def suffix_list(suffixes) -> str:
    """``{".md", ".txt"}`` as ".md or .txt" (".a, .b or .c" for more)."""
    ordered = sorted(suffixes)
    return ordered[0] if len(ordered) == 1 else f"{', '.join(ordered[:-1])} or {ordered[-1]}"
