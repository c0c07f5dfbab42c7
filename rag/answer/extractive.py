"""The offline answer: the retrieved sentences that best answer the question, quoted verbatim
with ``[n]`` markers, or a plain refusal when the evidence does not answer it.

This module chooses and assembles; what a question asks is ``rag.language.questions``'s, what
each sentence offers towards it and whether to answer at all ``rag.answer.evidence``'s, and
how a quote reads ``rag.answer.quotes``'s.

The answer is the best sentence (``SentenceScorer``: coverage first, then passage coverage,
answer type, retrieval rank, less for headings and fragments), plus the runner-up when it is
nearly as good and adds something new; a sentence opening with "he", "they", "it" or "these"
(not "this", which points at an event) brings the one before it, which says who or what, and
the best sentence brings the one after it when that one qualifies it ("Not in a medical sense
..."). Whether to answer at all is ``AbstentionModel``'s call, on the evidence of the sentence
it finds likeliest to answer among those the answer would quote; a refusal may show that
sentence when it came near. Trade-off: every sentence is quoted as
written, so an answer is never more fluent than its sources, and never says what they do not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rag.answer.candidates import MAX_GAP, Candidate, candidates_from_hits, page_continuations
from rag.answer.citations import MARKER_RE, check_sentences, passages_of
from rag.answer.evidence import (
    ComposerSettings,
    Scored,
    closest_worth_showing,
    likeliest,
    score_sentences,
    should_abstain,
)
from rag.answer.quotes import (
    HEADING_MAX_WORDS,
    cited_quote,
    ends_like_a_sentence,
    opens_by_qualifying,
    opens_with_pronoun,
)
from rag.answer.refusal import abstain
from rag.language.analysis import fold
from rag.language.terms import TermStatistics
from rag.records import Answer, Citation, Hit

LEAD_MARGIN = 0.2  # of coverage: "Mr Costa compared Putin to Slobodan Milošević" (0.92) over 0.71
# A sentence joins the answer only if it shares less than this part of its terms with each
# sentence already chosen: more says the same thing again.
MAX_SHARED_TERMS = 0.7


def compose_extractive(
    question: str,
    hits: Sequence[Hit],
    stats: TermStatistics,
    settings: ComposerSettings | None = None,
    document_text: Callable[[str], str | None] | None = None,
) -> Answer:
    """``document_text`` (a document's indexed text by id): with it, a PDF passage that a page
    break cuts is read on into the next page (``page_continuations``)."""
    settings = settings or ComposerSettings()
    read = list(hits[: settings.evidence_hits])
    if document_text is not None:
        read += page_continuations(read, document_text)
    scored = score_sentences(question, candidates_from_hits(read, len(read)), stats, settings)
    if not scored:
        return abstain(question, hits)
    picked = picked_sentences(scored, settings)
    deciding = likeliest(picked, settings.abstention)
    if should_abstain(deciding, settings.abstention):
        closest = closest_worth_showing(deciding, settings.abstention)
        return abstain(question, hits, Citation.of(0, closest.candidate) if closest else None)
    chosen = _arranged(picked, scored)
    citations = [Citation.of(n, s.candidate) for n, s in enumerate(chosen, 1)]
    text = " ".join(cited_quote(s.candidate.text, n) for n, s in enumerate(chosen, 1))
    checks = check_sentences(text, passages_of(citations))
    return Answer(question=question, text=text, citations=citations, hits=list(hits), raw_text=text, checks=checks)


def picked_sentences(scored: list[Scored], settings: ComposerSettings) -> list[Scored]:
    """The best sentence and the runners-up that would be quoted beside it: nearly as good
    (``second_sentence_ratio`` of its score), complete, and saying something it does not."""
    best = scored[0]
    chosen = [best]
    for other in scored[1:]:
        if len(chosen) >= settings.max_sentences or other.score < settings.second_sentence_ratio * best.score:
            break
        if _complete(other.candidate.text) and all(_distinct(other.candidate, c.candidate) for c in chosen):
            chosen.append(other)
    return chosen


def _arranged(chosen: list[Scored], scored: list[Scored]) -> list[Scored]:
    """The picked sentences in the order they are read, with the sentences they lean on."""
    best = scored[0]
    # Read in document order when the sentences come from one source, but a sentence that says
    # what was asked in so many words leads ("The February 5 exchange included 314 prisoners."
    # before the 20 soldiers it included), as does one that holds the thing asked for and far
    # more of the question than the rest. Leading with the best sentence whenever a question
    # asks for a thing read worse on ClapNQ (docs/EVALUATION.md).
    if len({s.candidate.source for s in chosen}) == 1:
        lead = chosen[:1] if best.direct or _stands_out(best, chosen[1:]) else []
        chosen = lead + sorted(chosen[len(lead) :], key=lambda s: s.candidate.start_char)
    return _with_qualifiers(_with_antecedents(chosen, scored), scored)


def _stands_out(best: Scored, others: list[Scored]) -> bool:
    """Whether the best sentence holds the kind of thing asked for ("which Serbian leader": a
    name) and covers clearly more of the question than every other chosen sentence."""
    return bool(best.evidence.answer_type) and all(
        best.evidence.coverage - other.evidence.coverage >= LEAD_MARGIN for other in others
    )


def _with_antecedents(chosen: list[Scored], scored: list[Scored]) -> list[Scored]:
    """``chosen``, each sentence that opens with a pronoun preceded by the sentence before it
    in its passage (when that one is a complete sentence and not chosen already)."""
    out: list[Scored] = []
    for s in chosen:
        before = _sentence_before(s.candidate, scored)
        if before is not None and opens_with_pronoun(s.candidate.text) and before not in chosen + out:
            out.append(before)
        out.append(s)
    return out


def _with_qualifiers(chosen: list[Scored], scored: list[Scored]) -> list[Scored]:
    """``chosen``, the best sentence followed by the sentence after it in its passage when that
    one opens by qualifying it ("Not in a medical sense ...") and is not chosen already. Only the
    best sentence's: it is the one most likely to say what was asked in the question's words."""
    best = scored[0]
    after = _sentence_after(best.candidate, scored)
    if after is None or not opens_by_qualifying(after.candidate.text) or after in chosen:
        return chosen
    at = chosen.index(best) + 1
    return chosen[:at] + [after] + chosen[at:]


def _sentence_before(candidate: Candidate, scored: list[Scored]) -> Scored | None:
    """The complete sentence just before ``candidate`` in its document, when a retrieved
    passage holds it (sentences are split leaving only white space between them)."""
    return _neighbour(candidate, scored, after=False)


def _sentence_after(candidate: Candidate, scored: list[Scored]) -> Scored | None:
    """The complete sentence just after ``candidate`` in its document, when a retrieved
    passage holds it."""
    return _neighbour(candidate, scored, after=True)


def _neighbour(candidate: Candidate, scored: list[Scored], *, after: bool) -> Scored | None:
    def gap(s: Scored) -> int:  # characters between the two, negative when on the wrong side
        c = s.candidate
        return c.start_char - candidate.end_char if after else candidate.start_char - c.end_char

    beside = [s for s in scored if s.candidate.source == candidate.source and gap(s) >= 0]
    nearest = min(beside, key=gap, default=None)
    if nearest is None or gap(nearest) > MAX_GAP:
        return None
    return nearest if _complete(nearest.candidate.text) else None


def _complete(text: str) -> bool:
    """Whether a sentence may stand beside the best one: a heading, a caption or a byline may
    be the answer itself ("Which outlets are credited in the headline?") but never adds to one
    ("Relations Between Putin and Kadyrov Sour ... – The Moscow Times" after the talks it names).
    A long run of words without a full stop is a table or a list, and may hold what was asked.
    The document's own footnote markers ("tall.[12]") do not hide a sentence's full stop."""
    return ends_like_a_sentence(MARKER_RE.sub("", text)) or len(text.split()) > HEADING_MAX_WORDS


def _distinct(a: Candidate, b: Candidate) -> bool:
    """Whether ``a`` says something ``b`` does not (Jaccard overlap of their terms)."""
    if fold(a.text) == fold(b.text):
        return False
    union = a.terms | b.terms
    return not union or len(a.terms & b.terms) / len(union) < MAX_SHARED_TERMS
