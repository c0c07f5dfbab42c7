"""The formulas behind ``rag eval``: pure functions on plain values, so each one can be checked
on a hand-built case.

Citation recall and precision follow ALCE (Gao et al. 2023, "Enabling Large Language Models
to Generate Text with Citations", section 2.2):

* **recall** of an answer is the share of its sentences that the concatenation of the passages
  they cite supports; a sentence that cites nothing scores 0.
* **precision** of an answer is the share of its citations that are not *irrelevant*. A
  citation is irrelevant when its sentence is not supported by all its citations together, or
  when (a) the citation alone does not support the sentence and (b) the sentence's other
  citations support it without it. A lone citation is therefore relevant exactly when it
  supports its sentence.

Whether a passage supports a sentence is a ``SupportJudge``'s call (``rag.answer.citations``); the
figures depend on the judge, so figures measured with different judges are not comparable.

``faithfulness`` counts the same per-sentence verdicts pooled over all answers (a micro
average), where ALCE's recall averages per answer (a macro average): a long answer weighs more
in faithfulness, each answer weighs the same in recall.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rag.answer.citations import CitedSentence, SupportJudge
from rag.language.analysis import fold

_PUNCTUATION_RE = re.compile(r"[\W_]+", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Lower case, accents and punctuation removed, white space collapsed."""
    return " ".join(_PUNCTUATION_RE.sub(" ", fold(text)).split())


def contains_answer(text: str, expected: Iterable[str]) -> bool:
    """Whether any expected string occurs in ``text``, ignoring case and punctuation.

    Matches whole words: "ten" is not found in "often".
    """
    haystack = f" {normalize_answer(text)} "
    return any(f" {needle} " in haystack for needle in map(normalize_answer, expected) if needle)


def retrieval_rank(sources: Sequence[str], expected: Iterable[str]) -> int | None:
    """1-based rank of the first retrieved source that is expected; None when none is."""
    wanted = set(expected)
    return next((rank for rank, source in enumerate(sources, 1) if source in wanted), None)


@dataclass(frozen=True)
class SentenceVerdict:
    """One answer sentence: does what it cites support it, and is each citation needed?"""

    sentence: str
    markers: tuple[int, ...]
    supported: bool
    score: float
    relevant: tuple[bool, ...]  # one per marker, ALCE's "not irrelevant"


def judge_sentences(
    sentences: Sequence[CitedSentence], passages: Mapping[int, str], judge: SupportJudge
) -> list[SentenceVerdict]:
    """ALCE verdicts for each sentence: joint support, then each citation's relevance.

    A marker that points at no passage cites nothing: it is irrelevant, and as in ALCE's code a
    sentence carrying one is unsupported, whatever its other markers cite.
    """

    def supports(markers: Sequence[int], claim: str) -> tuple[bool, float]:
        cited = [passages[m] for m in markers if m in passages]
        if not cited:
            return False, 0.0
        score = judge.support(claim, "\n".join(cited))
        return score >= judge.threshold, score

    verdicts = []
    for sentence in sentences:
        supported, score = supports(sentence.markers, sentence.text)
        supported = supported and all(m in passages for m in sentence.markers)
        if not supported:
            relevant = tuple(False for _ in sentence.markers)
        elif len(sentence.markers) == 1:
            relevant = (True,)
        else:
            flags = []
            for marker in sentence.markers:
                alone, _ = supports([marker], sentence.text)
                others = [m for m in sentence.markers if m != marker]
                rest, _ = supports(others, sentence.text)
                flags.append(marker in passages and (alone or not rest))
            relevant = tuple(flags)
        verdicts.append(SentenceVerdict(sentence.text, sentence.markers, supported, score, relevant))
    return verdicts


def citation_recall(verdicts: Sequence[SentenceVerdict]) -> float | None:
    """ALCE citation recall of one answer; None for an answer with no sentences."""
    if not verdicts:
        return None
    return sum(v.supported for v in verdicts) / len(verdicts)


def citation_precision(verdicts: Sequence[SentenceVerdict]) -> float | None:
    """ALCE citation precision of one answer; 0 when it has sentences but cites nothing."""
    if not verdicts:
        return None
    flags = [flag for v in verdicts for flag in v.relevant]
    return sum(flags) / len(flags) if flags else 0.0


def faithfulness(verdicts: Sequence[SentenceVerdict]) -> float | None:
    """Share of one answer's sentences supported by what they cite; None with no sentences."""
    return citation_recall(verdicts)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``; None when there are none.

    The one definition of a percentile here, for ``rag eval``'s latency figures and the
    benchmark scripts alike: linear interpolation between the two nearest ranks, numpy's
    default (Hyndman and Fan's type 7). Sorted values ``x[0] … x[n-1]`` put the percentile at
    position ``p = (n - 1) * q / 100``, between ``x[floor(p)]`` and ``x[ceil(p)]``. Unlike a
    nearest-rank percentile it moves smoothly as one value changes, and the 50th is the median.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


# ----------------------------------------------------------------------------------------
# Overlap with a reference answer (for long-form references such as ClapNQ's)


def answer_tokens(text: str) -> list[str]:
    """SQuAD-style tokens: normalised words without the articles a, an, the."""
    return [t for t in normalize_answer(text).split() if t not in {"a", "an", "the"}]


def token_f1(prediction: str, reference: str) -> float:
    """Harmonic mean of token precision and recall (bags of words, as SQuAD's F1)."""
    predicted, wanted = answer_tokens(prediction), answer_tokens(reference)
    if not predicted or not wanted:
        return float(predicted == wanted)
    return _f1(_bag_overlap(predicted, wanted), len(predicted), len(wanted))


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (Lin 2004, beta = 1) on ``answer_tokens``."""
    predicted, wanted = answer_tokens(prediction), answer_tokens(reference)
    if not predicted or not wanted:
        return float(predicted == wanted)
    return _f1(_lcs_length(predicted, wanted), len(predicted), len(wanted))


def _f1(matched: int, predicted: int, wanted: int) -> float:
    """F-measure of ``matched`` units out of ``predicted`` given and ``wanted`` expected."""
    if matched == 0:
        return 0.0
    precision, recall = matched / predicted, matched / wanted
    return 2 * precision * recall / (precision + recall)


def _bag_overlap(a: Sequence[str], b: Sequence[str]) -> int:
    counts: dict[str, int] = {}
    for token in b:
        counts[token] = counts.get(token, 0) + 1
    common = 0
    for token in a:
        if counts.get(token, 0) > 0:
            counts[token] -= 1
            common += 1
    return common


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def strip_markers(text: str) -> str:
    """Answer text without ``[n]`` markers, for overlap with a reference."""
    return " ".join(re.sub(r"\[\d{1,3}\]", " ", text).split())


def balanced_accuracy(predicted: Sequence[bool], actual: Sequence[bool]) -> float | None:
    """Mean of the recall of each class (True and False); None when a class is absent."""
    positives = [p for p, a in zip(predicted, actual, strict=True) if a]
    negatives = [not p for p, a in zip(predicted, actual, strict=True) if not a]
    if not positives or not negatives:
        return None
    return (sum(positives) / len(positives) + sum(negatives) / len(negatives)) / 2
