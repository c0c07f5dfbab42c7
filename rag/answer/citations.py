"""Checking citations: do an answer's ``[n]`` markers resolve, and does each sentence say only
what the passages it cites say?

``split_cited_sentences`` reads an answer into sentences with their markers (a marker written
after the full stop, "... in 2024. [1]", belongs to the sentence before it). A ``SupportJudge``
scores how well a passage supports a claim; ``LexicalJudge`` needs no weights: the share of
the claim's content words (stemmed) found in the passage, halved when the claim states a
number the passage does not, since invented figures are the commonest unsupported claim.
Scores from different judges are not comparable; each judge has its own threshold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.ingest.sentences import split_sentences
from rag.language.analysis import index_terms
from rag.records import Citation, SentenceCheck

MARKER_RE = re.compile(r"\[(\d{1,3})\]")
# Several numbers in one marker, "[1, 3]": how models often cite two sources at once.
MARKER_LIST_RE = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})+)\]")
_LEADING_MARKERS_RE = re.compile(r"^(?:\s*\[\d{1,3}\])+")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")


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
        claim_terms = set(index_terms(claim))
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
