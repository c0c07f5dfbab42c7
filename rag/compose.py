"""The offline answer: the retrieved sentences that best answer the question, quoted verbatim
with ``[n]`` markers, or a plain refusal when the evidence does not answer it.

How a sentence is scored (``score_sentences``):

* **coverage**: the share of the question's meaningful terms (stems, weighted by inverse
  document frequency in the index) that the sentence contains. A term found only in the
  sentence's neighbours or the document's title counts half: "He said ..." sentences take
  their subject from the sentence before. Terms the index has never seen weigh the most, so
  a question about something the articles never mention has low coverage everywhere.
* **answer type**: "how many" wants a number, "when" a date or day, "who" a name, "where"
  a place. A sentence that holds such a thing *beyond what the question already says* gains.
* **retrieval rank**: a small prior for sentences from better-ranked passages.

The answer is the best sentence, plus the runner-up when it is nearly as good and adds
something new. Whether to answer at all is ``should_abstain``'s call, on the best sentence's
features; its parameters live in ``AbstentionModel`` so they can be calibrated on data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .analysis import fold, index_terms, question_terms
from .citations import check_sentences, passages_of
from .records import Answer, Citation, Hit
from .sentences import split_sentences

REFUSAL = "The documents do not say."


class TermStatistics(Protocol):
    @property
    def chunk_count(self) -> int: ...

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]: ...


@dataclass(frozen=True)
class AbstentionModel:
    """Logistic model of P(the best sentence answers the question) from its features.

    Answer when the probability reaches ``threshold``. See docs/EVALUATION.md for how the
    numbers were chosen.
    """

    bias: float = -1.9
    coverage: float = 1.6
    passage_coverage: float = 1.8
    type_match: float = 0.36
    unseen_share: float = -3.0
    threshold: float = 0.35

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias + sum(getattr(self, name) * value for name, value in features.items())
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class ComposerSettings:
    evidence_hits: int = 6
    max_sentences: int = 2
    second_sentence_ratio: float = 0.8
    abstention: AbstentionModel = AbstentionModel()


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved passage, located in its source."""

    hit_rank: int
    source: str
    text: str
    start_char: int
    end_char: int
    start_line: int
    end_line: int
    terms: frozenset[str]
    context_terms: frozenset[str]
    passage_terms: frozenset[str]


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    score: float
    features: dict[str, float]


# ----------------------------------------------------------------------------------------
# Question analysis

_NUMBER_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "hundreds",
    "thousand",
    "thousands",
    "million",
    "millions",
    "billion",
    "billions",
    "dozen",
    "dozens",
    "half",
    "quarter",
    "several",
]
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
]
_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "yesterday", "today", "tomorrow"]

_NUMBER_RE = re.compile(r"\b\d[\d,.]*%?|\b(?:" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
_DATE_RE = re.compile(
    r"\b(?:1[89]\d\d|20\d\d|" + "|".join(_MONTHS + _DAYS) + r")\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b",
    re.IGNORECASE,
)
_NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'-]+(?:\s+(?:bin\s+|al\s+|de\s+|von\s+)?[A-Z][\w’'-]+)*")
_PLACE_RE = re.compile(r"\b(?:in|at|from|to|near|into|across|outside|inside)\s+(?:the\s+)?([A-Z][\w’'-]+)")

_TYPE_PATTERNS = [
    (
        "number",
        re.compile(
            r"\bhow\s+(?:many|much|long|old|often|far|big|large)\b|\bnumber of\b|\bwhat (?:percentage|proportion|share)\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"\bwhen\b|\bwhat (?:year|day|date|month|time)\b|\bwhich (?:year|day|date|month)\b|\bsince when\b", re.I
        ),
    ),
    (
        "person",
        re.compile(
            r"\bwho(?:m|se)?\b|\bwhich (?:person|official|leader|minister|analyst|expert|president|commander)\b", re.I
        ),
    ),
    (
        "place",
        re.compile(
            r"\bwhere\b|\bwhich (?:country|city|region|place|town|republic)\b|\bwhat (?:country|city|region|place)\b",
            re.I,
        ),
    ),
]


def question_type(question: str) -> str | None:
    for name, pattern in _TYPE_PATTERNS:
        if pattern.search(question):
            return name
    return None


def has_answer_type(kind: str | None, sentence: str, question: str) -> bool:
    """Whether ``sentence`` holds a thing of the wanted kind that the question does not."""
    if kind is None:
        return False
    found = {
        "number": lambda text: _NUMBER_RE.findall(text),
        "date": lambda text: _DATE_RE.findall(text),
        "person": lambda text: _NAME_RE.findall(text),
        "place": lambda text: _PLACE_RE.findall(text),
    }[kind]
    asked = {fold(x) for x in found(question)}
    return any(fold(x) not in asked for x in found(sentence))


# ----------------------------------------------------------------------------------------
# Candidates and scores


def candidates_from_hits(hits: Sequence[Hit], limit: int) -> list[Candidate]:
    """The distinct sentences of the first ``limit`` hits (chunks overlap, sentences repeat)."""
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for rank, hit in enumerate(hits[:limit]):
        chunk = hit.chunk
        spans = split_sentences(chunk.text)
        sentence_terms = [frozenset(index_terms(chunk.text[s.start : s.end])) for s in spans]
        passage_terms = frozenset().union(*sentence_terms) if sentence_terms else frozenset()
        for position, span in enumerate(spans):
            start = chunk.start_char + span.start
            if (chunk.source, start) in seen:
                continue
            seen.add((chunk.source, start))
            neighbours = sentence_terms[max(0, position - 1) : position] + sentence_terms[position + 1 : position + 2]
            context = frozenset().union(*neighbours) if neighbours else frozenset()
            out.append(
                Candidate(
                    hit_rank=rank,
                    source=chunk.source,
                    text=chunk.text[span.start : span.end],
                    start_char=start,
                    end_char=chunk.start_char + span.end,
                    start_line=chunk.start_line + chunk.text.count("\n", 0, span.start),
                    end_line=chunk.start_line + chunk.text.count("\n", 0, span.end),
                    terms=sentence_terms[position],
                    context_terms=context,
                    passage_terms=passage_terms,
                )
            )
    return out


def term_weights(frequencies: dict[str, int], chunk_count: int) -> dict[str, float]:
    """BM25-style inverse document frequency of each term over the index's chunks."""
    total = max(chunk_count, 1)
    return {t: math.log(1.0 + (total - df + 0.5) / (df + 0.5)) for t, df in frequencies.items()}


def score_sentences(question: str, candidates: Sequence[Candidate], stats: TermStatistics) -> list[Scored]:
    """Candidates with scores, best first."""
    terms = question_terms(question)
    frequencies = stats.document_frequencies(terms)
    weights = term_weights(frequencies, stats.chunk_count)
    total = sum(weights.values()) or 1.0
    unseen_share = sum(weights[t] for t in terms if frequencies[t] == 0) / total
    kind = question_type(question)
    scored = []
    for candidate in candidates:
        found = sum(weights[t] for t in terms if t in candidate.terms)
        nearby = sum(weights[t] for t in terms if t not in candidate.terms and t in candidate.context_terms)
        coverage = (found + 0.5 * nearby) / total if terms else 0.0
        passage = sum(weights[t] for t in terms if t in candidate.passage_terms) / total if terms else 0.0
        type_match = 1.0 if has_answer_type(kind, candidate.text, question) else 0.0
        features = {
            "coverage": coverage,
            "passage_coverage": passage,
            "type_match": type_match if kind else 0.5,
            "unseen_share": unseen_share,
        }
        score = coverage + 0.25 * type_match + 0.05 / (1 + candidate.hit_rank) - _shape_penalty(candidate.text)
        scored.append(Scored(candidate, score, features))
    scored.sort(key=lambda s: (-s.score, s.candidate.hit_rank, s.candidate.start_char))
    return scored


def _shape_penalty(text: str) -> float:
    """Headings, bylines and fragments rarely answer anything."""
    word_count = len(text.split())
    if word_count < 5:
        return 0.3
    if not text.rstrip("”\"’') ").endswith((".", "!", "?", "…")) and word_count < 15:
        return 0.15
    return 0.0


# ----------------------------------------------------------------------------------------
# The answer


def compose_extractive(
    question: str, hits: Sequence[Hit], stats: TermStatistics, settings: ComposerSettings | None = None
) -> Answer:
    settings = settings or ComposerSettings()
    scored = score_sentences(question, candidates_from_hits(hits, settings.evidence_hits), stats)
    if not scored or should_abstain(scored[0], settings.abstention):
        return abstain(question, hits)
    chosen = _choose(scored, settings)
    citations = [_citation(n, s.candidate) for n, s in enumerate(chosen, 1)]
    text = " ".join(f"{_one_line(s.candidate.text)} [{n}]" for n, s in enumerate(chosen, 1))
    checks = check_sentences(text, passages_of(citations))
    return Answer(question=question, text=text, citations=citations, hits=list(hits), raw_text=text, checks=checks)


def should_abstain(best: Scored, model: AbstentionModel) -> bool:
    return model.probability(best.features) < model.threshold


def abstain(question: str, hits: Sequence[Hit]) -> Answer:
    return Answer(question=question, text=REFUSAL, hits=list(hits), abstained=True, raw_text=REFUSAL)


def _choose(scored: list[Scored], settings: ComposerSettings) -> list[Scored]:
    best = scored[0]
    chosen = [best]
    for other in scored[1:]:
        if len(chosen) >= settings.max_sentences or other.score < settings.second_sentence_ratio * best.score:
            break
        if all(_distinct(other.candidate, c.candidate) for c in chosen):
            chosen.append(other)
    # Read in document order when the sentences come from one source.
    if len({s.candidate.source for s in chosen}) == 1:
        chosen.sort(key=lambda s: s.candidate.start_char)
    return chosen


def _distinct(a: Candidate, b: Candidate) -> bool:
    if fold(a.text) == fold(b.text):
        return False
    union = a.terms | b.terms
    return not union or len(a.terms & b.terms) / len(union) < 0.7


def _citation(marker: int, candidate: Candidate) -> Citation:
    return Citation(
        marker=marker,
        source=candidate.source,
        start_line=candidate.start_line,
        end_line=candidate.end_line,
        quote=candidate.text,
        start_char=candidate.start_char,
        end_char=candidate.end_char,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())
