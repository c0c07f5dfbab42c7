"""Matching a question's terms: word-form variants, relatives, and rarity weights."""

from __future__ import annotations

import pytest

from rag.language.terms import related_in, term_weights, variant_of


@pytest.mark.parametrize(
    ("term", "others", "found"),
    [
        ("defenc", {"defens", "minist"}, "defens"),
        ("russian", {"russia"}, "russia"),
        ("ukrain", {"ukrainian"}, "ukrainian"),
        ("general", {"generous"}, None),
        ("height", {"heighten"}, None),  # a verb made from the noun, not a form of it
        ("threaten", {"threat"}, None),
        ("arm", {"armi"}, None),  # too short to trust a shared prefix
        ("kyiv", {"kyiv"}, "kyiv"),
        ("russian", {"russia", "russians"}, "russians"),  # the longest shared prefix wins
    ],
)
def test_word_form_variants_match_but_different_words_do_not(term, others, found):
    assert variant_of(term, frozenset(others)) == found


def test_a_relative_of_several_words_needs_every_one():
    phrases = (("prison", "war"), ("pow",))
    assert related_in(phrases, frozenset({"prison", "war", "camp"})) == ("prison", "war")
    assert related_in(phrases, frozenset({"pow"})) == ("pow",)
    assert related_in(phrases, frozenset({"prison"})) is None


def test_a_rarer_term_weighs_more():
    weights = term_weights({"putin": 2, "said": 40, "never": 0}, 50)
    assert weights["never"] > weights["putin"] > weights["said"] > 0
