"""Cutting documents into overlapping, sentence-aligned chunks of bounded token length.

A chunk is whole sentences, as many as fit in ``max_tokens``; the next chunk starts with the
last sentences of the previous one, up to ``overlap_tokens``, so a fact that straddles a
boundary is whole in at least one chunk. A chunk also ends early at a paragraph break once it
is half full, so passages do not mix unrelated paragraphs needlessly. A paragraph break is a
blank line, or any line break in a text whose lines are paragraphs (saved from a web page or a
word processor, not wrapped at a width: see ``lines_are_paragraphs``). A single sentence longer
than ``max_tokens`` is cut at word boundaries. Every chunk records its character span (its
text is exactly ``document.text[start:end]``) and its 1-based, inclusive line span.

Lines of site chrome (``rag.ingest.boilerplate``: "Skip to content", "READ MORE: ...") are in
no chunk: sentences are found in the text with those lines blanked out, and a chunk never
reaches across one (nor does the overlap carry a chunk back across it). Blanking keeps every
offset, so line numbers are still the file's own. A chunk
ends at a form feed, which marks a page break (a PDF's text, ``rag.ingest.pdf``), so that a
citation names one page; only a sentence that runs over the break is kept whole.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from rag.ingest.boilerplate import chrome_spans, masked
from rag.ingest.pdf import PAGE_BREAK
from rag.ingest.sentences import Span, split_sentences
from rag.ingest.tokens import TokenCounter
from rag.records import Chunk, Document

_WORD_END_RE = re.compile(r"\S+")
_NEWLINE_RE = re.compile("\n")


@dataclass(frozen=True)
class ChunkerSettings:
    # In cl100k_base tokens. The size the composer and the fusion were tuned with: 256 and 48
    # in the approximation that counted before tiktoken's file was at hand, which reads about
    # a fifth more tokens than cl100k_base on prose (1.19 on ClapNQ, 1.28 on the seeds).
    max_tokens: int = 212
    overlap_tokens: int = 40

    def __post_init__(self) -> None:
        if self.max_tokens < 8 or not 0 <= self.overlap_tokens < self.max_tokens:
            raise ValueError("need max_tokens >= 8 and 0 <= overlap_tokens < max_tokens")


class LineIndex:
    """Maps character offsets of one text to 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [match.end() for match in _NEWLINE_RE.finditer(text)]

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Lines of ``text[start:end]``, inclusive (the last character decides the end line)."""
        return self.line_of(start), self.line_of(max(start, end - 1))


def chunk_document(document: Document, counter: TokenCounter, settings: ChunkerSettings) -> list[Chunk]:
    """The document's chunks in order; ``Chunk.id`` is the ordinal within the document."""
    text = document.text
    chrome = chrome_spans(text)
    chrome_starts = [start for start, _ in chrome]
    searched = masked(text, chrome)
    pieces = [
        (span, count if count is not None and searched is text else counter.count(text[span.start : span.end]))
        for span, count in _bounded_sentences(searched, counter, settings)
    ]
    lines = LineIndex(text)
    breaks = "\n" if lines_are_paragraphs(text) else "\n\n"
    chunks: list[Chunk] = []
    i = 0
    while i < len(pieces):
        j, total, walled = i, 0, False
        while j < len(pieces) and (j == i or total + pieces[j][1] <= settings.max_tokens):
            if j > i and _chrome_between(chrome_starts, pieces[j - 1][0], pieces[j][0]):
                walled = True
                break
            if (
                j > i
                and total * 2 >= settings.max_tokens
                and _paragraph_break(text, pieces[j - 1][0], pieces[j][0], breaks)
            ):
                break
            if j > i and _page_break(text, pieces[j - 1][0], pieces[j][0]):
                break
            total += pieces[j][1]
            j += 1
        start, end = pieces[i][0].start, pieces[j - 1][0].end
        first_line, last_line = lines.span(start, end)
        chunks.append(Chunk(len(chunks), document.id, text[start:end], start, end, first_line, last_line))
        if j >= len(pieces):
            break
        # no overlap back across a chrome line, nor into a new page: the next chunk would cross it
        walled = walled or _page_break(text, pieces[j - 1][0], pieces[j][0])
        i = j if walled else _overlap_start(pieces, i, j, settings.overlap_tokens, chrome_starts)
    return chunks


def _chrome_between(chrome_starts: list[int], before: Span, after: Span) -> bool:
    """Whether a chrome line starts between the two sentences."""
    k = bisect.bisect_left(chrome_starts, before.end)
    return k < len(chrome_starts) and chrome_starts[k] < after.start


def _overlap_start(
    pieces: list[tuple[Span, int]], i: int, j: int, overlap_tokens: int, chrome_starts: list[int]
) -> int:
    """Index of the first sentence of the next chunk: back from ``j`` while within the overlap
    (and not back across a chrome line)."""
    k, total = j, 0
    while k - 1 > i and total + pieces[k - 1][1] <= overlap_tokens:
        if k < len(pieces) and _chrome_between(chrome_starts, pieces[k - 1][0], pieces[k][0]):
            break
        total += pieces[k - 1][1]
        k -= 1
    return k


# Text wrapped at a width has no line longer than about 80 characters (a PDF's column, e-mail,
# a plain-text book); a line this long is a paragraph that was never wrapped.
UNWRAPPED_LINE_CHARS = 120


def lines_are_paragraphs(text: str) -> bool:
    """Whether each line break ends a paragraph: most lines with text are longer than a wrapped
    line can be (the seeds' 004 runs its paragraphs together this way, one to a line)."""
    lengths = [len(line) for line in text.splitlines() if line.strip()]
    return bool(lengths) and 2 * sum(length >= UNWRAPPED_LINE_CHARS for length in lengths) > len(lengths)


def _paragraph_break(text: str, before: Span, after: Span, breaks: str) -> bool:
    return breaks in text[before.end : after.start]


def _page_break(text: str, before: Span, after: Span) -> bool:
    """Whether a page ends after ``before`` and before ``after`` (or inside ``before``, a sentence
    that runs over onto the next page: it stays whole, and ends its chunk)."""
    return PAGE_BREAK in text[before.start : after.start]


def _bounded_sentences(text: str, counter: TokenCounter, settings: ChunkerSettings) -> list[tuple[Span, int | None]]:
    """Sentences no longer than ``max_tokens``, each with its token count (counting is most of
    chunking's time, so a sentence is counted once), or None for a piece of a long sentence,
    whose count is not known."""
    spans: list[tuple[Span, int | None]] = []
    for sentence in split_sentences(text):
        count = counter.count(text[sentence.start : sentence.end])
        if count <= settings.max_tokens:
            spans.append((sentence, count))
        else:
            spans.extend((piece, None) for piece in _split_long(text, sentence, counter, settings.max_tokens))
    return spans


def _split_long(text: str, sentence: Span, counter: TokenCounter, max_tokens: int) -> list[Span]:
    """Cut an over-long sentence at word boundaries into pieces of at most ``max_tokens``.

    Word counts are summed rather than re-counting the growing piece, which keeps this linear
    on a megabyte-long line; a word's own count is close to its count inside running text.
    """
    spans = []
    start = end = sentence.start
    total = 0
    for word in _WORD_END_RE.finditer(text, sentence.start, sentence.end):
        tokens = counter.count(word.group())
        if end > start and total + tokens > max_tokens:
            spans.append(Span(start, end))
            start, total = word.start(), 0
        total += tokens
        end = word.end()
    spans.append(Span(start, end))
    return spans
