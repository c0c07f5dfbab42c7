"""The candidate sentences an answer is composed from: every distinct sentence of the retrieved
passages, with the terms of its neighbours and of its passage (``rag.answer.evidence`` weighs
them).

Retrieved chunks that overlap or abut in their document are read as one passage. Where the
chunker cut is then no sentence's business: the cut moves with a paragraph break, a page, a
file format or the chunk size, and a sentence at a chunk's edge would otherwise lose the
neighbour that says who is speaking or what "it" is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rag.answer.quotes import ends_like_a_sentence
from rag.ingest.pdf import PAGE_BREAK, PDF_SUFFIX
from rag.ingest.sentences import split_sentences
from rag.language.analysis import index_terms
from rag.records import Chunk, Hit

# The most of a paragraph read on from a page break (characters): about a chunk's worth.
CONTINUATION_CHARS = 1200

# Sentences, or chunks, this close in a document are contiguous: the white space between two
# sentences fits between them (a space, a line, paragraph or page break), not a line of the
# site chrome that the chunker leaves out of chunks.
MAX_GAP = 4  # characters


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved passage: ``span``, the sentence located in its source as a
    chunk is (its id the chunk it was cut from). ``hit_rank`` is the rank of the best retrieved
    chunk of its passage; ``context_terms`` are its neighbours' terms."""

    hit_rank: int
    span: Chunk
    terms: frozenset[str]
    context_terms: frozenset[str] = frozenset()
    passage_terms: frozenset[str] = frozenset()

    @property
    def source(self) -> str:
        return self.span.source

    @property
    def text(self) -> str:
        return self.span.text

    @property
    def start_char(self) -> int:
        return self.span.start_char

    @property
    def end_char(self) -> int:
        return self.span.end_char

    @property
    def start_line(self) -> int:
        return self.span.start_line

    @property
    def end_line(self) -> int:
        return self.span.end_line


def candidates_from_hits(hits: Sequence[Hit], limit: int) -> list[Candidate]:
    """The distinct sentences of the first ``limit`` hits (chunks overlap, sentences repeat).

    Retrieved chunks that overlap or abut in their document are read as one passage, ranked as
    the best of them: a sentence's neighbours and its passage are then the document's, not an
    accident of where the chunker cut. A chunk that opens with '…," said Major General
    Minnevaev.' follows the sentence that named him in full, and a paragraph break, a page or
    a file format that moves the cut moves no sentence's evidence."""
    sentences = _sentences_of(hits[:limit])
    out: list[Candidate] = []
    for source, start, end in _passages(hits[:limit]):
        members = _outermost([c for c in sentences if c.source == source and start <= c.start_char < end])
        if not members:  # chunks of white space only
            continue
        rank = min(c.hit_rank for c in members)
        passage_terms = frozenset().union(*(c.terms for c in members))
        for position, candidate in enumerate(members):
            neighbours = members[max(0, position - 1) : position] + members[position + 1 : position + 2]
            context = frozenset().union(*(n.terms for n in neighbours))
            out.append(replace(candidate, hit_rank=rank, context_terms=context, passage_terms=passage_terms))
    out.sort(key=lambda c: (c.hit_rank, c.start_char))
    return out


def _outermost(sentences: list[Candidate]) -> list[Candidate]:
    """``sentences`` in document order, less any that lies within another. A chunk that opens
    mid-paragraph may split a sentence the chunk before it holds whole: a short first line
    ("General Petrov said the troops were") reads as a heading there. The whole one stands."""
    out: list[Candidate] = []
    reached = -1  # the furthest end of a sentence kept so far
    for c in sorted(sentences, key=lambda c: (c.start_char, -c.end_char)):
        if c.end_char > reached:
            out.append(c)
            reached = c.end_char
    return out


def _sentences_of(hits: Sequence[Hit]) -> list[Candidate]:
    """Each distinct sentence of ``hits`` (as each chunk splits it), ranked by the first hit
    holding it, without context."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Candidate] = []
    for rank, hit in enumerate(hits):
        chunk = hit.chunk
        for span in split_sentences(chunk.text):
            start, end = chunk.start_char + span.start, chunk.start_char + span.end
            if (chunk.source, start, end) in seen:
                continue
            seen.add((chunk.source, start, end))
            text = chunk.text[span.start : span.end]
            first_line = chunk.start_line + chunk.text.count("\n", 0, span.start)
            last_line = first_line + text.count("\n")
            sentence = Chunk(chunk.id, chunk.source, text, start, end, first_line, last_line)
            out.append(Candidate(rank, sentence, frozenset(index_terms(text))))
    return out


def _passages(hits: Sequence[Hit]) -> list[tuple[str, int, int]]:
    """(source, start, end) of each run of retrieved chunks that overlap or abut."""
    runs: list[tuple[str, int, int]] = []
    for source, start, end in sorted((h.chunk.source, h.chunk.start_char, h.chunk.end_char) for h in hits):
        if runs and runs[-1][0] == source and start <= runs[-1][2] + MAX_GAP:
            runs[-1] = (source, runs[-1][1], max(runs[-1][2], end))
        else:
            runs.append((source, start, end))
    return runs


def page_continuations(hits: Sequence[Hit], document_text: Callable[[str], str | None]) -> list[Hit]:
    """For each of ``hits`` that a page of its PDF cut short, the rest of its paragraph on the
    next page, as a passage of its own (no retrieval ranks) that ``candidates_from_hits`` joins
    to it, and so to any retrieved chunk that it reaches. A PDF's chunks never cross a page, so
    a paragraph running over one is otherwise read in halves, and only the retrieved half
    counts: "... the predominantly Muslim republic to maintain a semblance of stability" without
    "This partnership ... let him cultivate a personality cult" after it. Only whole sentences
    are taken, up to the paragraph's end on that page and at most ``CONTINUATION_CHARS``."""
    retrieved = {(h.chunk.source, h.chunk.start_char) for h in hits}
    texts: dict[str, str] = {}
    out: list[Hit] = []
    for hit in hits:
        chunk = hit.chunk
        if not chunk.source.lower().endswith(PDF_SUFFIX):
            continue
        if PAGE_BREAK not in chunk.text and ends_like_a_sentence(chunk.text):
            continue  # neither ends at a page's foot mid-sentence nor runs over onto the next
        if chunk.source not in texts:
            texts[chunk.source] = document_text(chunk.source) or ""
        text = texts[chunk.source]
        if text[chunk.start_char : chunk.end_char] != chunk.text:  # not the text the index holds
            continue
        start = _cut_by_a_page(chunk, text)
        if start is None or (chunk.source, start) in retrieved:
            continue
        end = _paragraph_end(text, start)
        if end is None:
            continue
        # from where the chunk ends, the page break with it, so that the two read as one passage
        at = chunk.end_char
        continued = Chunk(
            -1, chunk.source, text[at:end], at, end, chunk.end_line, chunk.end_line + text.count("\n", at, end)
        )
        out.append(Hit(continued, score=0.0))
        retrieved.add((chunk.source, start))
    return out


_SPACE_RE = re.compile(r"\s*")


def _cut_by_a_page(chunk: Chunk, text: str) -> int | None:
    """Where ``chunk``'s paragraph goes on after it, when a page cut the chunk short: it ends
    at the foot of a page mid-sentence, or its last sentence ran over onto the next page and
    the paragraph goes on there. None otherwise. In a PDF's text a blank line parts paragraphs,
    a single line break moves up the page (the next column, a box), and a line separator joins
    a paragraph's wrapped lines."""
    end = chunk.end_char
    resumes = _SPACE_RE.match(text, end).end()
    if resumes >= len(text):
        return None
    gap = text[end:resumes]
    if PAGE_BREAK in gap:
        return None if ends_like_a_sentence(chunk.text) else resumes
    return resumes if PAGE_BREAK in chunk.text and "\n" not in gap else None


def _paragraph_end(text: str, start: int) -> int | None:
    """The end of the last whole sentence of the paragraph going on at ``start``, before any
    line break (a paragraph's end, a column's, the page's) and within ``CONTINUATION_CHARS``;
    None when none ends there. The sentences are split past that limit, breaks read as spaces,
    so that one running over it ("... led by Mr." before "Putin himself" on the page after) is
    not taken for whole."""
    line_break = text.find("\n", start)
    limit = min(line_break if line_break != -1 else len(text), start + CONTINUATION_CHARS)
    window = re.sub("[\n\f]", " ", text[start : start + 2 * CONTINUATION_CHARS])
    ends = [
        start + s.end
        for s in split_sentences(window)
        if start + s.end <= limit and ends_like_a_sentence(window[s.start : s.end])
    ]
    return ends[-1] if ends else None
