"""Citations after the fact: each sentence a language model wrote without a marker (or with
one the check rejected) attributed to the retrieved passage sentence(s) that support it.

Small local models seldom write ``[n]`` markers, yet often write a sentence a passage supports.
``attribute`` asks the same strict judge the checks use (``rag.answer.support``) for the span
of each retrieved passage that supports the sentence best; the best span of all, at or above
the judge's threshold, becomes the sentence's citation, located as an extractive citation is
(verbatim quote, its characters and lines in the document) and marked ``attributed``. A
sentence no span supports gets none, and ``rag.answer.checking`` drops it.

Trade-off: the span is one sentence (with the one it leans on for who it is about), so a
sentence that sums up a whole passage finds no support and is dropped, rather than cited to a
passage whose words are merely scattered through it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.answer.support import StrictJudge, SupportSpan
from rag.records import Citation, Hit


def attribute(claim: str, hits: Sequence[Hit], judge: StrictJudge) -> tuple[Citation, float] | None:
    """The citation (marker 0, to be numbered by the caller) of the span of ``hits`` that
    supports ``claim`` best, the better-ranked passage on a tie, with the judge's score; None
    when none does. The score is the span's read in its passage: a pronoun in the span ("he
    called ...") is read as the person the passage named before it."""
    best: tuple[SupportSpan, Hit] | None = None
    for hit in hits:
        span = judge.best_span(claim, hit.text)
        if span.score >= judge.threshold and (best is None or span.score > best[0].score):
            best = (span, hit)
    if best is None:
        return None
    span, hit = best
    return located(span, hit), span.score


def located(span: SupportSpan, hit: Hit) -> Citation:
    """``hit.text[span.start:span.end]`` as an attributed citation in its document."""
    chunk = hit.chunk
    return Citation(
        marker=0,
        source=chunk.source,
        start_line=chunk.start_line + chunk.text.count("\n", 0, span.start),
        end_line=chunk.start_line + chunk.text.count("\n", 0, span.end),
        quote=chunk.text[span.start : span.end],
        start_char=chunk.start_char + span.start,
        end_char=chunk.start_char + span.end,
        attributed=True,
    )
