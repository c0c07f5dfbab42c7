"""Checking what a language model wrote, before anyone sees it.

Markers that point at no passage are removed; every sentence is judged against the passages it
cites and unsupported ones are dropped. When nothing valid is cited, or most sentences are
unsupported, the answer is the extractive one instead, with ``Answer.fallback_reason`` saying
why. The model's own words are always kept in ``Answer.raw_text``.

Trade-off: dropping unsupported sentences can remove a true paraphrase the lexical judge
missed, which is the price of never showing an unsupported claim.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rag.answer.citations import (
    MARKER_LIST_RE,
    MARKER_RE,
    SupportJudge,
    check_sentences,
    passages_of,
    remove_invalid_markers,
)
from rag.answer.prompting import GenerationSettings, ModelPrompt
from rag.answer.refusal import REFUSAL
from rag.records import Answer, Citation, Hit, SentenceCheck

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckedOutput:
    """A model's answer after the citation checks. ``failure`` says why it cannot be shown."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    checks: list[SentenceCheck] = field(default_factory=list)
    abstained: bool = False
    failure: str | None = None


def _normal(text: str) -> str:
    return " ".join(MARKER_RE.sub(" ", text).split()).strip(" \"'“”‘’.!").casefold()


def split_marker_lists(text: str) -> str:
    """``[1, 3]`` (a common way models cite two sources) written as ``[1][3]``."""
    return MARKER_LIST_RE.sub(lambda m: "".join(f"[{n}]" for n in re.split(r"\s*[,;]\s*", m.group(1))), text)


def is_refusal(text: str) -> bool:
    """Whether ``text`` is the refusal phrase and nothing else (markers and quotes aside)."""
    return _normal(text) == _normal(REFUSAL)


def check_output(
    raw_text: str,
    passages: Sequence[Hit],
    judge: SupportJudge | None = None,
    min_supported_share: float = GenerationSettings.min_supported_share,
) -> CheckedOutput:
    """Resolve and check the markers of a model's answer to a prompt built on ``passages``.

    Kept: the sentences supported by the passages they cite, with markers renumbered 1, 2 … in
    order of first use and a citation (the whole passage, verbatim) for each.
    """
    if not passages:
        return CheckedOutput("", failure="no retrieved passage fits in the language model's context window")
    text = raw_text.strip()
    if not text:
        return CheckedOutput("", failure="the language model wrote nothing")
    valid = set(range(1, len(passages) + 1))
    cleaned = remove_invalid_markers(split_marker_lists(text), valid)
    if is_refusal(cleaned):
        return CheckedOutput(REFUSAL, abstained=True)
    checks = check_sentences(cleaned, {n: passages[n - 1].text for n in valid}, judge)
    if not any(check.markers for check in checks):
        cited_nothing = (
            "its citation markers point at no retrieved passage" if MARKER_RE.search(text) else "it cites no passage"
        )
        return CheckedOutput(cleaned, checks=checks, failure=cited_nothing)
    supported = [check for check in checks if check.supported]
    if len(supported) < min_supported_share * len(checks) or not supported:
        return CheckedOutput(
            cleaned,
            checks=checks,
            failure=f"only {len(supported)} of its {len(checks)} sentences are supported by the passages they cite",
        )
    numbers: dict[int, int] = {}
    for check in supported:
        for marker in check.markers:
            numbers.setdefault(marker, len(numbers) + 1)
    final = " ".join(f"{c.sentence} " + "".join(f"[{numbers[m]}]" for m in c.markers) for c in supported)
    citations = [Citation.of(new, passages[old - 1].chunk) for old, new in numbers.items()]
    return CheckedOutput(final, citations, check_sentences(final, passages_of(citations), judge))


def answer_from_output(
    question: str,
    hits: Sequence[Hit],
    prompt: ModelPrompt,
    raw_text: str,
    fallback: Callable[[], Answer],
    *,
    judge: SupportJudge | None = None,
    settings: GenerationSettings | None = None,
) -> Answer:
    """The model's answer when it passes the checks, else ``fallback()`` saying why."""
    settings = settings or GenerationSettings()
    checked = check_output(raw_text, prompt.passages, judge, settings.min_supported_share)
    if checked.failure is None:
        return Answer(
            question=question,
            text=checked.text,
            citations=checked.citations,
            hits=list(hits),
            abstained=checked.abstained,
            raw_text=raw_text,
            backend="llm",
            checks=checked.checks,
        )
    logger.info("language model answer not shown: %s", checked.failure)
    answer = fallback()
    answer.raw_text = raw_text
    answer.fallback_reason = (
        f"The language model's answer was not used: {checked.failure}. This is the extractive answer."
    )
    return answer
