"""Checking citations: do an answer's ``[n]`` markers resolve, and does each sentence say only
what the passages it cites say?

``split_cited_sentences`` reads an answer into sentences with their markers (a marker written
after the full stop, "... in 2024. [1]", belongs to the sentence before it). A ``SupportJudge``
scores how well a passage supports a claim; ``LexicalJudge`` needs no weights: the share of
the claim's content words (stemmed; its frame, "The answer is:", left out) found in the
passage, halved when the claim states a number the passage does not, since invented figures
are the commonest unsupported claim.
Scores from different judges are not comparable; each judge has its own threshold.

``with_pages`` is where a citation of a paged document (a PDF, whose text has a form feed at
each page break: ``rag.ingest.pdf``) gets its page, and its lines counted within that page, so
that a reader can turn to them (lines with text, counted down the page in reading order; blank
lines and blanked running headers not counted); the index keeps the document's own offsets
and lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from rag.ingest.pdf import PAGE_BREAK, PDF_SUFFIX, WRAP
from rag.ingest.sentences import split_sentences
from rag.language.analysis import index_terms
from rag.language.patterns import FRAME_RE
from rag.records import Answer, Citation, Hit, SentenceCheck

MARKER_RE = re.compile(r"\[(\d{1,3})\]")
# Several numbers in one marker, "[1, 3]": how models often cite two sources at once.
MARKER_LIST_RE = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})+)\]")
_LEADING_MARKERS_RE = re.compile(r"^(?:\s*\[\d{1,3}\])+")


def strip_markers(text: str) -> str:
    """``text`` without its ``[n]`` markers, whitespace runs made one space: for reading an
    answer as plain words (the names it gives, its overlap with a reference)."""
    return " ".join(MARKER_RE.sub(" ", text).split())


_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_PAGE_LINE_RE = re.compile(f"[\n{WRAP}]")  # a PDF's lines: its paragraphs' wraps count


@dataclass(frozen=True)
class CitedSentence:
    text: str  # without markers
    markers: tuple[int, ...]


class SupportJudge(Protocol):
    threshold: float

    def support(self, claim: str, passage: str) -> float:
        """A score in [0, 1]; at or above ``threshold`` means the passage supports the claim."""


class LexicalJudge:
    """Share of the claim's content terms found in the passage; no weights needed."""

    name = "lexical"
    threshold = 0.6

    def support(self, claim: str, passage: str) -> float:
        # "The answer is: 20." states 20; "The answer is: no." states its words, not nothing
        claim_terms = set(index_terms(FRAME_RE.sub("", claim, count=1))) or set(index_terms(claim))
        if not claim_terms:
            return 1.0
        passage_terms = set(index_terms(passage))
        score = len(claim_terms & passage_terms) / len(claim_terms)
        missing_numbers = set(_NUMBER_RE.findall(claim)) - set(_NUMBER_RE.findall(passage))
        return score / 2 if missing_numbers else score


def split_cited_sentences(text: str) -> list[CitedSentence]:
    """The answer's sentences, each with the markers that belong to it, in order."""
    pieces: list[list] = []  # [text, markers]
    for span in split_sentences(text):
        sentence = text[span.start : span.end]
        leading = _LEADING_MARKERS_RE.match(sentence)
        if leading and pieces:
            pieces[-1][1].extend(int(m) for m in MARKER_RE.findall(leading.group()))
            sentence = sentence[leading.end() :]
        markers = [int(m) for m in MARKER_RE.findall(sentence)]
        plain = " ".join(MARKER_RE.sub(" ", sentence).split())
        plain = re.sub(r"\s+([.,;:!?])", r"\1", plain)
        if plain:
            pieces.append([plain, markers])
        elif pieces:
            pieces[-1][1].extend(markers)
    return [CitedSentence(t, tuple(dict.fromkeys(m))) for t, m in pieces]


def remove_invalid_markers(text: str, valid: set[int]) -> str:
    """``text`` without the markers that point at nothing in ``valid``."""
    cleaned = MARKER_RE.sub(lambda m: m.group() if int(m.group(1)) in valid else "", text)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip()


def check_sentences(text: str, passages: Mapping[int, str], judge: SupportJudge | None = None) -> list[SentenceCheck]:
    """For each sentence of ``text``: is it supported by the passages its markers cite?

    ``passages`` maps marker numbers to the text they cite. A sentence without markers, or
    whose markers cite nothing known, is unsupported.
    """
    judge = judge or LexicalJudge()
    checks = []
    for sentence in split_cited_sentences(text):
        cited = [passages[m] for m in sentence.markers if m in passages]
        score = judge.support(sentence.text, "\n".join(cited)) if cited else 0.0
        checks.append(SentenceCheck(sentence.text, sentence.markers, score >= judge.threshold, score))
    return checks


def passages_of(citations: Sequence[Citation]) -> dict[int, str]:
    """Marker → cited quote (quotes of a marker cited twice are joined)."""
    out: dict[int, str] = {}
    for citation in citations:
        out[citation.marker] = f"{out[citation.marker]}\n{citation.quote}" if citation.marker in out else citation.quote
    return out


def with_pages(answer: Answer, document_text: Callable[[str], str | None]) -> Answer:
    """``answer`` with each citation of a PDF (and its ``closest``) given its page, and lines
    counted within that page; other citations as they are. ``document_text`` gives a
    document's indexed text by id (``Index.document_text``)."""
    texts: dict[str, str | None] = {}

    def text_of(source: str) -> str | None:
        if source not in texts:
            texts[source] = document_text(source) if source.lower().endswith(PDF_SUFFIX) else None
        return texts[source]

    citations = [on_its_page(c, text_of(c.source)) for c in answer.citations]
    closest = on_its_page(answer.closest, text_of(answer.closest.source)) if answer.closest else None
    if citations == answer.citations and closest == answer.closest:
        return answer
    return replace(answer, citations=citations, closest=closest)


def on_its_page(citation: Citation, text: str | None) -> Citation:
    """``citation`` with its page and page lines, read from its offsets in the paged ``text``;
    as it is when there is no text or its offsets do not hold the quote (the text changed)."""
    start, end = citation.start_char, citation.end_char
    if (
        not text
        or not 0 <= start < end <= len(text)
        or " ".join(text[start:end].split()) != " ".join(citation.quote.split())
    ):
        return citation
    page_start = text.rfind(PAGE_BREAK, 0, start) + 1
    # lines with text, as a reader counts them down the page: not the blank lines that stand for
    # a paragraph's gap, nor a running header blanked out of the text
    first_line = sum(1 for line in _PAGE_LINE_RE.split(text[page_start:start])[:-1] if line.strip()) + 1
    last_line = first_line + sum(1 for line in _PAGE_LINE_RE.split(text[start:end])[1:] if line.strip())
    page = text.count(PAGE_BREAK, 0, start) + 1
    return replace(citation, page=page, start_line=first_line, end_line=last_line)


def passage_on_its_page(hit: Hit, document_text: Callable[[str], str | None] | None) -> Citation:
    """A retrieved passage located as a citation is (marker 0): a PDF's on its page, its lines
    counted within that page, so that "the closest passages searched" read as its citations
    do; any other's (or any, without ``document_text``) with the file's own lines."""
    citation = Citation.of(0, hit.chunk)
    if document_text is None or not hit.source.lower().endswith(PDF_SUFFIX):
        return citation
    return on_its_page(citation, document_text(hit.source))
