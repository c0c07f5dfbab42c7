"""Matching a question's terms against a sentence's: spelling and word-form variants, words
related in meaning, and how much each term weighs by its rarity in the index.

Trade-off: variants are found by a shared prefix of the stems, not by a dictionary, so
"defence"/"defense" and "Russia"/"Russian" match with no list to maintain, at the price of a
rule for the few word pairs that share a prefix and differ in meaning ("height"/"heighten").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

# A variant shares at least this many letters with the term at the start of both: shorter
# stems share prefixes by chance ("arm"/"armi").
VARIANT_PREFIX = 5

# Each question term's relatives: tuples of stems, every one of which must be present (a
# multi-word relative such as "prisoner of war").
Relatives = dict[str, tuple[tuple[str, ...], ...]]


class TermStatistics(Protocol):
    """What an index tells about its terms: how many chunks it holds and in how many each term
    occurs."""

    @property
    def chunk_count(self) -> int: ...

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]: ...


def term_weights(frequencies: dict[str, int], chunk_count: int) -> dict[str, float]:
    """BM25-style inverse document frequency of each term over the index's chunks."""
    total = max(chunk_count, 1)
    return {t: math.log(1.0 + (total - df + 0.5) / (df + 0.5)) for t, df in frequencies.items()}


def variant_of(term: str, terms: frozenset[str]) -> str | None:
    """A term of ``terms`` that is ``term`` or a variant of it, or None.

    Variants share a prefix of at least five letters that covers all but at most one letter
    of the shorter one: "defenc"/"defens", "russia"/"russian", "ukrain"/"ukrainian", but not
    "general"/"generous", nor a verb made with -en ("height"/"heighten"). Of several variants,
    the one sharing the longest prefix (then the first in alphabetical order) is returned, so
    the answer does not depend on set order.
    """
    if term in terms:
        return term
    if len(term) < VARIANT_PREFIX:
        return None
    head = term[:VARIANT_PREFIX]
    best: tuple[int, str] | None = None
    for other in terms:
        if len(other) < VARIANT_PREFIX or other[:VARIANT_PREFIX] != head:
            continue
        if _verb_made_with_en(term, other):
            continue
        shared = VARIANT_PREFIX
        while shared < min(len(term), len(other)) and term[shared] == other[shared]:
            shared += 1
        if shared >= min(len(term), len(other)) - 1 and (best is None or (-shared, other) < best):
            best = (-shared, other)
    return best[1] if best else None


def _verb_made_with_en(a: str, b: str) -> bool:
    """ "heighten" from "height", "threaten" from "threat": a new word, not a form of the old."""
    shorter, longer = sorted((a, b), key=len)
    return longer == shorter + "en"


def related_in(phrases: tuple[tuple[str, ...], ...], terms: frozenset[str]) -> tuple[str, ...] | None:
    """The first relative in ``phrases`` whose every stem is in ``terms``, or None."""
    for phrase in phrases:
        if all(stem in terms for stem in phrase):
            return phrase
    return None
