"""Checking what a language model wrote, before anyone sees it.

Markers that point at no passage are removed. Every sentence is judged, by the strict judge of
``rag.answer.support`` (names, numbers, dates and speakers in the same relation as in one
supporting sentence), against the passages it cites; a sentence without a marker, or whose
marker does not hold, is attributed to the passage sentence that supports it
(``rag.answer.attribution``). One nothing supports is cut to the claims inside it
(``rag.answer.clauses``: without the clause it was embroidered with, or its coordinated
clauses one by one), and what a passage supports of them is shown, if it still speaks of what
was asked; else the sentence is dropped. "Too little" survives when
fewer than ``GenerationSettings.min_supported_share`` (half) of the sentences are kept, or
none: the model was then not answering from the passages, and the answer is the extractive
one instead, with ``Answer.fallback_reason`` saying why. A refusal gives way to the extractive
answer when the extractive composer's evidence says the passages answer the question. The
model's own words are always kept in ``Answer.raw_text``.

Trade-off: dropping unsupported sentences can remove a true paraphrase the judge missed, which
is the price of never showing an unsupported claim.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from rag.answer.attribution import attribute
from rag.answer.citations import (
    MARKER_LIST_RE,
    MARKER_RE,
    SupportJudge,
    check_sentences,
    remove_invalid_markers,
    strip_markers,
)
from rag.answer.clauses import coordinated_clauses, without_non_restrictive
from rag.answer.prompting import GenerationSettings, ModelPrompt
from rag.answer.quotes import ends_like_a_sentence, opens_with_pronoun
from rag.answer.refusal import REFUSAL
from rag.answer.support import StrictJudge, strict
from rag.language.analysis import fold
from rag.language.lexicon import load_lexicon
from rag.language.questions import MEASURED_KINDS, has_answer_type, question_type, things_of_kind
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
    question: str | None = None,
    finished: bool = False,
) -> CheckedOutput:
    """Resolve and check the markers of a model's answer to a prompt built on ``passages``.

    Kept: the sentences supported by the passages they cite, each citation the whole passage,
    and the sentences without a marker that holds (none written, or one the check rejected)
    that a span of a passage supports, cited to that span (``rag.answer.attribution``);
    markers are numbered 1, 2 … in order of first use. ``judge`` is made strict
    (``rag.answer.support``): what a sentence states must stand in its support in the same
    relation, and what it adds to ``question`` (when given) must be in its support. A sentence
    that leans on the one before it ("He is ...") is dropped with that one; one that opens what
    follows ("Possible measures include:") or repeats an earlier one states nothing, and a
    last one left unfinished (the token limit) is dropped, unless the model is known to have
    ``finished`` short of the limit: then "Sverdlikovo, Ukraine" is a whole answer. What is kept must hold the kind of thing the question asks for (a
    place for "where", a name for "which outlet": ``has_answer_type``), or it does not answer.
    """
    if not passages:
        return CheckedOutput("", failure="no retrieved passage fits in the language model's context window")
    text = raw_text.strip()
    if not text:
        return CheckedOutput("", failure="the language model wrote nothing")
    judge = strict(judge, question)
    valid = set(range(1, len(passages) + 1))
    cleaned = remove_invalid_markers(split_marker_lists(text), valid)
    if is_refusal(cleaned):
        return CheckedOutput(REFUSAL, abstained=True)
    checks = check_sentences(cleaned, {n: passages[n - 1].text for n in valid}, judge)
    kept, citations, showing = _kept_sentences(checks, passages, judge, finished)
    if not kept or showing < min_supported_share * len(checks):
        return CheckedOutput(cleaned, checks=checks, failure=_too_little(text, checks, showing))
    final = " ".join(text for _, text in kept)
    kind = question_type(question) if question else None
    if kind and not has_answer_type(kind, strip_markers(final), question, lexicon=load_lexicon()):
        return CheckedOutput(cleaned, checks=checks, failure=f"it names no {kind}, which the question asks for")
    return CheckedOutput(final, citations, [check for check, _ in kept])


def _kept_sentences(
    checks: list[SentenceCheck], passages: Sequence[Hit], judge: StrictJudge, finished: bool = False
) -> tuple[list[tuple[SentenceCheck, str]], list[Citation], int]:
    """The sentences shown, each with its text and markers, and the citations they number; and
    how many of the model's sentences show something (whole or cut)."""
    numbered = _Numbered()
    kept: list[tuple[SentenceCheck, str]] = []
    kept_numbers: set[int] = set()  # shown whole: what a pronoun after them can lean on
    showing = 0
    for number, check in enumerate(checks):
        if number and number - 1 not in kept_numbers and opens_with_pronoun(check.sentence):
            continue  # "He is a former CIA deputy director": not once its subject was dropped
        cut_off = number == len(checks) - 1 and not finished and not ends_like_a_sentence(check.sentence)
        if check.sentence.endswith(":") or cut_off:
            continue  # opens what follows ("Possible measures include:"), or cut off by the token limit
        if any(fold(check.sentence) == fold(earlier.sentence) for earlier in checks[:number]):
            continue  # said again: a model looping, which says nothing more
        if check.supported:
            markers = [numbered.marker(("passage", m), Citation.of(0, passages[m - 1].chunk)) for m in check.markers]
            shown = [(check.sentence, markers, check.score)]
        else:
            shown = [
                (claim, [numbered.marker((c.source, c.start_char, c.end_char), c)], score)
                for claim, c, score in _attributed(check.sentence, passages, judge)
            ]
        showing += bool(shown)
        if [sentence for sentence, _, _ in shown] == [check.sentence]:
            kept_numbers.add(number)  # a cut one's subject may be in the clause cut away
        # As shown: its markers renumbered, and the judge's word on what they cite.
        for sentence, markers, score in shown:
            shown_text = f"{sentence} " + "".join(f"[{m}]" for m in markers)
            kept.append((SentenceCheck(sentence, tuple(markers), True, score), shown_text))
    return kept, numbered.citations, showing


def _attributed(sentence: str, passages: Sequence[Hit], judge: StrictJudge) -> list[tuple[str, Citation, float]]:
    """``sentence`` with the citation of the span that supports it; else the claims inside it
    that a span supports (``rag.answer.clauses``): itself without the clause a small model
    embroidered it with, or else each of its coordinated clauses that holds. Empty: none does."""
    found = attribute(sentence, passages, judge)
    if found is not None:
        return [(sentence, *found)]
    whole = _first_attributed([without_non_restrictive(sentence)], sentence, passages, judge)
    if whole is not None:
        return [whole]
    clauses = coordinated_clauses(sentence)
    if len(clauses) == 1:
        return []
    held = [
        _first_attributed([clause, without_non_restrictive(clause)], sentence, passages, judge) for clause in clauses
    ]
    return [found for found in held if found is not None]


def _first_attributed(
    claims: list[str], sentence: str, passages: Sequence[Hit], judge: StrictJudge
) -> tuple[str, Citation, float] | None:
    """The first of ``claims``, cut from ``sentence``, that a span supports and that still
    speaks of what was asked: a cut can leave a true statement that answers nothing, or cut
    away the count or date the question asks for ("314 prisoners were exchanged, and 30
    Chechen soldiers were returned" for how many Chechen soldiers)."""
    for claim in dict.fromkeys(claims):
        if not claim or claim == sentence or not judge.is_about_the_question(claim):
            continue
        if _cuts_what_was_asked(sentence, claim, judge):
            continue
        found = attribute(claim, passages, judge)
        if found is not None:
            return claim, *found
    return None


def _cuts_what_was_asked(sentence: str, claim: str, judge: StrictJudge) -> bool:
    """Whether ``claim``, cut from ``sentence``, leaves out what tied the sentence to the
    question: words of the question that only the part cut away holds ("Putin, who replaced
    Kasyanov as prime minister in 2004" is no answer to who replaced Kasyanov once cut to
    "Putin"), unless the claim is a bare answer, read with the question anyway; or a count or
    a date the question asks for ("314 prisoners were exchanged, and 30 Chechen soldiers were
    returned" for how many Chechen soldiers). A name or a place cut away is let go otherwise:
    any capitalised word counts as one, and the embroidery small models add is made of them."""
    if not judge.question:
        return False
    if not judge.is_bare_answer(claim) and judge.question_words_in(sentence) - judge.question_words_in(claim):
        return True
    kind = question_type(judge.question)
    if kind not in MEASURED_KINDS:
        return False
    kept = {fold(thing) for thing in things_of_kind(kind, claim)}
    return any(fold(thing) not in kept for thing in things_of_kind(kind, sentence))


class _Numbered:
    """Citations numbered in order of first use; one cited twice keeps its number."""

    def __init__(self) -> None:
        self.citations: list[Citation] = []
        self._markers: dict[tuple, int] = {}

    def marker(self, key: tuple, citation: Citation) -> int:
        if key not in self._markers:
            self._markers[key] = len(self.citations) + 1
            self.citations.append(replace(citation, marker=self._markers[key]))
        return self._markers[key]


def _too_little(text: str, checks: list[SentenceCheck], kept: int) -> str:
    """Why an output of which only ``kept`` sentences hold is not shown. Fewer than
    ``min_supported_share`` of its sentences holding says the model was not answering from the
    passages: what holds is then an incidental copy beside invented claims, not an answer."""
    held = f"only {kept} of its {len(checks)} sentences are supported by the retrieved passages"
    if any(check.markers for check in checks):
        return held
    if MARKER_RE.search(text):
        return f"its citation markers point at no retrieved passage, and {held}"
    return f"it cites no passage, and {held}"


def answer_from_output(
    question: str,
    hits: Sequence[Hit],
    prompt: ModelPrompt,
    raw_text: str,
    fallback: Callable[[], Answer],
    *,
    judge: SupportJudge | None = None,
    settings: GenerationSettings | None = None,
    refusal_stands: bool = False,
    finished: bool = False,
) -> Answer:
    """The model's answer when it passes the checks, else ``fallback()`` saying why.

    A refusal is the model's answer only when ``fallback()`` refuses too: when the extractive
    composer's evidence says the passages answer the question, its answer is shown instead.
    ``refusal_stands``: not so for a question that leans on the conversation before it, which
    the model reads and the extractive composer does not.
    """
    settings = settings or GenerationSettings()
    checked = check_output(raw_text, prompt.passages, judge, settings.min_supported_share, question, finished)
    if checked.abstained and not refusal_stands:
        extractive = fallback()
        if not extractive.abstained:
            return _instead(
                extractive,
                raw_text,
                "the language model declined to answer, but the extractive composer's evidence says the "
                "passages answer the question",
            )
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
    return _instead(fallback(), raw_text, f"The language model's answer was not used: {checked.failure}")


def _instead(answer: Answer, raw_text: str, reason: str) -> Answer:
    """The extractive ``answer`` shown instead of what the model wrote, saying why."""
    answer.raw_text = raw_text
    answer.fallback_reason = f"{reason[0].upper()}{reason[1:]}. This is the extractive answer."
    return answer
